"""User-facing errors: each becomes one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import re

_MARKUP = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~])")


def printable(text: object) -> str:
    """``text`` safe for a terminal, on one line: control characters (ESC, BEL, CR, newlines)
    and other unprintable ones (bidi overrides, zero-width joiners) escaped as in repr."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def console_text(text: object) -> str:
    """User text for Rich tables: ``printable`` and with Rich markup (``[red]``) escaped, so a
    name shows as written and can neither colour nor hide the output."""
    shown = _MARKUP.sub(lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", printable(text))
    return shown + "\\" if shown.endswith("\\") and not shown.endswith("\\\\") else shown


def markdown_text(text: object) -> str:
    """User text for a markdown page or table cell: ``printable``, with markdown's punctuation
    (emphasis, links, HTML, table pipes) backslash-escaped."""
    return _MARKDOWN.sub(r"\\\1", printable(text))


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
        self.source = printable(source) if source is not None else None
        self.key = printable(key) if key is not None else None
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.source:
            where = self.source + (f":{self.line}" if self.line else "") + ": "
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.message}"
