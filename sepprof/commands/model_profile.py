"""``sepprof profile --model``: any PyTorch model counted row by row (``model_count``) in one
traced forward pass, then timed whole (model -> count -> time -> result)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from torch import nn

from sepprof.commands.layer_times import LAYER_TIMES, model_items, profiler_layers, time_layers
from sepprof.commands.profile import NETWORK, by_type
from sepprof.count.costs import COUNTING_RULE
from sepprof.count.model_count import Counted, count_model
from sepprof.environment import environment
from sepprof.models.model import ModelInputs, as_inputs
from sepprof.pipeline import Target, measure, trains
from sepprof.results import ProfileResult, Row
from sepprof.timing.options import Progress
from sepprof.units import DTYPE_BYTES

WHOLE_NOTE = "a --model network is timed whole, as one call (no per-layer times)"
REPLAY_ONLY = "per-layer times replay layers in eager inference only"
MEMORY_HINT = "use a smaller --input"

__all__ = ["Counted", "count_model", "model_items", "profile_model"]


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


def _whole_only(timing: Any, layer_times: str) -> str:
    """Why the model is timed whole only (empty: its layers are timed too)."""
    if layer_times == "off":
        return WHOLE_NOTE + " (--layer-times off)"
    if timing.backend != "eager" or timing.mode != "inference":
        return f"{WHOLE_NOTE}: {REPLAY_ONLY} (--backend {timing.backend}, --mode {timing.mode})"
    return ""


def _sum_note(rows: tuple[Row, ...], totals: Row) -> list[str]:
    """The sum of the layer times beside the whole network's, per device, and the gap."""
    notes = []
    for device, whole in totals.latency_ms.items():
        parts = [r.latency_ms[device].median for r in rows if device in r.latency_ms]
        if not parts or not whole.median:
            continue
        total = sum(parts)
        notes.append(
            f"{device}: the {len(parts)} layer times add up to {total:.3g} ms, the whole network "
            f"took {whole.median:.3g} ms ({total / whole.median - 1:+.0%}); layers timed alone "
            "need not add up to the whole (fusion, dispatch, caches, ops in forward() code)"
        )
    return notes


def _backward(
    model: nn.Module, counted: Counted, inputs: ModelInputs, trace: bool, notes: list[str]
) -> tuple[tuple[Row, ...], Row]:
    """Rows and totals with ``--mode train``'s backward MACs: by the rule on each row, and
    torch's counter on the whole model (``trace``; a note where it cannot run one step)."""
    from sepprof.count.backward import model_rows

    trainable = [(r.macs_analytic, r.params + r.norm_params > 0) for r in counted.rows]
    costs = model_rows(trainable)
    rows = tuple(replace(r, macs_backward=c.macs) for r, c in zip(counted.rows, costs, strict=True))
    totals = replace(counted.totals, macs_backward=sum(c.macs for c in costs))
    if trace:
        step, why = _torch_step(model, counted, inputs)
        if step is None:
            notes.append(f"--mode train: torch's counter did not check the backward MACs ({why})")
        else:
            totals = replace(
                totals,
                macs_backward_flop_counter=step.backward_macs_corrected,
                macs_backward_flop_counter_excess=step.grad_weight_excess,
            )
    return rows, totals


def _torch_step(model: nn.Module, counted: Counted, inputs: ModelInputs) -> tuple[Any, str]:
    """torch's count of one training step of the model, or None and why not."""
    import torch

    from sepprof.count.backward_trace import model_step

    if inputs.kwargs or not all(isinstance(a, torch.Tensor) for a in inputs.args):
        return None, "the model takes keyword or non-tensor inputs"
    if not isinstance(counted.output, torch.Tensor):
        return None, "the model's output is not one tensor"
    try:
        return model_step(model, inputs.args), ""
    except (RuntimeError, ValueError) as exc:
        return None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _network(model: nn.Module, inputs: ModelInputs, name: str | None) -> dict[str, Any]:
    kind = type(model)
    first = inputs.tensors[0].shape if inputs.tensors else ()
    listed = bool(inputs.args) and isinstance(inputs.args[0], list)  # a detector's images
    sample = list(first if listed else first[1:])
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
    train: bool = False,
    layer_times: str = "replay",
    depth: int | None = None,
) -> ProfileResult:
    """Profile any model on ``inputs`` (a ``ModelInputs``, or one input's shape): analytic rows
    checked by the tracer and torch's counter (``trace``), totals that are sums of rows, by-type
    shares, and the whole network's latency (``timing``).

    The model runs in eval mode and gets its mode back; ``name`` labels it (the ``--model``
    spec, say). With ``timing``'s mode train, or ``train`` when not timed, each row and the
    totals also get the backward pass's MACs (``count.backward.model_rows``), the totals checked
    by torch's counter (``trace``)."""
    from sepprof.backends.prepare import check_choice

    check_choice("--layer-times", layer_times, LAYER_TIMES)
    inputs = as_inputs(inputs)
    dtype = getattr(timing, "dtype", "fp32")
    done = progress("counting the model", 1) if progress else None
    counted = count_model(model, inputs, trace=trace, itemsize=DTYPE_BYTES[dtype])
    if done:
        done()
    rows, totals, notes = counted.rows, counted.totals, list(counted.notes)
    if trains(timing, train):
        rows, totals = _backward(model, counted, inputs, trace, notes)
    extra: dict[str, Any] = {"dtype": dtype, "batch": inputs.batch}
    if timing is not None:
        whole_only = _whole_only(timing, layer_times)
        if whole_only:
            measured = time_modules({NETWORK: (model, inputs)}, {NETWORK: totals}, timing, progress)
            totals, env, timed = measured.rows[0], measured.environment, [*measured.notes]
        elif layer_times == "profiler":  # no paired measurement: only the threads to say
            rows, totals, timed = profiler_layers(
                model, inputs, counted, rows, totals, timing, depth
            )
            env = {"threads": timing.thread_count()}
        else:
            rows, totals, measured = time_layers(
                model, inputs, counted, rows, totals, timing, depth, progress
            )
            env, timed = measured.environment, [*measured.notes]
        notes += [*timed, whole_only] if whole_only else [*timed, *_sum_note(rows, totals)]
        extra.update(env)
    return ProfileResult(
        environment(**{**extra, "traced": counted.traced, "timed": timing is not None}),
        _network(model, inputs, name),
        rows,
        by_type(list(rows)),
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
