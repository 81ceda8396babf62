"""Tables that never cut a number, at any terminal width.

A ``FitTable`` is a Rich table that decides its layout when it is printed, from the width it is
given: every column when they fit; otherwise without its optional columns, lowest priority first,
with a note naming what was left out; below ``NARROW`` columns (or when even the essential
columns do not fit), each row as "key: value" lines. ``wide=True`` prints every column at full
width, however long the lines. Numbers sit in ``no_wrap`` columns and are never squeezed: the
table is only drawn at a width where their columns fit whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import copy
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

NARROW = 80  # below this many columns, rows print as "key: value" lines
UNBOUNDED = 10_000


class FitTable(Table):
    """A table that leaves out optional columns, or turns vertical, rather than cut a cell."""

    def __init__(self, *args: Any, wide: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wide = wide
        self.priorities: list[int] = []

    def add_column(self, header: Any = "", *args: Any, priority: int = 0, **kwargs: Any) -> None:
        """As Rich's, plus ``priority``: 0 is always shown; optional columns (1, 2, ...) are
        left out highest number first when the table is too wide. Text may wrap, never be cut."""
        kwargs.setdefault("overflow", "fold")
        super().add_column(header, *args, **kwargs)
        self.priorities.append(priority)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        if self.wide:
            natural = _measure(self, console, options).maximum
            yield from Table.__rich_console__(
                self, console, options.update_width(max(width, natural))
            )
            return
        if width < NARROW:
            yield from vertical(self, console, options)
            return
        table, left_out = self._fitted(console, options)
        if table is None:
            yield from vertical(self, console, options)
            return
        yield from Table.__rich_console__(table, console, options)
        if left_out:
            yield Text(
                f"not shown at {width} columns: {', '.join(left_out)} (--wide shows every column)",
                style="dim",
            )

    def _fitted(self, console: Console, options: ConsoleOptions) -> tuple[Table | None, list[str]]:
        """This table without as few optional columns as make it fit; None if nothing does."""
        optional = [i for i, p in enumerate(self.priorities) if p > 0]
        blank = [i for i in optional if is_blank(self.columns[i])]
        order = blank + sorted(
            (i for i in optional if i not in blank), key=lambda i: (-self.priorities[i], -i)
        )
        for n in range(len(order) + 1):
            dropped = order[:n]
            table = self.without(dropped)
            if needed_width(table, console, options) <= options.max_width:
                names = [header_text(self.columns[i]) for i in sorted(dropped) if i not in blank]
                return squeezed(table, console, options), names
        return None, []

    def without(self, indexes: Iterable[int]) -> Table:
        """A plain copy of this table without the columns at ``indexes``."""
        skip = set(indexes)
        table = copy(self)
        table.__class__ = Table
        table.columns = []
        for column in (c for i, c in enumerate(self.columns) if i not in skip):
            kept = copy(column)
            kept._index = len(table.columns)
            table.columns.append(kept)
        return table


def _measure(table: Table, console: Console, options: ConsoleOptions) -> Measurement:
    """The table's minimum and natural widths, unconstrained by the terminal."""
    return Table.__rich_measure__(table, console, options.update_width(UNBOUNDED))


def needed_width(table: Table, console: Console, options: ConsoleOptions) -> int:
    """The narrowest the table can be drawn with every ``no_wrap`` cell whole: those columns
    at their natural width, the others at their longest word."""
    wide = options.update_width(UNBOUNDED)
    total = table._extra_width
    for column in table.columns:
        m = table._measure_column(console, wide, column)
        total += m.maximum if column.no_wrap else m.minimum
    return total


def squeezed(table: Table, console: Console, options: ConsoleOptions) -> Table:
    """The table with its wrapping columns given fixed widths that fit ``options.max_width``:
    each at least its longest word, the space left filled smallest need first (Rich's own
    squeeze can cut a word below its length)."""
    wide = options.update_width(UNBOUNDED)
    sizes = {i: table._measure_column(console, wide, c) for i, c in enumerate(table.columns)}
    if sum(m.maximum for m in sizes.values()) + table._extra_width <= options.max_width:
        return table
    free = options.max_width - needed_width(table, console, options)
    wrapping = [i for i, c in enumerate(table.columns) if not c.no_wrap]
    wrapping.sort(key=lambda i: sizes[i].maximum - sizes[i].minimum)
    for n, i in enumerate(wrapping):
        extra = min(sizes[i].maximum - sizes[i].minimum, free // (len(wrapping) - n))
        free -= extra
        column = table.columns[i]
        column.width = sizes[i].minimum + extra - table._get_padding_width(i)
    return table


def is_blank(column: Column) -> bool:
    """True when no cell of the column holds anything but a dash (nothing lost leaving it out)."""
    return all(cell_text(c).plain.strip() in ("", "—") for c in column.cells)


def header_text(column: Column) -> str:
    """A column's header on one line."""
    header = column.header
    plain = header.plain if isinstance(header, Text) else str(header)
    return " ".join(plain.split())


def cell_text(cell: Any) -> Text:
    return cell if isinstance(cell, Text) else Text(str(cell))


def vertical(table: Table, console: Console, options: ConsoleOptions) -> RenderResult:
    """Each row as its first cell, then one "header: value" line per other non-empty cell."""
    if table.title:
        title = cell_text(table.title).copy()
        title.stylize("italic")
        yield title
    names = [header_text(c) for c in table.columns]
    cells = [list(c.cells) for c in table.columns]
    for r in range(table.row_count):
        yield cell_text(cells[0][r]).copy() if cells else Text("")
        for name, column in zip(names[1:], cells[1:], strict=True):
            value = cell_text(column[r])
            if value.plain.strip():
                yield Text.assemble(("    " + name + ": ", "dim"), value)
    yield Text("")


def new_table(title: str | Text, wide: bool = False) -> FitTable:
    """Every sepprof table: a title on the left, a rule under the header, no vertical lines;
    it fits the width it is printed at (see ``FitTable``)."""
    return FitTable(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, wide=wide
    )
