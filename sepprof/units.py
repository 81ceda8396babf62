"""Units in one place: MACs vs FLOPs, dtype sizes, human-readable numbers and budget quantities.

Convention (stated once, used everywhere): one multiply-add is one MAC and two FLOPs. fvcore's
"flop" is a MAC; ``torch.utils.flop_counter`` counts FLOPs. Elementwise work (BatchNorm,
activations, bias, residual adds, pooling) is counted in plain operations ("ops") and never mixed
into MACs.
"""

from __future__ import annotations

import math
import re

FLOPS_PER_MAC = 2

DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}

_SUFFIXES = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMgGtT]?)\s*$")


def macs_to_flops(macs: int) -> int:
    """FLOPs of ``macs`` multiply-adds."""
    return FLOPS_PER_MAC * macs


def flops_to_macs(flops: int | float) -> int:
    """Multiply-adds of ``flops`` FLOPs (as counted by ``torch.utils.flop_counter``)."""
    return round(flops / FLOPS_PER_MAC)


def human(value: float | None, digits: int = 3) -> str:
    """Format a count with a K/M/G/T suffix and ``digits`` significant digits; None is "n/a"."""
    if value is None:
        return "n/a"
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    sign = "-" if value < 0 else ""
    v = abs(float(value))
    for suffix in ("T", "G", "M", "K"):
        if v >= _SUFFIXES[suffix]:
            v /= _SUFFIXES[suffix]
            break
    else:
        suffix = ""
    decimals = max(0, digits - 1 - math.floor(math.log10(v)))
    if suffix == "" and float(value).is_integer():
        decimals = 0
    return f"{sign}{v:.{decimals}f}{suffix}"


def parse_quantity(text: str | int | float) -> float:
    """Parse a number with an optional K/M/G/T suffix (``600M``, ``4.5M``, ``1e9``)."""
    if isinstance(text, bool):
        raise ValueError(f"expected a number, got {text!r}")
    if isinstance(text, int | float):
        return float(text)
    match = _QUANTITY.match(str(text))
    if not match:
        raise ValueError(f"expected a number with an optional K/M/G/T suffix, got {text!r}")
    return float(match.group(1)) * _SUFFIXES[match.group(2).upper()]


def parse_percent(text: str | int | float) -> float:
    """Parse ``5%`` (or a bare number of percent) into a fraction, 0.05."""
    if isinstance(text, bool):
        raise ValueError(f"expected a percentage such as 5%, got {text!r}")
    if isinstance(text, int | float):
        return float(text) / 100
    s = str(text).strip()
    if s.endswith("%"):
        s = s[:-1]
    try:
        return float(s) / 100
    except ValueError:
        raise ValueError(f"expected a percentage such as 5%, got {text!r}") from None
