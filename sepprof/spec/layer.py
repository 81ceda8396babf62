"""Validated layer specs, variant names, the strict base of every spec model, and turning
pydantic's errors into located messages.

Specs know nothing of torch. Every error names the file, the key path and, where known, the line
(see ``errors.SpecError``); files are read by ``yaml_reader``. Names are printable text: a name
that would act on a terminal (escape sequences, bidi overrides) is refused at its line.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from sepprof.errors import SpecError, printable
from sepprof.spec.ops import conv_out_size
from sepprof.spec.yaml_reader import YamlDoc, read_yaml

ActName = Literal["relu", "relu6", "silu", "none"]


def _plain_text(value: str) -> str:
    """Refuse text that would act on a terminal (ESC sequences, bidi overrides, newlines)."""
    if value != printable(value):
        raise ValueError(f"must be printable text on one line (got '{printable(value)}')")
    return value


Name = Annotated[str, Field(max_length=200), AfterValidator(_plain_text)]
Text = Annotated[str, Field(max_length=2000), AfterValidator(_plain_text)]


def did_you_mean(word: str, valid: Sequence[str]) -> str:
    """``; did you mean 'x'?`` for the closest valid word, or nothing."""
    close = difflib.get_close_matches(str(word), list(valid), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown_key_error(key: str, valid: Sequence[str], what: str = "key") -> PydanticCustomError:
    """The error for a key that is not part of a spec, with a "did you mean" hint."""
    return PydanticCustomError(
        "unknown_key",
        "unknown {what} {shown}{hint} (valid: {valid})",
        {
            "key": key,
            "what": what,
            "shown": repr(key),
            "hint": did_you_mean(key, valid),
            "valid": ", ".join(valid),
        },
    )


def field_error(key: str, message: str) -> PydanticCustomError:
    """A validation error that belongs to one named key of the model being validated."""
    return PydanticCustomError("field_rule", "{message}", {"key": key, "message": message})


class Strict(BaseModel):
    """Base of every spec model: immutable, strict types (``k: true`` or ``cout: "10"`` are
    errors, not 1 and 10), unknown keys refused with a suggestion."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            valid = [f.alias or name for name, f in cls.model_fields.items()]
            names = set(valid) | set(cls.model_fields)
            for key in data:
                if key not in names:
                    raise unknown_key_error(key, valid)
            if data.get("act") == "swish":  # the same function under its other name
                data = {**data, "act": "silu"}
        return data


