"""User-facing errors: each becomes one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` on one line: control and other unprintable characters escaped as in repr."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class UserError(Exception):
    """Bad input from the user (a flag, a file, a key, a device): exit code 2."""

    exit_code = 2


class SpecError(UserError):
    """A spec problem, located by file, key path and line where known.

    Renders as ``FILE:LINE: KEY: MESSAGE`` with the parts that are known, e.g.
    ``configs/x.yaml:7: blocks[2].conv.k: must be >= 1 (got 0)`` or ``--k: must be >= 1 (got 0)``.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = printable(" ".join(str(message).split()))
        self.source = source
        self.key = printable(key) if key is not None else None
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.source:
            where = self.source + (f":{self.line}" if self.line else "") + ": "
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.message}"
