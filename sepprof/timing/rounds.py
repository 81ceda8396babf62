"""One process's timing: every item on each device, measured in the same rounds, with the CPU
other processes used meanwhile. ``measure.time_all`` runs it here, or in each worker process
(``workers``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sepprof.backends.prepare import backend_facts
from sepprof.results import Latency
from sepprof.timing.contention import Meter
from sepprof.timing.options import Progress, TimingOptions
from sepprof.timing.timer import measure
from sepprof.timing.timer import threads as torch_threads

Items = dict[str, Callable[[], Any]]


def paired_order(items: Items) -> Items:
    """Whole variants and networks first, in the order given, then stages (``name/stage``): the
    items a speedup compares are timed back to back in every round."""
    return dict(sorted(items.items(), key=lambda kv: "/" in kv[0]))


@dataclass(frozen=True)
class DeviceRun:
    """One device's latencies from one process, the cores others used while it timed, and
    what preparing its items found (``backends.backend_facts``: compile seconds, checks)."""

    latency: dict[str, Latency]
    during: float | None
    backend: dict[str, dict[str, Any]] = field(default_factory=dict)


def time_devices(
    make_items: Callable[[str], Items],
    opts: TimingOptions,
    devices: tuple[str, ...],
    n_threads: int,
    progress: Progress | None = None,
) -> dict[str, DeviceRun]:
    """Time every item on each device in this process, metering others' CPU use meanwhile."""
    runs = {}
    for device in devices:
        slow = progress and opts.backend != "eager"  # compiling or exporting takes a while
        built = progress(f"preparing items on {device} ({opts.backend})", 1) if slow else None
        with torch_threads(n_threads):  # compiled kernels and ORT sessions keep this count
            items = paired_order(make_items(device))
        if built:
            built()
        tick = progress(f"timing {len(items)} items on {device}", opts.rounds) if progress else None
        meter = Meter().start()
        latency = measure(
            items,
            device=device,
            n_threads=n_threads,
            rounds=opts.rounds,
            min_time=opts.min_time,
            on_round=tick,
        )
        runs[device] = DeviceRun(latency, meter.stop(), backend_facts(items))
    return runs
