"""``sepprof calibrate``: this machine's peak FLOP/s and memory bandwidth, per device and dtype.

One matmul size understates the peak (a 2048^2 mm reached 186 GFLOP/s on the development machine
while a 3x3 conv reached 230), so the peak is the best of several matmul sizes and a large
standard convolution. Bandwidth is the best of a copy and an add over buffers far larger than the
last-level cache (DRAM), and again over buffers that fit in it (cache), so a roofline can say
which level it assumes. Each rate is the best of several rounds (noise only ever slows a
measurement down). Results are stored in the user's cache folder, keyed by machine, device, dtype,
threads and torch version; a calibration measured while other processes held the cores, or over
20% below the stored one, does not replace it without ``force`` (one taken under load read
97 GFLOP/s and 8 GB/s, and every later roofline used it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sepprof.environment import cpu_model, version
from sepprof.files import write_atomic
from sepprof.results.calibration import Calibration
from sepprof.timing.contention import Contention, Meter, others_cpu
from sepprof.timing.options import default_threads
from sepprof.units import DTYPE_BYTES

DRAM_BUFFER = {"cpu": 256 << 20, "cuda": 1 << 30}


def cache_dir() -> Path:
    """``$SEPPROF_CACHE_DIR``, else ``$XDG_CACHE_HOME/sepprof``, else ``~/.cache/sepprof``."""
    if os.environ.get("SEPPROF_CACHE_DIR"):
        return Path(os.environ["SEPPROF_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sepprof"


def calibration_file() -> Path:
    return cache_dir() / "calibration.json"


def device_name(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name(0)
    return cpu_model()


def calibration_key(device: str, dtype: str, threads: int) -> str:
    return f"{device}|{device_name(device)}|{dtype}|{threads} threads|torch {version('torch')}"


def _read_all() -> dict[str, Any]:
    try:
        data = json.loads(calibration_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load_calibration(device: str, dtype: str, threads: int) -> Calibration | None:
    """The stored calibration for this machine, device, dtype and thread count, if any."""
    entry = _read_all().get(calibration_key(device, dtype, threads))
    try:
        return Calibration.from_dict(entry) if isinstance(entry, dict) else None
    except TypeError:
        return None


def save_calibration(cal: Calibration) -> Path:
    """Store ``cal`` beside any others (atomically)."""
    data = _read_all()
    data[calibration_key(cal.device, cal.dtype, cal.threads)] = cal.to_dict()
    return write_atomic(calibration_file(), json.dumps(data, indent=2))


def last_level_cache_bytes() -> int | None:
    """Size of the largest CPU cache (L3 on most machines), from sysfs."""
    best = None
    root = Path("/sys/devices/system/cpu/cpu0/cache")
    for index in root.glob("index*"):
        try:
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        size = int(text.rstrip("KMG")) * scale
        best = max(best or 0, size)
    return best


def _flop_items(device: str, dtype: str, quick: bool) -> dict[str, tuple[Callable[[], Any], float]]:
    """Candidate peak measurements: name -> (callable, FLOPs per call)."""
    import torch

    from sepprof.models.variants import DTYPES

    t = DTYPES[dtype]
    items: dict[str, tuple[Callable[[], Any], float]] = {}
    sizes = (512, 1024, 2048) if device == "cpu" else (2048, 4096, 8192)
    sizes = sizes[1:2] if quick else sizes
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=t)
        b = torch.randn(n, n, device=device, dtype=t)
        items[f"mm {n}x{n}"] = (lambda a=a, b=b: a @ b, 2.0 * n**3)
    batch = 1 if device == "cpu" else 32
    conv = torch.nn.Conv2d(256, 256, 3, padding=1, bias=False).to(device=device, dtype=t).eval()
    x = torch.randn(batch, 256, 56, 56, device=device, dtype=t)
    items[f"conv 3x3 256ch 56x56 batch {batch}"] = (
        lambda: conv(x),
        2.0 * batch * 256**2 * 9 * 56**2,
    )
    return items


def _bandwidth_items(
    device: str, dtype: str, nbytes: int
) -> dict[str, tuple[Callable[[], Any], float]]:
    """Candidate bandwidth measurements over ``nbytes`` buffers: name -> (callable, bytes moved)."""
    import torch

    from sepprof.models.variants import DTYPES

    n = nbytes // DTYPE_BYTES[dtype]
    a = torch.ones(n, device=device, dtype=DTYPES[dtype])
    b = torch.ones(n, device=device, dtype=DTYPES[dtype])
    c = torch.empty_like(a)
    return {
        "copy": (lambda: c.copy_(a), 2.0 * nbytes),
        "add": (lambda: torch.add(a, b, out=c), 3.0 * nbytes),
    }


def _rates(
    items: dict[str, tuple[Callable[[], Any], float]],
    device: str,
    threads: int,
    tick: Callable[[], None] | None,
    quick: bool = False,
) -> dict[str, float]:
    """Work per second of each item (FLOP/s or bytes/s), from the best of its rounds."""
    from sepprof.timing.timer import measure

    latency = measure(
        {k: fn for k, (fn, _) in items.items()},
        device=device,
        n_threads=threads,
        rounds=2 if quick else 3,
        min_time=0.03 if quick else 0.1,
        on_round=tick,
    )
    return {k: work / (min(latency[k].rounds) / 1e3) for k, (_, work) in items.items()}


def calibrate(
    device: str,
    dtype: str,
    threads: int,
    tick: Callable[[], None] | None = None,
    quick: bool = False,
) -> Calibration:
    """Measure peak FLOP/s and DRAM (and cache) bandwidth on ``device``, with the cores other
    processes used before, during and after; ``quick`` measures fewer sizes for fewer rounds."""
    from sepprof.timing.timer import check_device, tune_allocator

    check_device(device, dtype)
    tune_allocator()
    before, meter = others_cpu(), Meter().start()
    cal = _measure(device, dtype, threads, tick, quick)
    during = meter.stop()
    state = Contention(device, threads, default_threads(), before, during, others_cpu())
    return replace(cal, other_cpu_cores=state.to_dict(), contention=state.reason)


def _measure(
    device: str, dtype: str, threads: int, tick: Callable[[], None] | None, quick: bool
) -> Calibration:
    flops = _rates(_flop_items(device, dtype, quick), device, threads, tick, quick)
    dram_buffer = DRAM_BUFFER[device] // (4 if quick else 1)
    dram = _rates(_bandwidth_items(device, dtype, dram_buffer), device, threads, tick, quick)
    bandwidths = {f"{k} DRAM": v for k, v in dram.items()}
    cache = last_level_cache_bytes() if device == "cpu" else None
    if cache:
        cached = _rates(_bandwidth_items(device, dtype, cache // 4), device, threads, tick, quick)
        bandwidths.update({f"{k} cache": v for k, v in cached.items()})
    peak_source = max(flops, key=flops.__getitem__)
    dram = max(v for k, v in bandwidths.items() if k.endswith("DRAM"))
    in_cache = [v for k, v in bandwidths.items() if k.endswith("cache")]
    return Calibration(
        device=device,
        device_name=device_name(device),
        dtype=dtype,
        threads=threads,
        torch=version("torch") or "",
        peak_flops=flops[peak_source],
        peak_source=peak_source,
        dram_bandwidth=dram,
        cache_bandwidth=max(in_cache) if in_cache else None,
        cache_bytes=cache,
        flops=flops,
        bandwidths=bandwidths,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


MAX_DROP = 0.20  # a new calibration this much below the stored one is suspect


def refusal(new: Calibration, old: Calibration | None) -> str:
    """Why ``new`` must not replace ``old`` without ``--force`` (empty: it may)."""
    if new.contention:
        return f"measured under load ({new.contention.removeprefix('contended: ')})"
    if old is None:
        return ""
    for what, now, before in (
        ("peak", new.peak_flops, old.peak_flops),
        ("DRAM bandwidth", new.dram_bandwidth, old.dram_bandwidth),
    ):
        if before and now < (1 - MAX_DROP) * before:
            return (
                f"its {what} is {1 - now / before:.0%} below the stored one (measured "
                f"{old.created or 'earlier'}): was the machine busy?"
            )
    return ""


def roof_for(
    device: str,
    dtype: str,
    threads: int,
    quick: bool = False,
    tick: Callable[[], None] | None = None,
) -> tuple[Calibration, str]:
    """The stored calibration, else one measured now and not stored, with a line saying which
    (for a report's header: where its roofline came from)."""
    stored = load_calibration(device, dtype, threads)
    if stored is not None:
        when = f" of {stored.created}" if stored.created else ""
        return stored, f"stored calibration{when} (`sepprof calibrate`)"
    cal = calibrate(device, dtype, threads, tick, quick)
    load = f"; {cal.contention}" if cal.contention else ""
    return cal, (
        f"measured for this report{' (quick)' if quick else ''} and not stored{load}: run "
        "`sepprof calibrate` on a quiet machine to store one"
    )
