"""Latency measurement in rounds on ``torch.utils.benchmark``, with the allocator under control.

Each round takes one adaptive measurement of every item in turn, so drift hits all items alike;
the result is the median of round medians. Callers put the items a speedup compares next to each
other, and every other round runs in reverse order (A B, B A, ...), so each round's ratio is of
two back-to-back measurements and a steady drift cancels over rounds. Items are never alternated
call by call (that evicts caches and lowered the standard/separable ratio by 20-25% on the
development machine). The thread count is passed to ``Timer`` explicitly: it defaults to one
thread and overrides ``torch.set_num_threads``. All timing in one command shares one cap
(``options.TIMING_CAP``, 10 minutes).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from sepprof.errors import UserError
from sepprof.models.variants import DTYPES
from sepprof.results import Latency
from sepprof.timing.options import ROUNDS, timing_left


class _NoCudaRuntimeNotice(logging.Filter):
    """Drops the one record ``torch.utils.cpp_extension`` logs when imported by a CUDA build of
    torch on a machine without a GPU ("No CUDA runtime is found, using CUDA_HOME=..."):
    ``Timer``'s module imports ``cpp_jit``, which imports ``cpp_extension`` (for C++ timing,
    which sepprof never uses). Every other record of that logger passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("No CUDA runtime is found")


def _import_timer() -> type:
    """``torch.utils.benchmark.Timer``, imported with ``_NoCudaRuntimeNotice`` on its logger."""
    log = logging.getLogger("torch.utils.cpp_extension")
    log.addFilter(quiet := _NoCudaRuntimeNotice())
    try:
        from torch.utils.benchmark import Timer
    finally:
        log.removeFilter(quiet)
    return Timer


Timer = _import_timer()

# glibc mallopt parameters and the values sepprof sets (see ``tune_allocator``).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 << 20  # glibc's ceiling for this setting on 64-bit
_TRIM_THRESHOLD = 1 << 30
TIMEOUT = 600.0  # seconds one ``measure`` call may take (less when the command's cap is nearer)


_allocator_state = "system"


def tune_allocator() -> str:
    """Raise glibc's mmap and trim thresholds so large conv temporaries stay mapped between calls.

    With the defaults, every CPU conv call mapped and unmapped its temporaries and the page
    faults swamped the kernel (a depthwise 3x3 took 0.3 ms or 3-6 ms at random). Returns a
    description of the allocator state for the environment block.
    """
    global _allocator_state
    if _allocator_state != "system":
        return _allocator_state
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        _allocator_state = "system (not glibc: thresholds left as they are)"
        return _allocator_state
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    ok = libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) and libc.mallopt(
        _M_TRIM_THRESHOLD, _TRIM_THRESHOLD
    )
    _allocator_state = (
        f"glibc, mmap threshold {_MMAP_THRESHOLD >> 20} MiB, trim threshold "
        f"{_TRIM_THRESHOLD >> 30} GiB"
        if ok
        else "system (mallopt refused)"
    )
    return _allocator_state


def check_device(device: str, dtype: str) -> None:
    """Refuse a device that is absent or a dtype it cannot run, before anything is allocated."""
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "--device cuda: no CUDA device is available (torch "
            f"{torch.__version__}, built with CUDA {torch.version.cuda or 'none'})"
        )
    if device not in ("cpu", "cuda"):
        raise UserError(f"--device: unknown device {device!r} (valid: cpu, cuda, all)")
    if device == "cuda" and dtype == "bf16" and not torch.cuda.is_bf16_supported():
        raise UserError("--dtype bf16: this CUDA device does not support bfloat16")
    try:
        x = torch.ones(1, 2, 4, 4, device=device, dtype=DTYPES[dtype])
        w = torch.ones(2, 1, 3, 3, device=device, dtype=DTYPES[dtype])
        torch.nn.functional.conv2d(x, w, groups=2)
        torch.nn.functional.conv2d(x, w.reshape(1, 2, 3, 3))
    except RuntimeError as exc:
        reason = str(exc).splitlines()[0]
        raise UserError(
            f"--dtype {dtype}: {device} cannot run convolutions in it ({reason})"
        ) from None