class LayerSpec(Strict):
    """One convolution layer to compare variants of (``sepprof compare``)."""

    name: Name | None = None
    k: int = Field(3, ge=1, le=64)
    cin: int | None = Field(None, ge=1, le=1 << 16)
    cout: int = Field(256, ge=1, le=1 << 16)
    size: int = Field(56, ge=1, le=1 << 14)
    stride: int = Field(1, ge=1, le=64)
    padding: int | None = Field(None, ge=0, le=64)
    dilation: int = Field(1, ge=1, le=64)
    batch: int = Field(1, ge=1, le=1 << 16)
    bias: bool = False
    bn: bool = True
    act: ActName = "relu"

    @model_validator(mode="after")
    def _fits(self) -> LayerSpec:
        if self.cin is None:
            object.__setattr__(self, "cin", self.cout)
        if self.padding is None:
            object.__setattr__(self, "padding", (self.k // 2) * self.dilation)
        span = self.dilation * (self.k - 1) + 1
        if conv_out_size(self.size, self.k, self.stride, self.padding, self.dilation) < 1:
            raise field_error(
                "k",
                f"a {self.k}x{self.k} kernel (span {span}) is larger than the padded input "
                f"({self.size} + 2x{self.padding} = {self.size + 2 * self.padding})",
            )
        return self

    @property
    def out_size(self) -> int:
        return conv_out_size(self.size, self.k, self.stride, self.padding, self.dilation)

    def describe(self) -> str:
        s = f"k={self.k} cin={self.cin} cout={self.cout} size={self.size} stride={self.stride}"
        return f"{self.name}: {s}" if self.name else s


VARIANT_KINDS = ("standard", "separable", "grouped", "inverted")
VARIANT_HELP = "standard, separable, grouped:G (groups), inverted:T (expansion)"


@dataclass(frozen=True)
class VariantSpec:
    """A variant of a layer: ``standard``, ``separable``, ``grouped:G`` or ``inverted:T``."""

    kind: str
    param: int = 0

    def __str__(self) -> str:
        return f"{self.kind}:{self.param}" if self.param else self.kind


def parse_variant(text: str) -> VariantSpec:
    """Parse one variant name; raises ValueError with the valid names."""
    kind, _, param = text.strip().partition(":")
    if kind not in VARIANT_KINDS:
        hint = did_you_mean(kind, VARIANT_KINDS)
        raise ValueError(f"unknown variant {text.strip()!r}{hint} (valid: {VARIANT_HELP})")
    needs_param = kind in ("grouped", "inverted")
    if needs_param != bool(param):
        form = f"{kind}:N" if needs_param else kind
        raise ValueError(f"variant {text.strip()!r} must be written {form!r}")
    if not needs_param:
        return VariantSpec(kind)
    if not param.isdigit() or int(param) < 1:
        raise ValueError(f"variant {text.strip()!r}: {param!r} is not a positive integer")
    return VariantSpec(kind, int(param))


def check_variant(variant: VariantSpec, layer: LayerSpec) -> None:
    """Refuse a variant the layer cannot have (groups must divide both channel counts)."""
    g = variant.param
    if variant.kind == "grouped" and (layer.cin % g or layer.cout % g):
        raise ValueError(f"{variant}: groups must divide cin={layer.cin} and cout={layer.cout}")


def parse_variants(text: str | Sequence[str], layer: LayerSpec | None = None) -> list[VariantSpec]:
    """Parse a comma-separated (or listed) set of variants, checking each against ``layer``."""
    items = text.split(",") if isinstance(text, str) else list(text)
    variants = [parse_variant(str(item)) for item in items if str(item).strip()]
    if not variants:
        raise ValueError(f"no variant given (valid: {VARIANT_HELP})")
    for i, v in enumerate(variants):
        if v in variants[:i]:
            raise ValueError(f"variant {str(v)!r} is given twice")
    if layer is not None:
        for v in variants:
            check_variant(v, layer)
    return variants


class LayersFile(Strict):
    """A layers file: ``layers`` (a list of layer specs) and optional ``variants``."""

    layers: list[LayerSpec] = Field(min_length=1)
    variants: list[str] | None = None


def key_path(loc: Sequence[str | int]) -> str:
    """Render a pydantic location as ``blocks[2].conv.k``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe_error(err: dict[str, Any]) -> tuple[tuple[str | int, ...], str]:
    """The location and a short human message for one pydantic error."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    ctx = err.get("ctx") or {}
    if "key" in ctx:
        loc = (*loc, ctx["key"])
    kind, got = err["type"], err.get("input")
    shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
    messages = {
        "missing": "is required",
        "greater_than_equal": f"must be >= {ctx.get('ge')} (got {shown})",
        "less_than_equal": f"must be <= {ctx.get('le')} (got {shown})",
        "greater_than": f"must be > {ctx.get('gt')} (got {shown})",
        "int_parsing": f"must be an integer (got {shown})",
        "int_type": f"must be an integer (got {shown})",
        "int_from_float": f"must be an integer (got {shown})",
        "float_parsing": f"must be a number (got {shown})",
        "float_type": f"must be a number (got {shown})",
        "finite_number": f"must be a finite number (got {shown})",
        "bool_parsing": f"must be true or false (got {shown})",
        "bool_type": f"must be true or false (got {shown})",
        "string_type": f"must be a string (got {shown})",
        "list_type": f"must be a list (got {shown})",
        "dict_type": f"must be a mapping of keys to values (got {shown})",
        "model_type": f"must be a mapping of keys to values (got {shown})",
        "literal_error": f"must be one of {ctx.get('expected')} (got {shown})",
        "too_short": "must not be empty",
        "too_long": f"has too many items (at most {ctx.get('max_length')})",
    }
    message = messages.get(kind) or str(err["msg"]).removeprefix("Value error, ")
    return loc, message


def validate(model: type[Strict], doc: YamlDoc, data: Any = None, prefix: tuple = ()) -> Any:
    """Validate ``data`` (default: the whole document) as ``model``, raising a located error."""
    try:
        return model.model_validate(doc.data if data is None else data)
    except ValidationError as exc:
        loc, message = describe_error(exc.errors()[0])
        loc = (*prefix, *loc)
        raise SpecError(
            message, source=str(doc.path), key=key_path(loc) or None, line=doc.line_of(loc)
        ) from None


def validate_flags(model: type[Strict], values: dict[str, Any]) -> Any:
    """Validate command-line values as ``model``; errors name the flag (``--k``)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        loc, message = describe_error(exc.errors()[0])
        flag = "--" + str(loc[0]).replace("_", "-") if loc else None
        raise SpecError(message, key=flag) from None


def load_layers(path: str | Path) -> tuple[list[LayerSpec], list[str] | None]:
    """Read a layers file: a list of layer specs, or a mapping with ``layers`` and ``variants``."""
    doc = read_yaml(path)
    data = {"layers": doc.data} if isinstance(doc.data, list) else doc.data
    if not isinstance(data, dict):
        raise SpecError("expected a list of layers or a mapping with 'layers'", source=str(path))
    spec = validate(LayersFile, doc, data)
    _check_unique_names(spec.layers, doc)
    if spec.variants is not None:
        for i, layer in enumerate(spec.layers):
            try:
                parse_variants(spec.variants, layer)
            except ValueError as exc:
                raise SpecError(
                    str(exc),
                    source=str(path),
                    key=f"variants (layers[{i}])",
                    line=doc.line_of(("variants",)),
                ) from None
    return spec.layers, spec.variants


def _check_unique_names(layers: list[LayerSpec], doc: YamlDoc) -> None:
    """Refuse two layers with the same name (their rows and budget metrics would collide)."""
    names = [layer.name for layer in layers]
    for i, name in enumerate(names):
        if name is not None and name in names[:i]:
            raise SpecError(
                f"two layers are named {name!r} (layers[{names.index(name)}] and layers[{i}]); "
                "names must be unique",
                source=str(doc.path),
                key=f"layers[{i}].name",
                line=doc.line_of(("layers", i, "name") if isinstance(doc.data, dict) else (i,)),
            )


def check_untimed_dtype(dtype: str) -> None:
    """Refuse ``--dtype`` other than fp32 without timing: untimed runs count and size bytes in
    fp32, so an fp16 header over fp32 bytes would be a lie (issue #15)."""
    if dtype != "fp32":
        raise SpecError(
            f"{dtype} applies to timing only; with --no-time or --analytic counts and bytes "
            "are fp32 (drop --dtype, or time the run)",
            key="--dtype",
        )
