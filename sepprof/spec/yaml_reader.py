"""The YAML reader every spec file goes through: a regular file of bounded size
(``files.read_input``), parsed with the safe loader only, with located syntax errors, duplicate
keys refused (YAML would keep the last silently), and depth and alias-expansion limits; the
node tree is kept so any key path can be traced back to its line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sepprof.errors import SpecError, UserError, printable
from sepprof.files import read_input_text

MAX_VALUES = 100_000
MAX_DEPTH = 32


@dataclass(frozen=True)
class YamlDoc:
    """Parsed YAML data with its node tree, kept to find the line of any key path."""

    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """1-based line of the deepest node on ``loc`` that exists in the file."""
        node, line = self.root, None
        for part in loc:
            if node is None:
                break
            line = node.start_mark.line + 1
            node = _child(node, part)
        if node is not None:
            line = node.start_mark.line + 1
        return line


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == str(part):
                return value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None


def _check_size(node: yaml.Node, path: Path) -> None:
    """Refuse trees nested too deep or whose aliases expand to too many values."""
    memo: dict[int, int] = {}

    def count(n: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise SpecError(
                f"nested deeper than {MAX_DEPTH} levels",
                source=str(path),
                line=n.start_mark.line + 1,
            )
        if id(n) in memo:
            return memo[id(n)]
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(count(c, depth + 1) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            _check_unique_keys(n, path)
            total += sum(count(k, depth + 1) + count(v, depth + 1) for k, v in n.value)
        memo[id(n)] = total
        if total > MAX_VALUES:
            raise SpecError(
                f"expands to more than {MAX_VALUES} values (aliases nested too far?)",
                source=str(path),
            )
        return total

    count(node, 0)


def _check_unique_keys(node: yaml.MappingNode, path: Path) -> None:
    """Refuse a mapping that gives a key twice (YAML would silently keep the last value)."""
    seen: dict[tuple[str, str], yaml.Mark] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        first = seen.setdefault((key.tag, key.value), key.start_mark)
        if first is key.start_mark:
            continue
        again = key.start_mark
        where = (
            f"lines {first.line + 1} and {again.line + 1}"
            if first.line != again.line
            else f"line {again.line + 1}, columns {first.column + 1} and {again.column + 1}"
        )
        raise SpecError(
            f"key {key.value!r} is given twice ({where}); a key may appear once",
            source=str(path),
            line=again.line + 1,
        )


def read_yaml(path: str | Path) -> YamlDoc:
    """Read a YAML file safely: a regular file of bounded size (``files.read_input``), located
    syntax errors, duplicate keys refused, depth and alias-expansion limits."""
    path = Path(path)
    try:
        text = read_input_text(path)
    except UserError as exc:
        raise SpecError(str(exc).removeprefix(f"{printable(path)}: "), source=str(path)) from None
    return parse_yaml(text, path)


def parse_yaml(text: str, path: Path) -> YamlDoc:
    """Parse YAML text read from ``path`` (see ``read_yaml``)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is not None:
            _check_size(root, path)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        col = f", column {mark.column + 1}" if mark else ""
        raise SpecError(
            f"YAML syntax error{col}: {problem}",
            source=str(path),
            line=mark.line + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML error: {str(exc).splitlines()[0]}", source=str(path)) from None
    except RecursionError:
        raise SpecError("nested too deeply to read", source=str(path)) from None
    return YamlDoc(path, data, root)
