"""Process-level repeats, as pyperf does: the same rounds in several worker processes.

Medians of sub-millisecond ops moved up to 90% between processes on the development machine
(memory layout, allocator state, which kernels were picked), which no number of rounds inside one
process averages out. ``--repeat N`` runs each measurement in N worker processes, one after the
other, and pools their rounds. The workers are started once per command (importing torch takes
seconds) and serve all of its measurements, so a report's many timings share them; they end
with the command. The work is sent as a cloudpickle of the item factory, so anything a command
can time in-process can be timed in a worker.
"""

from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sepprof.errors import UserError
from sepprof.timing.options import Progress, TimingOptions, start_timing_clock, timing_left

TICK = "sepprof-worker-tick "  # a stderr line a worker writes after each round
DONE = "sepprof-worker-done "  # a stderr line a worker writes after each job, with its status
FAILED = 2  # a job's status for a UserError (its message is the line before DONE)
CRASHED = 3  # a job's status for anything else (a traceback precedes DONE)


class Worker:
    """One worker process: it reads jobs (``work out seconds``) from stdin, one per line."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sepprof.timing.repeats"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=_worker_env(),
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, work: Path, out: Path, on_tick: Callable[[str], None]) -> tuple[int, list[str]]:
        """Send one job and wait for it: its status and the other lines the worker wrote."""
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.write(f"{work}\t{out}\t{timing_left()}\n")
        self.proc.stdin.flush()
        lines: list[str] = []
        for line in self.proc.stderr:
            if line.startswith(DONE):
                return int(line[len(DONE) :]), lines
            if line.startswith(TICK):
                on_tick(line[len(TICK) :].strip())
            else:
                lines.append(line.rstrip("\n"))
        return CRASHED, [*lines, f"worker exited with code {self.proc.wait()}"]

    def close(self) -> None:
        """End the worker: EOF on its stdin, then a kill if it has not gone within 5 s."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


_pool: list[Worker] = []


def workers(n: int) -> list[Worker]:
    """``n`` live workers, started on first use (and again if one died)."""
    _pool[:] = [w for w in _pool if w.alive()]
    if not _pool:
        atexit.register(close_workers)
    while len(_pool) < n:
        _pool.append(Worker())
    return _pool[:n]


def close_workers() -> None:
    """End every worker (at exit, or when a caller wants fresh processes)."""
    while _pool:
        _pool.pop().close()


def run_workers(
    make_items: Callable[[str], Any],
    opts: TimingOptions,
    devices: tuple[str, ...],
    n_threads: int,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Each worker's ``rounds.time_devices`` result, for ``opts.repeat`` worker processes."""
    import cloudpickle

    try:
        payload = cloudpickle.dumps((make_items, opts, devices, n_threads))
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise UserError(f"--repeat: cannot send this work to a worker process ({exc})") from None
    results = []
    with tempfile.TemporaryDirectory(prefix="sepprof-repeat-") as tmp:
        work = Path(tmp) / "work.pickle"
        work.write_bytes(payload)
        for index, worker in enumerate(workers(opts.repeat)):
            label = f"process {index + 1} of {opts.repeat}"
            out = Path(tmp) / f"{index}.pickle"
            results.append(_run_one(worker, work, out, opts, label, progress))
    return results


def _run_one(
    worker: Worker,
    work: Path,
    out: Path,
    opts: TimingOptions,
    label: str,
    progress: Progress | None,
) -> dict[str, Any]:
    """Run the job on one worker, forward its ticks to ``progress``, read what it measured."""
    ticks: dict[str, Callable[[], None]] = {}

    def on_tick(device: str) -> None:
        if progress and device not in ticks:
            ticks[device] = progress(f"timing on {device}, {label}", opts.rounds)
        if device in ticks:
            ticks[device]()

    status, lines = worker.run(work, out, on_tick)
    if status == FAILED:
        raise UserError(lines[-1] if lines else f"--repeat: worker ({label}) failed")
    if status != 0:
        worker.close()
        raise RuntimeError(f"timing worker ({label}) failed: {' | '.join(lines[-3:])}")
    return pickle.loads(out.read_bytes())


def _worker_env() -> dict[str, str]:
    """This environment, with the folder sepprof was imported from first on the path (so the
    worker finds the same sepprof even when it is not installed)."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, path) if p)}


def job(work: Path, out: Path, seconds_left: float) -> int:
    """In a worker: time what ``work`` holds and write the result to ``out``; the status."""
    from sepprof.timing.rounds import time_devices
    from sepprof.timing.timer import tune_allocator

    start_timing_clock(seconds_left)
    try:
        make_items, opts, devices, n_threads = pickle.loads(work.read_bytes())
    except Exception as exc:  # e.g. a model class defined in a file the worker cannot import
        print(
            f"--repeat: a worker process cannot load this work ({exc}); use --repeat 1",
            file=sys.stderr,
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
        print(exc, file=sys.stderr)
        return FAILED
    out.write_bytes(pickle.dumps(result))
    return 0


def serve() -> None:
    """A worker's loop: one job per stdin line until EOF, each answered by a DONE line."""
    for line in sys.stdin:
        work, out, seconds = line.rstrip("\n").split("\t")
        try:
            status = job(Path(work), Path(out), float(seconds))
        except Exception:
            traceback.print_exc()
            status = CRASHED
        print(f"{DONE}{status}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    serve()
