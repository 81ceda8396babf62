"""``sepprof profile --model``: any PyTorch model counted row by row (``model_count``) in one
traced forward pass, then timed whole (model -> count -> time -> result)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from torch import nn

from sepprof.commands.profile import NETWORK, by_type
from sepprof.count.costs import COUNTING_RULE
from sepprof.count.model_count import Counted, count_model
from sepprof.environment import environment
from sepprof.models.model import ModelInputs, as_inputs
from sepprof.pipeline import Target, measure
from sepprof.results import ProfileResult
from sepprof.timing.options import Progress
from sepprof.units import DTYPE_BYTES

WHOLE_NOTE = "a --model network is timed whole, as one call (no per-layer times)"
MEMORY_HINT = "use a smaller --input"

__all__ = ["Counted", "count_model", "model_items", "profile_model"]


def _on(model: nn.Module, device: str, timing: Any) -> nn.Module:
    """An eval-mode copy of ``model`` on ``device`` in the timing dtype and memory format."""
    from sepprof.models.variants import DTYPES, memory_format

    fmt = memory_format(timing.memory_format)
    dtype = DTYPES[timing.dtype]
    return copy.deepcopy(model).eval().to(device=device, dtype=dtype, memory_format=fmt)


def model_items(
    modules: dict[str, tuple[nn.Module, ModelInputs]], device: str, timing: Any
) -> dict[str, Callable[[], Any]]:
    """Timed calls (label -> module called on its inputs), each module an eval-mode copy on
    ``device``, its floating-point inputs in the timing dtype."""
    from sepprof.backends.prepare import timed_item
    from sepprof.models.variants import DTYPES

    items = {}
    last = timing.memory_format == "channels_last"
    for label, (module, inputs) in modules.items():
        moved = inputs.to(device, DTYPES[timing.dtype], last)
        on = _on(module, device, timing)
        items[label] = timed_item(
            on, moved.args, device, timing, input_grad=False, kwargs=moved.kwargs
        )
    return items


def time_modules(
    modules: dict[str, tuple[nn.Module, ModelInputs]],
    rows: dict[str, Any],
    timing: Any,
    progress: Progress | None = None,
) -> Any:
    """Time modules in the same rounds and attach each one's latency to its row (label ->
    row); a ``pipeline.Measured`` whose rows follow ``rows``' order."""
    needed = sum(sum(t.numel() * t.element_size() for t in i.tensors) for _, i in modules.values())
    measured = measure(
        [Target(row, label, ()) for label, row in rows.items()],
        batch=1,
        itemsize=DTYPE_BYTES[timing.dtype],
        items=lambda device: model_items(modules, device, timing),
        timing=timing,
        time_bytes=needed,
        hint=MEMORY_HINT,
        progress=progress,
    )
    no_roof = tuple(replace(r, roofline={}) for r in measured.rows)  # no op list to bound them
    return replace(measured, rows=no_roof)


def _network(model: nn.Module, inputs: ModelInputs, name: str | None) -> dict[str, Any]:
    kind = type(model)
    first = inputs.tensors[0].shape if inputs.tensors else ()
    sample = list(first[1:])
    return {
        "name": name or kind.__name__,
        "source": f"{kind.__module__}.{kind.__qualname__}",
        "path": "",
        "input": sample,
        "inputs": inputs.text,
        "input_shapes": inputs.to_dict()["shapes"],
        "width_mult": 1.0,
        "resolution": sample[1] if len(sample) > 1 else None,
        "as": None,
        "reference": None,
        "model": name,
    }


def profile_model(
    model: nn.Module,
    inputs: ModelInputs | tuple[int, ...],
    *,
    trace: bool = True,
    timing: Any = None,
    progress: Progress | None = None,
    name: str | None = None,
) -> ProfileResult:
    """Profile any model on ``inputs`` (a ``ModelInputs``, or one input's shape): analytic rows
    checked by the tracer and torch's counter (``trace``), totals that are sums of rows, by-type
    shares, and the whole network's latency (``timing``).

    The model runs in eval mode and gets its mode back; ``name`` labels it (the ``--model``
    spec, say)."""
    inputs = as_inputs(inputs)
    dtype = getattr(timing, "dtype", "fp32")
    done = progress("counting the model", 1) if progress else None
    counted = count_model(model, inputs, trace=trace, itemsize=DTYPE_BYTES[dtype])
    if done:
        done()
    totals, notes = counted.totals, list(counted.notes)
    extra: dict[str, Any] = {"dtype": dtype, "batch": inputs.batch}
    if timing is not None:
        measured = time_modules({NETWORK: (model, inputs)}, {NETWORK: totals}, timing, progress)
        totals = measured.rows[0]
        extra.update(measured.environment)
        notes += [*measured.notes, WHOLE_NOTE]
    return ProfileResult(
        environment(**{**extra, "traced": counted.traced, "timed": timing is not None}),
        _network(model, inputs, name),
        counted.rows,
        by_type(list(counted.rows)),
        totals,
        None,
        tuple(notes),
        COUNTING_RULE,
    )


def profile_factory(
    model: str, shapes: list[str], inputs: Any, kwargs: Any, run: dict[str, Any]
) -> ProfileResult:
    """``profile --model``: the model its factory builds, profiled on the inputs given."""
    from sepprof.models.model import build_model, parse_inputs, parse_kwargs

    built = build_model(model, parse_kwargs(kwargs))
    return profile_model(built, parse_inputs(shapes, inputs), name=model, **run)
