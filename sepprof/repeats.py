"""Process-level repeats, as pyperf does: the same rounds in several fresh worker processes.

Medians of sub-millisecond ops moved up to 90% between processes on the development machine
(memory layout, allocator state, which kernels were picked), which no number of rounds inside one
process averages out. ``--repeat N`` runs the measurement in N fresh Python processes one after
the other and pools their rounds. The work is sent as a cloudpickle of the item factory, so
anything a command can time in-process can be timed in a worker.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sepprof.errors import UserError
from sepprof.options import TimingOptions, start_timing_clock, timing_left
from sepprof.pipeline import Progress

TICK = "sepprof-worker-tick "  # a stderr line a worker writes after each round
FAILED = 2  # a worker's exit code for a UserError (its message is the last stderr line)


def run_workers(
    make_items: Callable[[str], Any],
    opts: TimingOptions,
    devices: tuple[str, ...],
    n_threads: int,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Each worker's ``measure.time_devices`` result, for ``opts.repeat`` fresh processes."""
    import cloudpickle

    try:
        payload = cloudpickle.dumps((make_items, opts, devices, n_threads))
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise UserError(f"--repeat: cannot send this work to a worker process ({exc})") from None
    results = []
    with tempfile.TemporaryDirectory(prefix="sepprof-repeat-") as tmp:
        work = Path(tmp) / "work.pickle"
        work.write_bytes(payload)
        for index in range(opts.repeat):
            label = f"process {index + 1} of {opts.repeat}"
            results.append(_run_one(work, Path(tmp) / f"{index}.pickle", opts, label, progress))
    return results


def _run_one(
    work: Path, out: Path, opts: TimingOptions, label: str, progress: Progress | None
) -> dict[str, Any]:
    """Start one worker, forward its ticks to ``progress``, and read back what it measured."""
    cmd = [sys.executable, "-m", "sepprof.repeats", str(work), str(out), str(timing_left())]
    ticks: dict[str, Callable[[], None]] = {}
    lines: list[str] = []
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_worker_env()
    )
    try:
        for line in proc.stderr or ():
            if line.startswith(TICK):
                device = line[len(TICK) :].strip()
                if progress and device not in ticks:
                    ticks[device] = progress(f"timing on {device}, {label}", opts.rounds)
                if device in ticks:
                    ticks[device]()
            else:
                lines.append(line.rstrip("\n"))
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if code == FAILED:
        raise UserError(lines[-1] if lines else f"--repeat: worker ({label}) failed")
    if code != 0:
        tail = " | ".join(lines[-3:])
        raise RuntimeError(f"timing worker ({label}) exited with code {code}: {tail}")
    return pickle.loads(out.read_bytes())


def _worker_env() -> dict[str, str]:
    """This environment, with the folder sepprof was imported from first on the path (so the
    worker finds the same sepprof even when it is not installed)."""
    root = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, path) if p)}


def worker(work: Path, out: Path, seconds_left: float) -> int:
    """Run in a fresh process: time what ``work`` holds, write the result to ``out``."""
    from sepprof.measure import time_devices
    from sepprof.timing import tune_allocator

    start_timing_clock(seconds_left)
    try:
        make_items, opts, devices, n_threads = pickle.loads(work.read_bytes())
    except Exception as exc:  # e.g. a model class defined in a file the worker cannot import
        print(
            f"--repeat: a worker process cannot load this work ({exc}); use --repeat 1",
            file=sys.stderr,
            flush=True,
        )
        return FAILED
    if opts.allocator == "tuned":
        tune_allocator()

    def progress(label: str, total: int) -> Callable[[], None]:
        device = label.rsplit(" ", 1)[-1]
        return lambda: print(f"{TICK}{device}", file=sys.stderr, flush=True)

    try:
        result = time_devices(make_items, opts, devices, n_threads, progress)
    except UserError as exc:
        print(exc, file=sys.stderr, flush=True)
        return FAILED
    out.write_bytes(pickle.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(worker(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])))
