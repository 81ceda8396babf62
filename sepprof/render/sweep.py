"""What ``sepprof sweep`` prints: one row per grid point and variant, theory vs counted (vs
measured, when timed)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from sepprof.render.fit import FitTable, new_table
from sepprof.render.formats import ratio, share, speed_of
from sepprof.results import SweepResult

SHAPE = [("k", 0), ("cin", 3), ("cout", 0), ("size", 4)]


def sweep_devices(result: SweepResult) -> list[str]:
    return sorted({d for p in result.points for c in p.comparisons for d in c.speedup})


def sweep_table(result: SweepResult, wide: bool = False) -> FitTable:
    """Ratios of every variant to standard at every point; speed and the realised share of the
    MAC cut per device timed."""
    devices = sweep_devices(result)
    measured = " and measured speed" if devices else ""
    table = new_table(f"Sweep: cost as a fraction of standard (theory, counted){measured}", wide)
    for name, priority in SHAPE:
        table.add_column(name, justify="right", no_wrap=True, priority=priority)
    table.add_column("variant", no_wrap=True)
    table.add_column("theory", justify="right", no_wrap=True)
    table.add_column("MACs", justify="right", no_wrap=True)
    table.add_column("traced\nMACs", justify="right", no_wrap=True, priority=2)
    table.add_column("params", justify="right", no_wrap=True, priority=1)
    for d in devices:
        table.add_column(f"speed {d}", justify="right", no_wrap=True)
        table.add_column(f"% of cut\n{d}", justify="right", no_wrap=True, priority=5)
    for p in result.points:
        s = p.spec
        for c in p.comparisons:
            cells = [str(s["k"]), str(s["cin"]), str(s["cout"]), str(s["size"]), c.variant]
            cells += [ratio(x) for x in (c.theory_ratio, c.macs_ratio, c.traced_ratio)]
            cells.append(ratio(c.params_ratio))
            for d in devices:
                trusted = d in c.speedup and c.speedup[d].trusted
                cells += [speed_of(c, d), share(c.realised[d], 0) if trusted else "—"]
            table.add_row(*cells)
    return table


def sweep_view(result: SweepResult, wide: bool = False) -> RenderableType:
    """The sweep table, what its numbers mean, and the notes."""
    legend = (
        "theory, MACs, traced MACs and params are variant / standard (lower is cheaper; theory "
        "1/Cout + 1/k² for separable, 1/g for grouped)"
    )
    if sweep_devices(result):
        legend += (
            "; '% of cut' = speedup x MAC fraction, the share of the MAC reduction that "
            "shows up as speed"
        )
    notes = [Text(n, style="dim") for n in result.notes]
    return Group(sweep_table(result, wide), Text(legend, style="dim"), *notes)
