"""Turn convolutions of a model into depthwise + pointwise pairs, in place or on a copy, and
save or reload a conversion.

A 1-, 2- or 3-D convolution of any kernel, stride, padding (any padding mode) and dilation
converts exactly: a depthwise conv with the same geometry, then a pointwise 1x1 conv (with the
original bias). Only what cannot convert is skipped, with its reason: transposed convs, convs
already grouped or depthwise, 1x1 convs, and subclasses with their own ``forward``.
"""

from __future__ import annotations

import copy
import fnmatch
import io
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from sepprof.errors import UserError
from sepprof.files import write_atomic
from sepprof.models.model import one_line
from sepprof.models.variants import build_op
from sepprof.results.sepify import SepifyOptions, SepifyReport, SkippedLayer
from sepprof.spec.ops import Act, Shape

CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
NORMS = {nn.Conv1d: nn.BatchNorm1d, nn.Conv2d: nn.BatchNorm2d, nn.Conv3d: nn.BatchNorm3d}


class ConversionError(UserError):
    """The converted model does not behave like the original (a shape changed, or its forward
    fails): one line naming the layer, exit code 2."""


class SeparableConv(nn.Sequential):
    """Depthwise (+ BatchNorm) (+ activation) + pointwise 1x1, in place of a convolution."""


class SeparableConv2d(SeparableConv):
    """The replacement of a Conv2d."""


def describe_conv(module: nn.modules.conv._ConvNd) -> str:
    """``Conv2d 3x3/2 64->128`` (``g=`` when grouped)."""
    kernel = "x".join(str(k) for k in module.kernel_size)
    steps = set(module.stride)
    step = "x".join(map(str, module.stride)) if len(steps) > 1 else str(module.stride[0])
    stride = "" if step == "1" else f"/{step}"
    groups = f" g={module.groups}" if module.groups > 1 else ""
    cin, cout = module.in_channels, module.out_channels
    return f"{type(module).__name__} {kernel}{stride}{groups} {cin}->{cout}"


def excluded_by(name: str, patterns: tuple[str, ...]) -> str | None:
    """The first pattern matching ``name`` or one of its parents."""
    for pattern in patterns:
        if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name, pattern + ".*"):
            return pattern
    return None


def _base(module: nn.Module) -> type | None:
    return next((c for c in CONVS if type(module).forward is c.forward), None)


def _structural(module: nn.modules.conv._ConvNd) -> tuple[str, str] | None:
    """Why a convolution cannot become depthwise + pointwise, whatever the options."""
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        return "transposed", "transposed convolution (no depthwise + pointwise equivalent)"
    if not isinstance(module, CONVS) or _base(module) is None:
        return "custom_forward", f"{type(module).__name__} has its own forward()"
    if set(module.kernel_size) == {1}:
        return "pointwise", "1x1 kernel (already pointwise)"
    if module.groups > 1:
        return "grouped", f"groups={module.groups} (already grouped or depthwise)"
    return None


def skip_reason(
    name: str, module: nn.modules.conv._ConvNd, options: SepifyOptions
) -> tuple[str, str] | None:
    """(code, reason) for a convolution that is not converted; None when it is eligible."""
    structural = _structural(module)
    if structural:
        return structural
    pattern = excluded_by(name, options.exclude)
    if pattern is not None:
        return "excluded", f"excluded by --exclude {pattern!r}"
    if module.in_channels < options.min_channels:
        return (
            "min_channels",
            f"{module.in_channels} input channels < --min-channels {options.min_channels}",
        )
    return None


def plan(model: nn.Module, options: SepifyOptions) -> tuple[list[str], list[SkippedLayer]]:
    """The paths of the convolutions to convert, and those skipped with their reasons."""
    eligible, skipped = [], []
    for name, module in model.named_modules():
        if not isinstance(module, nn.modules.conv._ConvNd):
            continue
        reason = skip_reason(name, module, options)
        if reason is None:
            eligible.append(name)
        else:
            skipped.append(SkippedLayer(name, describe_conv(module), *reason))
    return eligible, skipped


def separable(conv: nn.modules.conv._ConvNd, options: SepifyOptions) -> SeparableConv:
    """The depthwise + pointwise replacement of ``conv`` (same rank, geometry and padding
    mode), on its device and dtype, in its mode."""
    base = _base(conv)
    cin, cout = conv.in_channels, conv.out_channels
    where = {"device": conv.weight.device, "dtype": conv.weight.dtype}
    geometry = (conv.kernel_size, conv.stride, conv.padding, conv.dilation)
    layers: dict[str, nn.Module] = {
        "depthwise": base(
            cin, cin, *geometry, groups=cin, bias=False, padding_mode=conv.padding_mode, **where
        )
    }
    if options.bn:
        layers["bn"] = NORMS[base](cin, **where)
    if options.act:
        layers["act"] = build_op(Act(Shape(cin, 1, 1), options.act))
    pointwise = base(cin, cout, 1, bias=conv.bias is not None, **where)
    if conv.bias is not None:
        with torch.no_grad():
            pointwise.bias.copy_(conv.bias)
    layers["pointwise"] = pointwise
    kind = SeparableConv2d if base is nn.Conv2d else SeparableConv
    return kind(OrderedDict(layers)).train(conv.training)


def swap(model: nn.Module, names: list[str], options: SepifyOptions) -> nn.Module:
    """Replace the convolutions at ``names`` in ``model`` itself (every path a shared module
    is registered at); returns the model, or the replacement when the model is one conv."""
    targets = dict.fromkeys(model.get_submodule(n) for n in names)
    new = {conv: separable(conv, options) for conv in targets}
    if model in new:
        return new[model]
    for path, module in list(model.named_modules(remove_duplicate=False)):
        if module in new:
            parent, _, child = path.rpartition(".")
            setattr(model.get_submodule(parent), child, new[module])
    return model


def save_converted(model: nn.Module, report: SepifyReport, path: str | Path) -> Path:
    """Write ``{"state_dict": ..., "sepprof": report}`` with ``torch.save``, atomically."""
    buffer = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "sepprof": report.to_dict()}, buffer)
    return write_atomic(path, buffer.getvalue())


def load_converted(model: nn.Module, path: str | Path) -> nn.Module:
    """Rebuild a saved conversion: convert the same layers of ``model`` (a fresh copy of the
    original architecture) with the same options, then load the saved weights."""
    try:
        saved = torch.load(Path(path), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise UserError(f"{path}: cannot load: {one_line(exc)}") from exc
    if not isinstance(saved, dict) or "sepprof" not in saved or "state_dict" not in saved:
        raise UserError(f"{path}: not a file written by sepprof sepify --save")
    report = saved["sepprof"]
    names = [c["name"] for c in report["converted"]]
    options = SepifyOptions.from_dict(report["options"])
    converted = swap(copy.deepcopy(model), names, options)
    try:
        converted.load_state_dict(saved["state_dict"])
    except RuntimeError as exc:
        raise UserError(f"{path}: does not fit this model: {one_line(exc)}") from exc
    return converted
