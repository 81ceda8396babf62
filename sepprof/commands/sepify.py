"""``sepprof sepify``: replace each eligible standard k x k ``Conv2d`` of a model by a depthwise
k x k conv (same stride, padding and dilation) and a pointwise 1 x 1 conv, optionally with
BatchNorm and an activation between them, and report what that saves layer by layer.

The input model is never changed: the conversion works on a deep copy. With an input shape,
a forward pass checks that every converted layer and the model return the shapes they did;
the new depthwise and pointwise weights are freshly initialised (the original bias is kept on
the pointwise conv), so a converted model needs fine-tuning before its outputs mean anything.
"""

from __future__ import annotations

import copy
import fnmatch
import io
from collections import Counter, OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, get_args

import torch
from torch import nn

from sepprof.environment import environment
from sepprof.errors import UserError
from sepprof.files import write_atomic
from sepprof.model import one_line, random_input
from sepprof.model_profile import (
    FORWARD_NOTE,
    Counted,
    Seen,
    check_shape,
    conv_geometry,
    conv_op,
    count_model,
    square,
    time_modules,
)
from sepprof.ops import Act, ActKind, BatchNorm, Block, Conv, Shape, Stage
from sepprof.pipeline import Progress, block_row, stage_row, with_latency, with_trace
from sepprof.results import Row
from sepprof.units import DTYPE_BYTES
from sepprof.variants import build_op

SEPIFY_SCHEMA = "sepprof.sepify/1"
ACTIVATIONS: tuple[str, ...] = get_args(ActKind)
BEFORE, AFTER = "before", "after"
MODEL = "model"
FRESH_WEIGHTS = (
    "converted layers have new, randomly initialised depthwise and pointwise weights (the "
    "original bias is kept on the pointwise conv): fine-tune before using the model's outputs"
)


class ConversionError(UserError):
    """The converted model does not behave like the original (a shape changed, or its forward
    fails): one line naming the layer, exit code 2."""


class SeparableConv2d(nn.Sequential):
    """Depthwise k x k (+ BatchNorm) (+ activation) + pointwise 1 x 1, in place of a Conv2d."""


@dataclass(frozen=True)
class SepifyOptions:
    """What to convert: layers not matching ``exclude`` (globs on module paths, a parent's path
    excludes its children) with at least ``min_channels`` input channels; what goes between
    depthwise and pointwise (``bn``, ``act``)."""

    exclude: tuple[str, ...] = ()
    min_channels: int = 1
    bn: bool = False
    act: str | None = None

    def check(self) -> SepifyOptions:
        if self.min_channels < 1:
            raise UserError(f"--min-channels: must be >= 1 (got {self.min_channels})")
        if self.act is not None and self.act not in ACTIVATIONS:
            raise UserError(
                f"--act: unknown activation {self.act!r} (valid: {', '.join(ACTIVATIONS)})"
            )
        if any(not p.strip() for p in self.exclude):
            raise UserError("--exclude: empty pattern")
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "exclude": list(self.exclude),
            "min_channels": self.min_channels,
            "bn": self.bn,
            "act": self.act,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SepifyOptions:
        return cls(tuple(d.get("exclude", ())), d.get("min_channels", 1), d["bn"], d.get("act"))


@dataclass(frozen=True)
class SkippedLayer:
    """A convolution left as it was: ``code`` for grouping, ``reason`` for people."""

    name: str
    op: str
    code: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "code": self.code, "reason": self.reason}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SkippedLayer:
        return cls(d["name"], d["op"], d["code"], d["reason"])


@dataclass(frozen=True)
class ConvertedLayer:
    """A converted convolution: the standard conv (``before``) and its separable replacement
    (``after``, with one stage row per module: depthwise, bn, act, pointwise)."""

    name: str
    k: int
    stride: int
    cin: int
    cout: int
    before: Row
    after: Row

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "k": self.k,
            "stride": self.stride,
            "cin": self.cin,
            "cout": self.cout,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConvertedLayer:
        before, after = Row.from_dict(d["before"]), Row.from_dict(d["after"])
        return cls(d["name"], d["k"], d["stride"], d["cin"], d["cout"], before, after)


