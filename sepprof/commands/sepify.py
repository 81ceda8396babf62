"""``sepprof sepify``: replace each eligible standard convolution of a model by a depthwise conv
(same kernel, stride, padding, padding mode and dilation) and a pointwise 1x1 conv, optionally
with BatchNorm and an activation between them, and report what that saves layer by layer
(model -> plan -> convert -> count both -> verify -> time -> report).

The input model is never changed: the conversion works on a deep copy (see ``conversion``).
On the given inputs a forward pass checks that every converted layer and the model return the
shapes they did; the new depthwise and pointwise weights are freshly initialised (the original
bias is kept on the pointwise conv), so a converted model needs fine-tuning before use.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from sepprof.commands.model_profile import time_modules
from sepprof.count.costs import COUNTING_RULE
from sepprof.count.model_count import FORWARD_NOTE, Counted, count_model, scope_counts
from sepprof.count.sepify_rows import layer_rows
from sepprof.count.trace import Scope
from sepprof.environment import environment
from sepprof.errors import UserError
from sepprof.models.conversion import (
    ConversionError,
    SeparableConv,
    SeparableConv2d,
    describe_conv,
    excluded_by,
    load_converted,
    plan,
    save_converted,
    skip_reason,
    swap,
)
from sepprof.models.model import ModelInputs, as_inputs, one_line
from sepprof.results.sepify import (
    ACTIVATIONS,
    SEPIFY_SCHEMA,
    ConvertedLayer,
    SepifyOptions,
    SepifyReport,
    SkippedLayer,
)
from sepprof.timing.options import Progress
from sepprof.units import DTYPE_BYTES

__all__ = [
    "ACTIVATIONS",
    "SEPIFY_SCHEMA",
    "ConversionError",
    "Converted",
    "ConvertedLayer",
    "SeparableConv",
    "SeparableConv2d",
    "SepifyOptions",
    "SepifyReport",
    "SkippedLayer",
    "convert",
    "describe_conv",
    "load_converted",
    "plan",
    "save_converted",
    "sepify",
    "skip_reason",
    "swap",
]

BEFORE, AFTER = "before", "after"
MODEL = "model"
FRESH_WEIGHTS = (
    "converted layers have new, randomly initialised depthwise and pointwise weights (the "
    "original bias is kept on the pointwise conv): fine-tune before using the model's outputs"
)


@dataclass(frozen=True)
class Converted:
    """A converted copy of a model and the report of its conversion."""

    model: nn.Module
    report: SepifyReport


def sepify(
    model: nn.Module,
    *,
    exclude: list[str] | tuple[str, ...] = (),
    min_channels: int = 1,
    bn: bool = False,
    act: str | None = None,
    input_shape: tuple[int, ...] | ModelInputs | None = None,
) -> nn.Module:
    """A copy of ``model`` with every eligible standard convolution (kernel > 1, groups 1, not
    transposed) replaced by depthwise + pointwise; ``model`` is left as it was.

    With ``input_shape`` (a shape or ``ModelInputs``) only layers that run on it are converted,
    and a forward pass checks every output shape (``ConversionError`` otherwise); see
    ``convert`` for the report."""
    if input_shape is not None:
        opts = {"exclude": exclude, "min_channels": min_channels, "bn": bn, "act": act}
        return convert(model, input_shape, trace=False, **opts).model
    options = SepifyOptions(tuple(exclude), min_channels, bn, act).check()
    names, _ = plan(model, options)
    return swap(copy.deepcopy(model), names, options)


def _runnable(
    names: list[str], scopes: dict[str, Scope], model: nn.Module
) -> tuple[list[str], list[SkippedLayer]]:
    """Eligible layers that ran exactly once, on a batched input (their costs are known)."""
    keep, skipped = [], []
    for name in names:
        module = model.get_submodule(name)
        calls = scopes[name].calls if name in scopes else ()
        if len(calls) == 1 and len(calls[0].inp) == len(module.kernel_size) + 2:
            keep.append(name)
            continue
        if not calls:
            code, reason = "not_called", "did not run on this input"
        elif len(calls) > 1:
            code, reason = "shared", f"ran {len(calls)} times per forward pass (a shared module)"
        else:
            code, reason = "input", f"ran on a {calls[0].inp} input, not a batched one"
        skipped.append(SkippedLayer(name, describe_conv(module), code, reason))
    return keep, skipped


def _output_shapes(output: Any) -> list[tuple[int, ...]]:
    from torch.utils._pytree import tree_flatten

    return [tuple(t.shape) for t in tree_flatten(output)[0] if isinstance(t, torch.Tensor)]


def verify(names: list[str], before: Counted, after: Counted) -> None:
    """Every converted layer and the model's outputs keep their shapes, else ConversionError."""
    for name in names:
        old = [c.out for c in before.scopes[name].calls]
        new = [c.out for c in after.scopes[name].calls] if name in after.scopes else []
        if old != new:
            raise ConversionError(f"sepify: {name}: output shape changed from {old} to {new}")
    old, new = _output_shapes(before.output), _output_shapes(after.output)
    if old != new:
        raise ConversionError(f"sepify: the model's output shapes changed from {old} to {new}")


def _count_converted(model: nn.Module, inputs: ModelInputs, trace: bool, size: int) -> Counted:
    """Count the converted model; a forward that now fails is a ConversionError, not bad input."""
    try:
        return count_model(model, inputs, trace=trace, itemsize=size)
    except UserError as exc:
        cause = one_line(exc.__cause__) if exc.__cause__ else str(exc)
        raise ConversionError(
            f"sepify: the converted model's forward() raised {cause} (does the model use a "
            "converted conv's weight directly? --exclude that layer)"
        ) from exc.__cause__


