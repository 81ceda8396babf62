"""Standard output, guarded: ``--json`` keeps stdout for the JSON document alone (everything
else, user code's prints included, goes to stderr), and a closed, full or broken stdout ends
the run with one line (or quietly, for a broken pipe) instead of a traceback."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from typing import Any, TextIO

from sepprof.errors import UserError

BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE, what a shell shows for `yes | head -1`


class StdoutError(UserError):
    """stdout is closed or cannot take more (a full disk, /dev/full): exit 2."""


class StdoutGone(Exception):
    """The reader of stdout went away (``| head -1``): stop quietly."""


class Guarded:
    """A text stream whose write errors become ``StdoutError`` or ``StdoutGone`` (not
    ``OSError``, which Click would swallow or report as an internal error)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.failed = False  # after one error, later writes are dropped (one message only)

    def write(self, text: str) -> int:
        return self._call(self.stream.write, text)

    def flush(self) -> None:
        self._call(self.stream.flush)

    def _call(self, method: Any, *args: Any) -> Any:
        if self.failed:
            return None
        try:
            return method(*args)
        except BrokenPipeError:
            self.failed = True
            raise StdoutGone from None
        except (OSError, ValueError) as exc:  # ValueError: "I/O operation on closed file"
            self.failed = True
            why = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise StdoutError(f"stdout: cannot write ({why}); the output is incomplete") from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class Closed:
    """Stands in for a stdout that was closed before sepprof started (``>&-``): writing to it
    is an error, a run that prints nothing there still works."""

    encoding = "utf-8"
    errors = "strict"

    def write(self, text: str) -> int:
        raise StdoutError("stdout is closed; redirect it to a file or /dev/null instead")

    def flush(self) -> None:
        """Nothing is buffered."""

    def isatty(self) -> bool:
        return False


_document: list[Any] = []  # the stream the JSON document goes to while ``--json`` runs


def document() -> Any:
    """Where the JSON document is written: the real stdout, even while ``--json`` sends every
    other print to stderr."""
    return _document[-1] if _document else sys.stdout


@contextmanager
def guarded_stdout(json_only: bool = False) -> Iterator[Any]:
    """Run with stdout guarded (see ``Guarded``); with ``json_only``, print() goes to stderr and
    only ``document()`` reaches stdout. Yields the guarded stdout (flush it to finish)."""
    saved = sys.stdout
    real = Closed() if saved is None else Guarded(saved)
    sys.stdout = sys.stderr if json_only else real  # type: ignore[assignment]
    _document.append(real)
    try:
        yield real
    finally:
        _document.pop()
        sys.stdout = saved


@contextmanager
def user_code_output() -> Iterator[None]:
    """Around code sepprof runs on the user's behalf (a model's import, factory, forward):
    its prints go to stderr, so stdout holds only sepprof's own output."""
    with redirect_stdout(sys.stderr):
        yield


def silence_stdout(stream: Any) -> None:
    """Point the process's stdout at /dev/null, so that the interpreter's last flush of a
    broken or full stdout neither fails nor prints "Exception ignored"."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


@contextmanager
def quiet_native_stderr(noise: tuple[str, ...]) -> Iterator[None]:
    """Native code's lines on file descriptor 2 that start with one of ``noise`` dropped (the
    profiler's kineto prints ``USDT: ... profiler_start`` on every session); every other line is
    written back to stderr when the block ends."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as caught:
        saved = os.dup(2)
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [
                line
                for line in caught.read().decode(errors="replace").splitlines(keepends=True)
                if not line.startswith(noise)
            ]
            sys.stderr.write("".join(kept))