def available_devices() -> tuple[str, ...]:
    """The devices ``--device all`` means here."""
    return ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)


@contextmanager
def threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def warm_up(fn: Callable[[], object], device: str, seconds: float = 0.02) -> None:
    """Call ``fn`` at least twice and for at least ``seconds`` (kernel selection, caches)."""
    start, calls = time.perf_counter(), 0
    while calls < 2 or time.perf_counter() - start < seconds:
        fn()
        calls += 1
    _sync(device)


def run_block(timer: Timer, number: int) -> float:
    """Seconds for one block of ``number`` calls, CUDA synchronised by Timer's clock.

    ``Timer.timeit`` would first run max(number // 100, 2) warm-up calls on every block, which
    triples the work for slow ops; Timer's own block runner (used by its autorange methods)
    does not, and the caller has set the thread count already.
    """
    return timer._timeit(number)


def block_size(timer: Timer, target: float = 1e-3) -> int:
    """Calls per timed block so that a block lasts at least ``target`` seconds, which keeps the
    timer's own overhead under ~0.1% even for microsecond ops."""
    number = 1
    while number < 1 << 20:
        seconds = run_block(timer, number)
        if seconds >= target:
            break
        number = max(2 * number, int(number * target * 1.2 / max(seconds, 1e-9)))
    return number


def timed_round(
    timer: Timer, number: int, min_time: float, max_time: float, threshold: float = 0.1
) -> list[float]:
    """Per-call seconds of blocks of ``number`` calls: at least 3 blocks and ``min_time``, then
    stop as soon as the blocks' IQR is under ``threshold`` of their median, or at ``max_time``."""
    times: list[float] = []
    total = 0.0
    while True:
        seconds = run_block(timer, number)
        times.append(seconds / number)
        total += seconds
        if total >= max_time:
            return times
        if len(times) >= 3 and total >= min_time:
            q = statistics.quantiles(times, n=4, method="inclusive")
            if (q[2] - q[0]) <= threshold * statistics.median(times):
                return times


def measure(
    items: dict[str, Callable[[], object]],
    *,
    device: str,
    n_threads: int,
    rounds: int = ROUNDS,
    min_time: float = 0.05,
    on_round: Callable[[], None] | None = None,
) -> dict[str, Latency]:
    """Time each callable in ``rounds`` rounds: each round takes one adaptive blocked measurement
    of every item in turn (in reverse order every other round); an item's latency is the median
    of its round medians, and round ``i`` of every item comes from the same pass."""
    timers = {
        name: Timer("fn()", globals={"fn": fn}, num_threads=n_threads) for name, fn in items.items()
    }
    medians: dict[str, list[float]] = {name: [] for name in items}
    runs = dict.fromkeys(items, 0)
    limit, start = min(TIMEOUT, timing_left()), time.perf_counter()
    with torch.inference_mode(), threads(n_threads):
        for fn in items.values():
            warm_up(fn, device)
        numbers = {name: block_size(timer) for name, timer in timers.items()}
        for index in range(rounds):
            for name in round_order(list(timers), index):
                times = timed_round(timers[name], numbers[name], min_time, 4 * min_time)
                medians[name].append(statistics.median(times) * 1e3)
                runs[name] += numbers[name] * len(times)
                if time.perf_counter() - start > limit:
                    raise UserError(
                        f"timing stopped after {limit:.0f} s (at {name!r}): use fewer "
                        "--rounds or --processes, a smaller --min-time, a smaller layer or "
                        "--no-time"
                    )
            if on_round:
                on_round()
    return {name: Latency.from_rounds(medians[name], runs[name]) for name in items}


def round_order(names: list[str], index: int) -> list[str]:
    """The order of round ``index``: as given on even rounds, reversed on odd ones, so pairs stay
    adjacent and a steady drift falls on each side of a ratio alike over two rounds."""
    return names if index % 2 == 0 else names[::-1]
