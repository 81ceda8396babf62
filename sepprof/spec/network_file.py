"""The network file's spec: one pydantic model per block type, the network itself and its
published reference totals. Pure data, validated strictly; ``network`` turns it into a plan."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from sepprof.spec.layer import ActName, Name, Strict, Text
from sepprof.units import parse_quantity


class Defaults(Strict):
    """Network-wide defaults for blocks that do not say."""

    act: ActName = "relu"
    bn: bool = True
    bias: bool = False


class ConvSpec(Strict):
    """A standard (or grouped) k x k conv -> BN -> act."""

    name: Name | None = None
    k: int = Field(3, ge=1, le=64)
    cout: int = Field(ge=1, le=1 << 16)
    cin: int | None = Field(None, ge=1)
    stride: int = Field(1, ge=1, le=64)
    groups: int = Field(1, ge=1)
    padding: int | None = Field(None, ge=0, le=64)
    dilation: int = Field(1, ge=1, le=64)
    bias: bool | None = None
    bn: bool | None = None
    act: ActName | None = None
    repeat: int = Field(1, ge=1, le=1000)
    scale_width: bool = True


class SeparableSpec(Strict):
    """Depthwise k x k -> pointwise 1 x 1; ``inner: false`` drops BN/act between them (Xception)."""

    name: Name | None = None
    k: int = Field(3, ge=1, le=64)
    cout: int = Field(ge=1, le=1 << 16)
    cin: int | None = Field(None, ge=1)
    stride: int = Field(1, ge=1, le=64)
    padding: int | None = Field(None, ge=0, le=64)
    dilation: int = Field(1, ge=1, le=64)
    bias: bool | None = None
    bn: bool | None = None
    act: ActName | None = None
    inner: bool = True
    repeat: int = Field(1, ge=1, le=1000)
    scale_width: bool = True


class InvertedResidualSpec(Strict):
    """MobileNetV2's bottleneck, written as in its Table 2: expansion t, channels c, repeats n,
    stride s; optional kernel k and squeeze-excite ratio se (of the block's input channels)."""

    name: Name | None = None
    t: float = Field(gt=0, le=64)
    c: int = Field(ge=1, le=1 << 16)
    n: int = Field(1, ge=1, le=1000)
    s: int = Field(1, ge=1, le=64)
    k: int = Field(3, ge=1, le=64)
    se: float = Field(0.0, ge=0, le=1)
    cin: int | None = Field(None, ge=1)
    bn: bool | None = None
    act: ActName | None = None
    depthwise: bool = True


class PoolSpec(Strict):
    """Max or average pooling; ``global: true`` pools to 1x1."""

    name: Name | None = None
    kind: Literal["max", "avg"] = "max"
    k: int = Field(2, ge=1, le=64)
    stride: int | None = Field(None, ge=1, le=64)
    padding: int = Field(0, ge=0, le=32)
    global_: bool = Field(False, alias="global")


class FcSpec(Strict):
    """A fully connected layer (flattens its input)."""

    name: Name | None = None
    cout: int = Field(ge=1, le=1 << 20)
    bias: bool = True
    act: ActName = "none"
    repeat: int = Field(1, ge=1, le=1000)


class ResidualSpec(Strict):
    """A body of blocks plus a shortcut: identity, or a strided 1x1 conv (+BN) as in Xception."""

    name: Name | None = None
    body: list[dict[str, Any]] = Field(min_length=1)
    shortcut: ConvSpec | None = None
    repeat: int = Field(1, ge=1, le=1000)


class Reference(Strict):
    """Published totals the network should reproduce, with their source."""

    macs: float | None = Field(None, ge=0, allow_inf_nan=False)
    params: float | None = Field(None, ge=0, allow_inf_nan=False)
    source: Text = ""

    @field_validator("macs", "params", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> Any:
        return None if value is None else parse_quantity(value)


class NetworkSpec(Strict):
    """A network file."""

    name: Name = "network"  # default: the file's name
    source: Text = ""
    input: list[int]
    width_divisor: int = Field(1, ge=1, le=256)
    defaults: Defaults = Defaults()
    reference: Reference | None = None
    blocks: list[dict[str, Any]] = Field(min_length=1)

    @field_validator("input")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if len(value) != 3 or min(value) < 1 or max(value) > 1 << 16:
            raise ValueError("must be three positive sizes [channels, height, width]")
        return value


BLOCK_TYPES: dict[str, type[Strict] | None] = {
    "conv": ConvSpec,
    "separable": SeparableSpec,
    "inverted_residual": InvertedResidualSpec,
    "residual": ResidualSpec,
    "pool": PoolSpec,
    "fc": FcSpec,
    "act": None,
}

ABBREVIATIONS = {
    "conv": "conv",
    "separable": "sep",
    "inverted_residual": "ir",
    "residual": "res",
    "pool": "pool",
    "fc": "fc",
    "act": "act",
}


# What a conv and a separable block share, kept by the --as rewrites.
SHARED_FIELDS = {
    "name",
    "k",
    "cout",
    "cin",
    "stride",
    "padding",
    "dilation",
    "bias",
    "bn",
    "act",
    "repeat",
    "scale_width",
}
