"""Network specs: the YAML block language, shape propagation into an ``ops.Plan``, and the
width/resolution multipliers and ``--as standard|separable`` rewrites. No torch.

A network file::

    name: MobileNetV1
    source: Howard et al. 2017, Table 1
    input: [3, 224, 224]
    defaults: {act: relu, bn: true}
    blocks:
      - conv: {k: 3, cout: 32, stride: 2}
      - separable: {k: 3, cout: 64}
      - inverted_residual: {t: 6, c: 24, n: 2, s: 2}
      - residual: {shortcut: {cout: 128, stride: 2}, body: [...]}
      - pool: {kind: avg, global: true}
      - fc: {cout: 1000}

Every block is a one-key mapping; the key names its type. Shapes are propagated and checked
(channels, kernel vs input, residual shapes) before any module is built, and every error names
the file, the block's key path and its line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sepprof.errors import SpecError, UserError
from sepprof.spec.blocks import (
    conv_stage,
    fc_stage,
    inverted_residual_stages,
    pool_stage,
    separable_stages,
)
from sepprof.spec.layer import key_path, unknown_key_error, validate
from sepprof.spec.network_file import (
    ABBREVIATIONS,
    BLOCK_TYPES,
    SHARED_FIELDS,
    ConvSpec,
    NetworkSpec,
    ResidualSpec,
    SeparableSpec,
)
from sepprof.spec.ops import Act, Add, Block, Plan, Shape, Stage, conv_out_size
from sepprof.spec.yaml_reader import YamlDoc, read_yaml


@dataclass(frozen=True)
class Options:
    """Multipliers and rewrites applied while building a plan."""

    width_mult: float = 1.0
    resolution: int | None = None
    as_: str | None = None  # "standard" or "separable"

    def __post_init__(self) -> None:
        """Refuse, naming the flag, what no network can be built with (CLI and API alike)."""
        w, r = self.width_mult, self.resolution
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 < w <= 4:
            raise UserError(f"--width-mult: must be > 0 and <= 4 (got {w!r})")
        if r is not None and (isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= 8192):
            raise UserError(f"--resolution: must be a whole number from 1 to 8192 (got {r!r})")
        if self.as_ not in (None, "standard", "separable"):
            raise UserError(f"--as: {self.as_!r} is not one of standard, separable")


@dataclass
class _Builder:
    """Walks the blocks of one file, propagating shapes and collecting ``ops.Block``s."""

    doc: YamlDoc
    spec: NetworkSpec
    options: Options

    def error(self, message: str, loc: tuple) -> SpecError:
        return SpecError(
            message, source=str(self.doc.path), key=key_path(loc), line=self.doc.line_of(loc)
        )

    def width(self, c: int, scale: bool = True) -> int:
        """Channels under the width multiplier, rounded to the network's divisor."""
        if not scale or self.options.width_mult == 1.0:
            return c
        d = self.spec.width_divisor
        scaled = max(d, int(c * self.options.width_mult + d / 2) // d * d)
        return scaled + d if scaled < 0.9 * c * self.options.width_mult else scaled

    def parse(self, item: Any, loc: tuple) -> tuple[str, Any]:
        """The (type, validated spec) of one block item ``{type: {...}}``."""
        if not isinstance(item, dict) or len(item) != 1:
            raise self.error(
                f"each block must be a mapping with one key, its type ({', '.join(BLOCK_TYPES)})",
                loc,
            )
        kind, params = next(iter(item.items()))
        if kind not in BLOCK_TYPES:
            err = unknown_key_error(kind, list(BLOCK_TYPES), "block type")
            raise self.error(err.message(), (*loc, kind))
        model = BLOCK_TYPES[kind]
        if model is None:
            if params not in ("relu", "relu6", "silu", "swish"):
                raise self.error(
                    f"must be relu, relu6, silu or swish (got {params!r})", (*loc, kind)
                )
            return kind, "silu" if params == "swish" else params
        return kind, validate(model, self.doc, params or {}, (*loc, kind))

    def blocks(
        self, items: list[Any], x: Shape, loc: tuple, prefix: str = ""
    ) -> tuple[list[Block], Shape]:
        out: list[Block] = []
        for i, item in enumerate(items):
            kind, spec = self.parse(item, (*loc, i))
            kind, spec = self.rewrite(kind, spec)
            repeat = getattr(spec, "n", None) if kind == "inverted_residual" else None
            repeat = repeat or getattr(spec, "repeat", 1)
            base = getattr(spec, "name", None) if kind != "act" else None
            for j in range(repeat):
                name = base or f"{ABBREVIATIONS[kind]}{len(out) + 1}"
                name = f"{prefix}{name}_{j + 1}" if base and repeat > 1 else f"{prefix}{name}"
                block = self.block(kind, spec, x, name, (*loc, i, kind), first=j == 0)
                out.append(block)
                x = block.out
        return out, x

    def rewrite(self, kind: str, spec: Any) -> tuple[str, Any]:
        """``--as standard``: separable -> conv, inverted residual's depthwise -> standard;
        ``--as separable``: standard k x k conv (k > 1, groups 1) -> separable."""
        if self.options.as_ == "standard" and kind == "separable":
            fields = spec.model_dump(include=SHARED_FIELDS)
            return "conv", ConvSpec(**fields)
        if self.options.as_ == "standard" and kind == "inverted_residual":
            return kind, spec.model_copy(update={"depthwise": False})
        if self.options.as_ == "separable" and kind == "conv" and spec.k > 1 and spec.groups == 1:
            fields = spec.model_dump(include=SHARED_FIELDS)
            return "separable", SeparableSpec(**fields)
        return kind, spec

    def check_cin(self, spec: Any, x: Shape, loc: tuple, name: str) -> None:
        cin = getattr(spec, "cin", None)
        if cin is not None and cin != x.c:
            raise self.error(
                f"block {name}: cin={cin} but the previous block outputs {x.c} channels ({x})",
                (*loc, "cin"),
            )

    def check_window(
        self, k: int, stride: int, padding: int, dilation: int, x: Shape, loc: tuple, name: str
    ) -> None:
        if conv_out_size(min(x.h, x.w), k, stride, padding, dilation) < 1:
            raise self.error(
                f"block {name}: a {k}x{k} window does not fit its {x} input (padding {padding})",
                (*loc, "k"),
            )

    def block(self, kind: str, spec: Any, x: Shape, name: str, loc: tuple, first: bool) -> Block:
        d = self.spec.defaults
        if kind in ("conv", "separable", "inverted_residual") and first:
            self.check_cin(spec, x, loc, name)
        if kind == "conv":
            cout = self.width(spec.cout, spec.scale_width)
            pad = (spec.k // 2) * spec.dilation if spec.padding is None else spec.padding
            self.check_window(spec.k, spec.stride, pad, spec.dilation, x, loc, name)
            if x.c % spec.groups or cout % spec.groups:
                raise self.error(
                    f"block {name}: groups={spec.groups} must divide the input "
                    f"({x.c}) and output ({cout}) channels",
                    (*loc, "groups"),
                )
            stage = conv_stage(
                "conv",
                x,
                cout,
                spec.k,
                stride=spec.stride,
                groups=spec.groups,
                padding=pad,
                dilation=spec.dilation,
                bias=_or(spec.bias, d.bias),
                bn=_or(spec.bn, d.bn),
                act=_or(spec.act, d.act),
            )
            return Block(name, "conv", x, (stage,))
        if kind == "separable":
            pad = (spec.k // 2) * spec.dilation if spec.padding is None else spec.padding
            self.check_window(spec.k, spec.stride, pad, spec.dilation, x, loc, name)
            stages = separable_stages(
                x,
                self.width(spec.cout, spec.scale_width),
                spec.k,
                stride=spec.stride,
                padding=pad,
                dilation=spec.dilation,
                bias=_or(spec.bias, d.bias),
                bn=_or(spec.bn, d.bn),
                act=_or(spec.act, d.act),
                inner=spec.inner,
            )
            return Block(name, "separable", x, stages)
        if kind == "inverted_residual":
            stride = spec.s if first else 1
            self.check_window(spec.k, stride, spec.k // 2, 1, x, loc, name)
            stages = inverted_residual_stages(
                x,
                self.width(spec.c),
                spec.k,
                spec.t,
                stride=stride,
                act=_or(spec.act, d.act),
                bn=_or(spec.bn, d.bn),
                se=spec.se,
                depthwise=spec.depthwise,
            )
            return Block(name, "inverted_residual", x, stages)
        if kind == "pool":
            stride = spec.stride or spec.k
            if not spec.global_:
                self.check_window(spec.k, stride, spec.padding, 1, x, loc, name)
            stage = pool_stage("pool", x, spec.kind, spec.k, stride, spec.padding, spec.global_)
            return Block(name, "pool", x, (stage,))
        if kind == "fc":
            act = None if spec.act == "none" else spec.act
            return Block(name, "fc", x, (fc_stage("fc", x, spec.cout, spec.bias, act),))
        if kind == "act":
            return Block(name, "act", x, (Stage("act", (Act(x, spec),)),))
        return self.residual(spec, x, name, loc)

    def residual(self, spec: ResidualSpec, x: Shape, name: str, loc: tuple) -> Block:
        body, out = self.blocks(spec.body, x, (*loc, "body"))
        stages = [Stage(f"{b.name}.{s.name}", s.ops, s.combine) for b in body for s in b.stages]
        if spec.shortcut is not None:
            sc = spec.shortcut
            pad = (sc.k // 2) * sc.dilation if sc.padding is None else sc.padding
            shortcut = conv_stage(
                "shortcut",
                x,
                self.width(sc.cout, sc.scale_width),
                sc.k,
                stride=sc.stride,
                padding=pad,
                groups=sc.groups,
                bn=_or(sc.bn, self.spec.defaults.bn),
                act=sc.act if sc.act else None,
            )
            skip = shortcut.out
        else:
            shortcut, skip = None, x
        if skip != out:
            raise self.error(
                f"block {name}: the body outputs {out} but the shortcut gives "
                f"{skip}; they must match to be added",
                (*loc, "shortcut"),
            )
        ops = (*(shortcut.ops if shortcut else ()), Add(out))
        stages.append(Stage("shortcut" if shortcut else "residual", ops, "shortcut"))
        return Block(name, "residual", x, tuple(stages))


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


@dataclass(frozen=True)
class Network:
    """A validated network file: its spec and where it came from."""

    spec: NetworkSpec
    doc: YamlDoc

    @property
    def path(self) -> Path:
        return self.doc.path

    def plan(self, options: Options = Options()) -> Plan:
        """Propagate shapes through every block under ``options``; raises located SpecErrors."""
        c, h, w = self.spec.input
        if options.resolution:
            h = w = options.resolution
        builder = _Builder(self.doc, self.spec, options)
        blocks, _ = builder.blocks(self.spec.blocks, Shape(c, h, w), ("blocks",))
        seen: set[str] = set()
        for block in blocks:
            if block.name in seen:
                raise SpecError(
                    f"two blocks are named {block.name!r}; names must be unique",
                    source=str(self.path),
                    key="blocks",
                )
            seen.add(block.name)
        return Plan(self.spec.name, Shape(c, h, w), tuple(blocks))


def load_network(path: str | Path) -> Network:
    """Read and validate a network file (shapes are checked by ``Network.plan``)."""
    doc = read_yaml(path)
    if not isinstance(doc.data, dict):
        raise SpecError("expected a mapping with 'input' and 'blocks'", source=str(path))
    spec = validate(NetworkSpec, doc)
    if "name" not in doc.data:
        spec = spec.model_copy(update={"name": doc.path.stem})
    return Network(spec, doc)


def is_network(path: str | Path) -> bool:
    """True when a YAML file looks like a network (has ``blocks``), not a layers file."""
    data = read_yaml(path).data
    return isinstance(data, dict) and "blocks" in data