@dataclass(frozen=True)
class SepifyReport:
    """What a conversion did: converted layers before/after, skipped layers and why, and the
    whole model before/after (``None`` when no input shape was given)."""

    environment: dict[str, Any]
    model: dict[str, Any]
    options: SepifyOptions
    converted: tuple[ConvertedLayer, ...]
    skipped: tuple[SkippedLayer, ...]
    before: Row | None = None
    after: Row | None = None
    notes: tuple[str, ...] = ()
    schema: str = SEPIFY_SCHEMA

    @property
    def params_before(self) -> int:
        return sum(c.before.params + c.before.norm_params for c in self.converted)

    @property
    def params_after(self) -> int:
        """Parameters of the replacements, their BatchNorms included."""
        return sum(c.after.params + c.after.norm_params for c in self.converted)

    @property
    def macs_before(self) -> int:
        return sum(c.before.macs_analytic for c in self.converted)

    @property
    def macs_after(self) -> int:
        return sum(c.after.macs_analytic for c in self.converted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "sepprof_version": self.environment.get("sepprof", ""),
            "environment": self.environment,
            "model": self.model,
            "options": self.options.to_dict(),
            "converted": [c.to_dict() for c in self.converted],
            "skipped": [s.to_dict() for s in self.skipped],
            "converted_totals": {
                "layers": len(self.converted),
                "params_before": self.params_before,
                "params_after": self.params_after,
                "macs_before": self.macs_before,
                "macs_after": self.macs_after,
            },
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict() if self.after else None,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SepifyReport:
        return cls(
            d["environment"],
            d["model"],
            SepifyOptions.from_dict(d["options"]),
            tuple(ConvertedLayer.from_dict(c) for c in d["converted"]),
            tuple(SkippedLayer.from_dict(s) for s in d["skipped"]),
            Row.from_dict(d["before"]) if d.get("before") else None,
            Row.from_dict(d["after"]) if d.get("after") else None,
            tuple(d.get("notes", ())),
        )


@dataclass(frozen=True)
class Converted:
    """A converted copy of a model and the report of its conversion."""

    model: nn.Module
    report: SepifyReport


def describe_conv(module: nn.modules.conv._ConvNd) -> str:
    """``Conv2d 3x3/2 64->128`` (``g=`` when grouped)."""
    kernel = "x".join(str(k) for k in module.kernel_size)
    step = square(module.stride)
    stride = "" if step == 1 else f"/{step or 'x'.join(map(str, module.stride))}"
    groups = f" g={module.groups}" if module.groups > 1 else ""
    cin, cout = module.in_channels, module.out_channels
    return f"{type(module).__name__} {kernel}{stride}{groups} {cin}->{cout}"


def _excluded_by(name: str, patterns: tuple[str, ...]) -> str | None:
    """The first pattern matching ``name`` or one of its parents."""
    for pattern in patterns:
        if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name, pattern + ".*"):
            return pattern
    return None


def _structural(module: nn.modules.conv._ConvNd) -> tuple[str, str] | None:
    """Why a convolution cannot become depthwise + pointwise, whatever the options."""
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        return "transposed", "transposed convolution"
    if not isinstance(module, nn.Conv2d):
        return "not_conv2d", f"{type(module).__name__}: only Conv2d layers are converted"
    if type(module).forward is not nn.Conv2d.forward:
        return "custom_forward", f"{type(module).__name__} overrides Conv2d.forward"
    if tuple(module.kernel_size) == (1, 1):
        return "pointwise", "1x1 kernel (already pointwise)"
    if module.groups > 1:
        return "grouped", f"groups={module.groups} (already grouped or depthwise)"
    if module.padding_mode != "zeros":
        return "padding_mode", f"padding_mode {module.padding_mode!r} (only zero padding)"
    geometry = conv_geometry(module)
    return ("non_square", geometry) if isinstance(geometry, str) else None


