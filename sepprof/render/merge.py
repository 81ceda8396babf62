"""What ``sepprof merge`` prints (console and markdown): each layer's variants on every machine and
device."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from sepprof.errors import console_text
from sepprof.render.fit import new_table
from sepprof.render.formats import MERGE_HEADER, merge_cells
from sepprof.render.markdown import table as markdown_table
from sepprof.results import MergeResult

NUMERIC = {"threads", "MACs", "ms", "speed"}
OPTIONAL = {"device": 1, "dtype": 2, "setup": 3, "threads": 4}
WRAPS = {"machine", "speed"}  # words may go to a second line; numbers never split


def merge_view(result: MergeResult, wide: bool = False) -> RenderableType:
    """One table per layer: machine, device, setup, variant, MACs, time and speed."""
    parts: list[RenderableType] = []
    for spec, rows in result.layers:
        table = new_table(
            f"k={spec['k']} cin={spec['cin']} cout={spec['cout']} "
            f"size={spec['size']} stride={spec['stride']} batch={spec['batch']}",
            wide,
        )
        for name in MERGE_HEADER:
            table.add_column(
                name,
                justify="right" if name in NUMERIC else "left",
                no_wrap=name not in WRAPS,
                priority=OPTIONAL.get(name, 0),
            )
        for r in rows:
            table.add_row(*map(console_text, merge_cells(r)))  # cells come from JSON files
        parts.append(table)
    parts.append(Text(f"merged from: {', '.join(result.sources)}", style="dim"))
    return Group(*parts)


def merge_markdown(result: MergeResult) -> str:
    """The merged comparison as a markdown page."""
    parts = [
        "# sepprof: results merged across machines\n\n",
        "Sources: " + ", ".join(f"`{s}`" for s in result.sources) + "\n\n",
    ]
    for spec, rows in result.layers:
        parts.append(
            f"## k={spec['k']}, Cin={spec['cin']}, Cout={spec['cout']}, "
            f"{spec['size']}x{spec['size']}, stride {spec['stride']}, "
            f"batch {spec['batch']}\n\n"
        )
        parts.append(
            markdown_table(MERGE_HEADER, [merge_cells(r) for r in rows], "llllllrrr") + "\n"
        )
    return "".join(parts)
