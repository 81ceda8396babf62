"""The drift store: every timed estimate this machine produced, so that the next command's
interval can include the drift between commands (``results.drift`` holds the arithmetic).

Kept beside the calibration in sepprof's cache folder (``drift.json``), per machine (CPU or GPU
model, threads, torch version), at most ``KEEP`` runs each, written atomically. Only estimates
timed without contention are stored: a contended run says nothing about a quiet machine's
drift. Reading a missing or damaged store gives an empty history, never an error.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sepprof.environment import version
from sepprof.errors import UserError
from sepprof.files import write_atomic
from sepprof.results.drift import Drift, Run, learn
from sepprof.results.latency import Latency, Speedup, by_process, hierarchical_interval
from sepprof.timing.calibration import cache_dir, device_name

KEEP = 400  # runs kept per machine (the oldest go first)
SPEEDUP, LATENCY = "speedup", "latency"  # the kinds of estimate, learned apart
Estimate = tuple[float, tuple[float, ...], tuple[int, ...]]  # value, rounds, rounds per process


def store_file() -> Path:
    return cache_dir() / "drift.json"


def machine_key(device: str, threads: int) -> str:
    return f"{device}|{device_name(device)}|{threads} threads|torch {version('torch')}"


def _read() -> dict[str, Any]:
    try:
        data = json.loads(store_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _runs(entries: Any) -> list[Run]:
    """The stored runs that are well formed (anything else in the file is skipped)."""
    runs = []
    for e in entries if isinstance(entries, list) else []:
        try:
            run = Run(str(e["key"]), float(e["log_value"]), float(e["log_half"]))
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(run.log_value) and math.isfinite(run.log_half):
            runs.append(run)
    return runs


def load_drift(device: str, threads: int, kind: str = SPEEDUP, item: str = "") -> Drift:
    """The drift of one kind of estimate (speedups or latencies) learned from this machine's
    earlier runs: the item's own (its keys start with ``item``, as ``record`` was given them)
    when it has enough repeats, else the machine's pooled drift."""
    runs = _runs(_read().get(machine_key(device, threads)))
    prefix = kind + "|"
    return learn((r for r in runs if r.key.startswith(prefix)), prefix + item if item else "")


def speedup_estimates(speedups: dict[str, Speedup]) -> dict[str, Estimate]:
    """What ``record`` stores of speedups: the uncontended ones, under ``speedup|key``."""
    return {
        f"{SPEEDUP}|{key}": (s.value, s.ratios, s.processes)
        for key, s in speedups.items()
        if not s.reason.startswith("contended")
    }


def latency_estimates(latencies: dict[str, Latency]) -> dict[str, Estimate]:
    """What ``record`` stores of latencies: the uncontended ones, under ``latency|key``."""
    return {
        f"{LATENCY}|{key}": (lat.median, lat.rounds, lat.processes)
        for key, lat in latencies.items()
        if not lat.contention
    }


def record(device: str, threads: int, estimates: dict[str, Estimate]) -> None:
    """Store each estimate (value, its rounds, rounds per process) under its key."""
    new = [
        {"key": key, "log_value": math.log(value), "log_half": _own_log_half(samples, procs)}
        for key, (value, samples, procs) in estimates.items()
        if value > 0 and len(samples) > 1 and min(samples) > 0
    ]
    if not new:
        return
    data = _read()
    machine = machine_key(device, threads)
    kept = [e for e in data.get(machine, []) if isinstance(e, dict)] + new
    data[machine] = kept[-KEEP:]
    # a read-only cache folder costs the next command its drift, nothing else
    with contextlib.suppress(OSError, UserError):
        write_atomic(store_file(), json.dumps(data))


def _own_log_half(samples: tuple[float, ...], processes: tuple[int, ...]) -> float:
    """Half the width, on the log scale, of the run's own interval: from its rounds alone,
    before any drift was added (the same fixed-seed bootstrap)."""
    low, high = hierarchical_interval(by_process(list(samples), processes))
    return (math.log(high) - math.log(low)) / 2


PROBE_KEY = "probe|k=3 cin=256 cout=256 size=56|standard->separable"


def probe(device: str, threads: int, seconds: float, tick: Callable[[], None] | None = None) -> int:
    """A short drift probe for a machine with no history yet: the worked example's standard and
    separable variants timed in short paired measurements (5 rounds each) back to back for
    ``seconds``, every one stored as a run, so that the next command has a drift to add. Returns
    how many runs were stored; ``tick`` is called once a second."""
    import time

    import torch

    from sepprof.models.variants import build_block, random_input
    from sepprof.spec.blocks import layer_variant
    from sepprof.spec.layer import LayerSpec, parse_variants
    from sepprof.timing.contention import Contention, Meter, others_cpu
    from sepprof.timing.options import default_threads
    from sepprof.timing.timer import measure, tune_allocator

    tune_allocator()  # as a compare times, by default
    layer = LayerSpec(k=3, cin=256, cout=256, size=56)
    blocks = [layer_variant(layer, v) for v in parse_variants("standard,separable", layer)]
    modules = [build_block(b).to(device) for b in blocks]
    x = random_input(1, blocks[0].inp, device)
    items = {b.name: (lambda m=m: m(x)) for b, m in zip(blocks, modules, strict=True)}
    stored, ticked, start = 0, 0, time.monotonic()
    with torch.inference_mode():
        while time.monotonic() < start + seconds:
            before, meter = others_cpu(), Meter().start()
            lat = measure(items, device=device, n_threads=threads, rounds=5, min_time=0.02)
            busy = Contention(device, threads, default_threads(), before, meter.stop())
            if not busy.reason:  # a contended run teaches nothing of a quiet machine's drift
                speedup = Speedup.of(lat["standard"], lat["separable"])
                record(device, threads, speedup_estimates({PROBE_KEY: speedup}))
                stored += 1
            while tick and ticked < min(seconds, time.monotonic() - start):
                tick()
                ticked += 1
    return stored