def skip_reason(
    name: str, module: nn.modules.conv._ConvNd, options: SepifyOptions
) -> tuple[str, str] | None:
    """(code, reason) for a convolution that is not converted; None when it is eligible."""
    structural = _structural(module)
    if structural:
        return structural
    pattern = _excluded_by(name, options.exclude)
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


def separable(conv: nn.Conv2d, options: SepifyOptions) -> SeparableConv2d:
    """The depthwise + pointwise replacement of ``conv``, on its device and dtype, in its mode."""
    cin, cout = conv.in_channels, conv.out_channels
    where = {"device": conv.weight.device, "dtype": conv.weight.dtype}
    layers: dict[str, nn.Module] = {
        "depthwise": nn.Conv2d(
            cin,
            cin,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            groups=cin,
            bias=False,
            **where,
        )
    }
    if options.bn:
        layers["bn"] = nn.BatchNorm2d(cin, **where)
    if options.act:
        layers["act"] = build_op(Act(Shape(cin, 1, 1), options.act))
    pointwise = nn.Conv2d(cin, cout, 1, bias=conv.bias is not None, **where)
    if conv.bias is not None:
        with torch.no_grad():
            pointwise.bias.copy_(conv.bias)
    layers["pointwise"] = pointwise
    return SeparableConv2d(OrderedDict(layers)).train(conv.training)


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


