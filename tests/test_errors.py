"""Escaping user text: for the terminal (control characters), for Rich (markup) and for
markdown (emphasis, links, HTML, table pipes)."""

import pytest

from sepprof.errors import SpecError, console_text, markdown_text, printable


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("conv1", "conv1"),
        ("\x1b[2J\x1b]0;pwned\x07", "\\x1b[2J\\x1b]0;pwned\\x07"),  # clear screen, set title
        ("a\nb\rc", "a\\nb\\rc"),
        ("evil\u202egnp.exe", "evil\\u202egnp.exe"),  # right-to-left override
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("ümlaut µ 𝛼", "ümlaut µ 𝛼"),
    ],
)
def test_printable_escapes_what_acts_on_a_terminal(text, shown):
    assert printable(text) == shown


def test_console_text_keeps_rich_markup_literal():
    from rich.console import Console
    from rich.table import Table

    name = "[reverse]x[/reverse] [link=http://e]y\x1b"
    table = Table()
    table.add_column("layer")
    table.add_row(console_text(name))
    console = Console(width=80, record=True, color_system=None)
    console.print(table)
    assert "[reverse]x[/reverse] [link=http://e]y\\x1b" in console.export_text()


def test_markdown_text_cannot_break_a_table_or_add_html():
    assert markdown_text("a|b *c* _d_ <img src=x> [l](u) `x`") == (
        "a\\|b \\*c\\* \\_d\\_ \\<img src=x\\> \\[l\\](u) \\`x\\`"
    )
    assert "\n" not in markdown_text("a\n# heading")


def test_spec_errors_escape_their_file_and_key():
    err = SpecError("bad", source="x\x1b.yaml", key="layers[0].\x07", line=3)
    assert str(err) == "x\\x1b.yaml:3: layers[0].\\x07: bad"