def _traced(layer: ConvertedLayer, before: Counted, after: Counted) -> ConvertedLayer:
    """Add the tracer's counts of the original conv and of each module of its replacement."""
    stages = tuple(scope_counts(after, f"{layer.name}.{s.name}", s) for s in layer.after.stages)
    after_row = replace(scope_counts(after, layer.name, layer.after), stages=stages)
    return replace(layer, before=scope_counts(before, layer.name, layer.before), after=after_row)


def _time(
    original: nn.Module,
    converted: nn.Module,
    report: SepifyReport,
    scopes: dict[str, Scope],
    inputs: ModelInputs,
    timing: Any,
    progress: Progress | None,
) -> SepifyReport:
    """Time each layer before and after, and both whole models, in the same rounds."""
    modules = {f"{MODEL}/{BEFORE}": (original, inputs), f"{MODEL}/{AFTER}": (converted, inputs)}
    rows = {f"{MODEL}/{BEFORE}": report.before, f"{MODEL}/{AFTER}": report.after}
    for layer in report.converted:
        x = ModelInputs.of(torch.randn(*scopes[layer.name].calls[0].inp))
        modules[f"{layer.name}/{BEFORE}"] = (original.get_submodule(layer.name), x)
        modules[f"{layer.name}/{AFTER}"] = (converted.get_submodule(layer.name), x)
        rows.update({f"{layer.name}/{BEFORE}": layer.before, f"{layer.name}/{AFTER}": layer.after})
    measured = time_modules(modules, rows, timing, progress)
    timed = dict(zip(rows, measured.rows, strict=True))
    layers = tuple(
        replace(c, before=timed[f"{c.name}/{BEFORE}"], after=timed[f"{c.name}/{AFTER}"])
        for c in report.converted
    )
    return replace(
        report,
        environment={**report.environment, **measured.environment},
        converted=layers,
        before=timed[f"{MODEL}/{BEFORE}"],
        after=timed[f"{MODEL}/{AFTER}"],
        notes=report.notes + measured.notes,
    )


def _notes(
    options: SepifyOptions, model: nn.Module, names: list[str], counted: Counted
) -> list[str]:
    notes = [FRESH_WEIGHTS] if names else []
    paths = [n for n, m in model.named_modules() if isinstance(m, nn.modules.conv._ConvNd)]
    for pattern in options.exclude:
        if not any(excluded_by(p, (pattern,)) for p in paths):
            notes.append(f"--exclude {pattern!r} matched no convolution")
    notes += [f"whole model: {n}" for n in counted.notes if n != FORWARD_NOTE]
    return notes + _uncounted(counted)


def _uncounted(counted: Counted) -> list[str]:
    """The ops the tracer could not count in the converted model, by name (their rows are
    left out of the whole-model count)."""
    ops: Counter[str] = Counter()
    for row in counted.rows:
        ops.update(row.uncounted_ops)
    listed = ", ".join(f"{k} ×{v}" for k, v in sorted(ops.items()))
    return (
        [f"whole model: ops the tracer could not count (their rows are left out): {listed}"]
        if ops
        else []
    )


def _describe(model: nn.Module, inputs: ModelInputs, name: str | None) -> dict[str, Any]:
    kind = type(model)
    first = inputs.tensors[0].shape if inputs.tensors else ()
    return {
        "name": name or kind.__name__,
        "class": f"{kind.__module__}.{kind.__qualname__}",
        "input": list(first),
        "inputs": inputs.text,
    }


def _in_model_order(model: nn.Module, skipped: list[SkippedLayer]) -> tuple[SkippedLayer, ...]:
    order = {n: i for i, (n, _) in enumerate(model.named_modules())}
    return tuple(sorted(skipped, key=lambda s: order[s.name]))


def convert(
    model: nn.Module,
    inputs: ModelInputs | tuple[int, ...],
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
    """Convert a copy of ``model`` (see ``sepify``) and report, on ``inputs``, each layer's
    params and MACs before and after (traced when ``trace``), the skipped layers and why, the
    whole model before and after, and latencies (``timing``, a ``timing.TimingOptions``)."""
    options = SepifyOptions(tuple(exclude), min_channels, bn, act).check()
    inputs = as_inputs(inputs)
    dtype = getattr(timing, "dtype", "fp32")
    itemsize = DTYPE_BYTES[dtype]
    before = count_model(model, inputs, trace=trace, itemsize=itemsize)
    eligible, skipped = plan(model, options)
    names, idle = _runnable(eligible, before.scopes, model)
    converted_model = swap(copy.deepcopy(model), names, options)
    after = _count_converted(converted_model, inputs, trace, itemsize) if names else before
    verify(names, before, after)
    layers = [
        layer_rows(n, model.get_submodule(n), before.scopes[n].calls[0].inp, options, itemsize)
        for n in names
    ]
    if before.traced and after.traced:
        layers = [_traced(layer, before, after) for layer in layers]
    notes = _notes(options, model, names, after)
    report = SepifyReport(
        environment(dtype=dtype, batch=inputs.batch),
        _describe(model, inputs, name),
        options,
        tuple(layers),
        _in_model_order(model, skipped + idle),
        replace(before.totals, name="before"),
        replace(after.totals, name="after"),
        tuple(notes),
        COUNTING_RULE,
    )
    if timing is not None and names:
        report = _time(model, converted_model, report, before.scopes, inputs, timing, progress)
    return Converted(converted_model, report)
