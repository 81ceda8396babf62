"""What ``sepprof calibrate`` prints: every measurement, the roof chosen and its ridge point."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from sepprof.render.fit import new_table
from sepprof.render.formats import number


def calibration_view(cal: Any, wide: bool = False) -> RenderableType:
    """A calibration (``calibration.Calibration``): rates measured, peak, bandwidths, ridge."""
    table = new_table(
        f"Calibration of {cal.device} ({cal.device_name}), {cal.dtype}, {cal.threads} threads, "
        f"torch {cal.torch}",
        wide,
    )
    table.add_column("measurement", no_wrap=True)
    table.add_column("rate", justify="right", no_wrap=True)
    for name, rate in sorted(cal.flops.items(), key=lambda kv: kv[1]):
        mark = "  ← peak" if name == cal.peak_source else ""
        table.add_row(name, f"{rate / 1e9:.1f} GFLOP/s{mark}")
    for name, rate in sorted(cal.bandwidths.items()):
        table.add_row(name, f"{rate / 1e9:.1f} GB/s")
    cache = (
        f"; cache bandwidth {cal.cache_bandwidth / 1e9:.1f} GB/s over buffers fitting the "
        f"{number(cal.cache_bytes)}B last-level cache"
        if cal.cache_bandwidth
        else ""
    )
    summary = Text(
        f"roof: peak {cal.peak_flops / 1e9:.1f} GFLOP/s, DRAM bandwidth "
        f"{cal.dram_bandwidth / 1e9:.1f} GB/s, ridge {cal.ridge:.1f} FLOP/byte{cache}. The "
        "roofline assumes DRAM bandwidth: ops whose tensors fit in cache can exceed it."
    )
    return Group(table, summary)
