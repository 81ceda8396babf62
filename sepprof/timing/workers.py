"""Worker processes, as pyperf does: the same rounds in several fresh processes, so that an
interval samples what differs between processes (memory layout, allocator state, the kernels
picked), which no number of rounds inside one process averages out.

Each worker is forked from a fork server (multiprocessing's "forkserver": one fresh interpreter
per command that imports torch and sepprof's timing once, before any thread pool starts), so a
worker costs a fork, not an interpreter start and a torch import. ``warm_up`` starts the server
in the background early (``compare`` does it before tracing, so the import overlaps the trace).
Workers run one after the other, never side by side (they would share the cores they measure).
The work is sent as a cloudpickle of the item factory, so anything a command can time in-process
can be timed in a worker.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sepprof.errors import UserError
from sepprof.timing.options import Progress, TimingOptions, start_timing_clock, timing_left

PRELOAD = ["torch", "cloudpickle", "sepprof.timing.rounds"]
ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds this ``sepprof``


def _context() -> Any:
    """The fork-server context (a fresh process per worker, torch imported once); spawn where
    the platform has no fork server."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def warm_up() -> None:
    """Start the fork server now: it imports torch in the background while this process goes on
    (starting it is a fork and exec; its imports are its own)."""
    if _context().get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    # Python 3.11's fork server ignores the sys.path it is sent: put the folder this sepprof
    # was imported from first on its PYTHONPATH, so workers run this same code.
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, old) if p)
    try:
        forkserver.ensure_running()
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


def ready() -> None:
    """Wait until the fork server has imported what it preloads (it forks only after that), so
    that its import is not mistaken for another process's CPU use when threads are chosen."""
    ctx = _context()
    warm_up()
    proc = ctx.Process(target=_nothing, daemon=True)
    _start(proc)
    proc.join()


def _nothing() -> None:
    """A worker that does nothing (``ready``'s probe)."""


def run_workers(
    make_items: Callable[[str], Any],
    opts: TimingOptions,
    devices: tuple[str, ...],
    n_threads: int,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Each worker's ``rounds.time_devices`` result, for ``opts.processes`` fresh processes."""
    import cloudpickle

    try:
        payload = cloudpickle.dumps((make_items, opts, devices, n_threads))
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise UserError(f"--processes: cannot send this work to a worker process ({exc})") from None
    n = opts.processes
    return [_run_one(payload, opts, f"process {i + 1} of {n}", progress) for i in range(n)]


def _run_one(payload: bytes, opts: TimingOptions, label: str, progress: Progress | None) -> Any:
    """Fork one worker, forward its ticks to ``progress``, return what it measured."""
    ctx = _context()
    warm_up()  # a no-op once the server runs
    ours, theirs = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=job, args=(payload, theirs, timing_left()), daemon=True)
    ticks: dict[str, Callable[[], None]] = {}
    try:
        _start(proc)
        theirs.close()
        while True:
            kind, value = _receive(ours, proc, label)
            if kind != "tick":
                return _answer(kind, value, label)
            if progress and value not in ticks:
                ticks[value] = progress(f"timing on {value}, {label}", opts.rounds)
            if value in ticks:
                ticks[value]()
    finally:
        if proc.pid is not None:  # started
            if proc.is_alive():
                proc.terminate()
            proc.join()


def _start(proc: Any) -> None:
    """Start a worker with Ctrl-C held back until it is started and known (then raised): an
    interrupt in the middle of a start left the fork server a request without its file
    descriptors, and it printed an EOFError after "interrupted". (A Python-level handler, since
    any thread may be the one the signal lands on.)"""
    caught: list[int] = []
    try:
        old = signal.signal(signal.SIGINT, lambda *_: caught.append(1))
    except ValueError:  # not the main thread: nothing to hold back
        proc.start()
        return
    try:
        proc.start()
    finally:
        signal.signal(signal.SIGINT, old)
    if caught:
        raise KeyboardInterrupt


def _receive(conn: Any, proc: Any, label: str) -> tuple[str, Any]:
    try:
        return conn.recv()
    except EOFError:
        proc.join()
        return "crashed", f"worker exited with code {proc.exitcode}"


def _answer(kind: str, value: Any, label: str) -> Any:
    """A worker's last message: its result, or the error it ended with."""
    if kind == "done":
        return pickle.loads(value)
    if kind == "failed":
        raise UserError(value)
    raise RuntimeError(f"timing worker ({label}) failed: {value}")


def job(payload: bytes, conn: Any, seconds_left: float) -> None:
    """In a worker: time what ``payload`` holds and send the result (or the error) back. Its
    prints go to stderr (stdout may be carrying a JSON document); Ctrl-C is the parent's to
    handle (it ends the worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.dup2(2, 1)
    start_timing_clock(seconds_left)
    try:
        conn.send(_job(payload, conn))
    except Exception:
        conn.send(("crashed", traceback.format_exc()))
    finally:
        conn.close()


def _job(payload: bytes, conn: Any) -> tuple[str, Any]:
    from sepprof.timing.rounds import time_devices
    from sepprof.timing.timer import tune_allocator

    try:
        make_items, opts, devices, n_threads = pickle.loads(payload)
    except Exception as exc:  # e.g. a model class defined in a file the worker cannot import
        message = f"--processes: a worker process cannot load this work ({exc})"
        return "failed", f"{message}; use --processes 1"
    if opts.allocator == "tuned":
        tune_allocator()
    if opts.backend == "compile":
        import torch._inductor.config

        # torch.compile's pool of compile processes, started inside a worker, leaves semaphores
        # that the resource tracker warns about when the command ends: compile in-process here.
        torch._inductor.config.compile_threads = 1

    def progress(label: str, total: int) -> Callable[[], None]:
        device = label.rsplit(" ", 1)[-1]
        return lambda: conn.send(("tick", device))

    try:
        result = time_devices(make_items, opts, devices, n_threads, progress)
    except UserError as exc:
        return "failed", str(exc)
    return "done", pickle.dumps(result)