def sepify(
    model: nn.Module,
    *,
    exclude: list[str] | tuple[str, ...] = (),
    min_channels: int = 1,
    bn: bool = False,
    act: str | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> nn.Module:
    """A copy of ``model`` with every eligible standard k x k Conv2d (k > 1, groups 1, zero
    padding, square) replaced by depthwise + pointwise; ``model`` is left as it was.

    With ``input_shape`` (N, C, H, W) only layers that run on that input are converted, and a
    forward pass checks every output shape (``ConversionError`` otherwise); see ``convert`` for
    the report."""
    if input_shape is not None:
        opts = {"exclude": exclude, "min_channels": min_channels, "bn": bn, "act": act}
        return convert(model, input_shape, trace=False, **opts).model
    options = SepifyOptions(tuple(exclude), min_channels, bn, act).check()
    names, _ = plan(model, options)
    return swap(copy.deepcopy(model), names, options)


def _runnable(
    names: list[str], seen: dict[str, Seen], model: nn.Module
) -> tuple[list[str], list[SkippedLayer]]:
    """Eligible layers that ran exactly once, on an N,C,H,W input (their costs are known)."""
    keep, skipped = [], []
    for name in names:
        calls = seen[name].calls if name in seen else ()
        if len(calls) == 1 and isinstance(conv_op(model.get_submodule(name), calls[0].inp), Conv):
            keep.append(name)
            continue
        if not calls:
            code, reason = "not_called", "did not run on this input"
        elif len(calls) > 1:
            code, reason = "shared", f"ran {len(calls)} times per forward pass (a shared module)"
        else:
            code, reason = "input", f"ran on a {calls[0].inp} input, not N,C,H,W"
        skipped.append(SkippedLayer(name, describe_conv(model.get_submodule(name)), code, reason))
    return keep, skipped


def _layer(
    name: str, conv: nn.Conv2d, seen: Seen, options: SepifyOptions, itemsize: int
) -> ConvertedLayer:
    """Analytic rows of one layer before and after, at the shape it ran on."""
    standard = conv_op(conv, seen.calls[0].inp)
    if isinstance(standard, str):
        raise ValueError(f"{name}: {standard}")  # _runnable lets only countable layers through
    batch = seen.calls[0].inp[0]
    dw = replace(standard, cout=standard.inp.c, groups=standard.inp.c, bias=False)
    stages = [Stage("depthwise", (dw,))]
    if options.bn:
        stages.append(Stage("bn", (BatchNorm(dw.out),)))
    if options.act:
        stages.append(Stage("act", (Act(dw.out, options.act),)))
    pw = Conv(dw.out, standard.cout, 1, bias=standard.bias)
    stages.append(Stage("pointwise", (pw,)))
    before = stage_row(Stage(name, (standard,)), batch, itemsize)
    after = block_row(Block(name, "separable", standard.inp, tuple(stages)), batch, itemsize)
    return ConvertedLayer(
        name,
        standard.k,
        standard.stride,
        standard.inp.c,
        standard.cout,
        before,
        replace(after, detail=_after_detail(stages)),
    )


def _after_detail(stages: list[Stage]) -> str:
    """``dw 3x3/2 + bn + relu + pw 64->128``."""
    dw, pw = stages[0].ops[0], stages[-1].ops[0]
    middle = "".join(f" + {s.ops[0].kind}" for s in stages[1:-1])
    stride = f"/{dw.stride}" if dw.stride > 1 else ""
    return f"dw {dw.k}x{dw.k}{stride}{middle} + pw {dw.inp.c}->{pw.cout}"


def _traced(layer: ConvertedLayer, before: dict[str, Any], after: dict[str, Any]) -> ConvertedLayer:
    """Add fvcore's counts of the original conv and of each module of its replacement."""
    stages = tuple(with_trace(s, after[f"{layer.name}.{s.name}"]) for s in layer.after.stages)
    after_row = replace(with_trace(layer.after, after[layer.name]), stages=stages)
    return replace(layer, before=with_trace(layer.before, before[layer.name]), after=after_row)


def _output_shapes(output: Any) -> list[tuple[int, ...]]:
    from torch.utils._pytree import tree_flatten

    return [tuple(t.shape) for t in tree_flatten(output)[0] if isinstance(t, torch.Tensor)]


def verify(names: list[str], before: Counted, after: Counted) -> None:
    """Every converted layer and the model's outputs keep their shapes, else ConversionError."""
    was = {s.name: s for s in before.seen}
    now = {s.name: s for s in after.seen}
    for name in names:
        old = [c.out for c in was[name].calls]
        new = [c.out for c in now[name].calls] if name in now else []
        if old != new:
            raise ConversionError(f"sepify: {name}: output shape changed from {old} to {new}")
    old, new = _output_shapes(before.output), _output_shapes(after.output)
    if old != new:
        raise ConversionError(f"sepify: the model's output shapes changed from {old} to {new}")


def _count_converted(model: nn.Module, x: torch.Tensor, trace: bool, itemsize: int) -> Counted:
    """Count the converted model; a forward that now fails is a ConversionError, not bad input."""
    try:
        return count_model(model, x, trace=trace, itemsize=itemsize)
    except UserError as exc:
        cause = one_line(exc.__cause__) if exc.__cause__ else str(exc)
        raise ConversionError(
            f"sepify: the converted model's forward() raised {cause} (does the model use a "
            "converted conv's weight directly? --exclude that layer)"
        ) from exc.__cause__


def _time(
    original: nn.Module,
    converted: nn.Module,
    layers: list[ConvertedLayer],
    seen: dict[str, Seen],
    shape: tuple[int, ...],
    timing: Any,
    progress: Progress | None,
) -> Any:
    """Time each layer before and after, and both whole models, in the same rounds."""
    modules = {f"{MODEL}/{BEFORE}": (original, shape), f"{MODEL}/{AFTER}": (converted, shape)}
    for layer in layers:
        inp = seen[layer.name].calls[0].inp
        modules[f"{layer.name}/{BEFORE}"] = (original.get_submodule(layer.name), inp)
        modules[f"{layer.name}/{AFTER}"] = (converted.get_submodule(layer.name), inp)
    return time_modules(modules, timing, progress)


def _with_times(report: SepifyReport, timings: Any) -> SepifyReport:
    layers = []
    before, after = report.before, report.after
    for device, lat in timings.latency.items():
        before = with_latency(before, device, lat[f"{MODEL}/{BEFORE}"])
        after = with_latency(after, device, lat[f"{MODEL}/{AFTER}"])
    for layer in report.converted:
        for device, lat in timings.latency.items():
            layer = replace(
                layer,
                before=with_latency(layer.before, device, lat[f"{layer.name}/{BEFORE}"]),
                after=with_latency(layer.after, device, lat[f"{layer.name}/{AFTER}"]),
            )
        layers.append(layer)
    env = {**report.environment, **timings.env}
    return replace(report, environment=env, converted=tuple(layers), before=before, after=after)


def _notes(
    options: SepifyOptions, model: nn.Module, names: list[str], counted: Counted
) -> list[str]:
    notes = [FRESH_WEIGHTS] if names else []
    paths = [n for n, m in model.named_modules() if isinstance(m, nn.modules.conv._ConvNd)]
    for pattern in options.exclude:
        if not any(_excluded_by(p, (pattern,)) for p in paths):
            notes.append(f"--exclude {pattern!r} matched no convolution")
    notes += [f"whole model: {n}" for n in counted.notes if n != FORWARD_NOTE]
    return notes + _uncounted(counted)


def _uncounted(counted: Counted) -> list[str]:
    """The ops fvcore could not count in the converted model, by name (their MACs are not in
    the whole-model count)."""
    ops: Counter[str] = Counter()
    for row in counted.rows:
        ops.update(row.uncounted_ops)
    listed = ", ".join(f"{k} ×{v}" for k, v in sorted(ops.items()))
    return (
        [f"whole model: ops the tracer could not count (left out of its counts): {listed}"]
        if ops
        else []
    )


def _describe(model: nn.Module, shape: tuple[int, ...], name: str | None) -> dict[str, Any]:
    kind = type(model)
    qualified = f"{kind.__module__}.{kind.__qualname__}"
    return {"name": name or kind.__name__, "class": qualified, "input": list(shape)}


def _in_model_order(model: nn.Module, skipped: list[SkippedLayer]) -> tuple[SkippedLayer, ...]:
    order = {n: i for i, (n, _) in enumerate(model.named_modules())}
    return tuple(sorted(skipped, key=lambda s: order[s.name]))


def convert(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    exclude: list[str] | tuple[str, ...] = (),
    min_channels: int = 1,
    bn: bool = False,
    act: str | None = None,
    trace: bool = True,
    timing: Any = None,
    progress: Progress | None = None,
    name: str | None = None,
) -> Converted:
    """Convert a copy of ``model`` (see ``sepify``) and report, at ``input_shape``, each layer's
    params and MACs before and after (traced when ``trace``), the skipped layers and why, the
    whole model before and after, and latencies (``timing``, a ``timing.TimingOptions``)."""
    options = SepifyOptions(tuple(exclude), min_channels, bn, act).check()
    shape = check_shape(input_shape)
    dtype = getattr(timing, "dtype", "fp32")
    itemsize = DTYPE_BYTES[dtype]
    x = random_input(shape)
    before = count_model(model, x, trace=trace, itemsize=itemsize)
    seen = {s.name: s for s in before.seen}
    eligible, skipped = plan(model, options)
    names, idle = _runnable(eligible, seen, model)
    converted_model = swap(copy.deepcopy(model), names, options)
    after = _count_converted(converted_model, x, trace, itemsize) if names else before
    verify(names, before, after)
    layers = [_layer(n, model.get_submodule(n), seen[n], options, itemsize) for n in names]
    if before.traced is not None and after.traced is not None:
        layers = [_traced(layer, before.traced, after.traced) for layer in layers]
    notes = _notes(options, model, names, after)
    report = SepifyReport(
        environment(dtype=dtype, batch=shape[0]),
        _describe(model, shape, name),
        options,
        tuple(layers),
        _in_model_order(model, skipped + idle),
        replace(before.totals, name="before"),
        replace(after.totals, name="after"),
        tuple(notes + ([] if timing else ["timing skipped (--no-time)"])),
    )
    if timing is not None and names:
        timings = _time(model, converted_model, layers, seen, shape, timing, progress)
        report = _with_times(report, timings)
    return Converted(converted_model, report)


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
