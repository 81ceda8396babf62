"""``sepprof compare``: one layer, every variant side by side (spec, variants, pipeline, result).

Analytic costs are always computed; tracing and timing import torch and fvcore only when asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sepprof.count.costs import COUNTING_RULE, theory_ratio
from sepprof.count.memory import blocks_bytes, estimate_bytes
from sepprof.environment import environment
from sepprof.errors import UserError
from sepprof.pipeline import Backward, Traced, block_target, measure
from sepprof.results import CompareResult, CompareSet, Row
from sepprof.results.compare import comparisons
from sepprof.results.drift import Drift
from sepprof.spec.blocks import layer_variant
from sepprof.spec.layer import LayerSpec, VariantSpec, load_layers, parse_variants, validate_flags
from sepprof.spec.ops import Block
from sepprof.timing.options import Progress
from sepprof.units import DTYPE_BYTES

DEFAULT_VARIANTS = "standard,separable"


def compare(
    layer: LayerSpec | Mapping[str, Any] | None = None,
    variants: str | Sequence[str | VariantSpec] = DEFAULT_VARIANTS,
    *,
    trace: bool = True,
    timing: Any = None,
    stages: bool = True,
    progress: Progress | None = None,
    train: bool = False,
    **layer_fields: Any,
) -> CompareResult:
    """Compare variants of one layer: analytic counts, traced counts (``trace``) and latency
    (``timing``, a ``TimingOptions``) of each variant and, with ``stages``, of each stage; the
    backward pass counted too with ``timing``'s mode train, or ``train`` when not timed.

    >>> r = compare(k=3, cin=256, cout=256, variants=["standard", "separable"], trace=False)
    >>> round(r.comparisons[0].macs_ratio, 5)
    0.11502
    """
    spec = as_layer(layer, layer_fields)
    chosen = as_variants(variants, spec)
    if getattr(timing, "processes", 1) > 1:
        from sepprof.timing.workers import warm_up

        warm_up()  # the fork server imports torch while this process traces
    itemsize = DTYPE_BYTES[getattr(timing, "dtype", "fp32")]
    blocks = [layer_variant(spec, v) for v in chosen]
    largest = max(blocks, key=lambda b: _ops_bytes(b, spec.batch, itemsize))
    measured = measure(
        [block_target(b, spec.batch, itemsize) for b in blocks],
        batch=spec.batch,
        itemsize=itemsize,
        trace=(lambda: _trace(blocks, spec.batch)) if trace else None,
        backward=lambda: _backward(blocks, spec.batch, trace),
        train=train,
        trace_bytes=_ops_bytes(largest, spec.batch, itemsize),
        trace_what=f"variant {largest.name}",
        items=lambda device: _items(blocks, spec.batch, device, timing, stages),
        timing=timing,
        time_bytes=blocks_bytes(blocks, spec.batch, itemsize, stages),
        progress=progress,
    )
    env = environment(dtype=getattr(timing, "dtype", "fp32"), **measured.environment)
    rows = measured.rows
    notes = (*measured.notes, *_folding(blocks, spec.batch, measured.environment))
    theory = {r.name: theory_ratio(rows[0].kind, r.kind, r.name, spec.cout, spec.k) for r in rows}
    drift = _drift(env, rows, _item(spec, timing) if timing else "")
    compared = tuple(comparisons(rows, theory, drift))
    if drift:
        _remember(env, _item(spec, timing), compared)
        notes = (*notes, *(f"{d}: {drift[d].source}" for d in drift))
    return CompareResult(env, spec.model_dump(), rows, compared, notes, COUNTING_RULE)


def _item(spec: LayerSpec, timing: Any) -> str:
    """What was timed, as the drift store keys it (the layer and how it was timed)."""
    how = (spec.model_dump_json(), timing.dtype, timing.memory_format, timing.backend, timing.mode)
    return "|".join(map(str, (*how, timing.min_time)))


def _drift(env: Mapping[str, Any], rows: tuple[Row, ...], item: str) -> dict[str, Drift]:
    """Per timed device, the drift this machine showed between earlier commands (this layer's
    own when it was timed often enough)."""
    from sepprof.timing.drift import SPEEDUP, load_drift

    threads = env.get("threads", 1)
    return {d: load_drift(d, threads, SPEEDUP, item) for d in rows[0].latency_ms}


def _remember(env: Mapping[str, Any], what: str, compared: tuple) -> None:
    """Store this command's speedups for the next command's drift (keyed by what was timed)."""
    from sepprof.timing.drift import record, speedup_estimates

    for device in {d for c in compared for d in c.speedup}:
        speedups = {
            f"{what}|{c.baseline}->{c.variant}": c.speedup[device]
            for c in compared
            if device in c.speedup
        }
        record(device, env.get("threads", 1), speedup_estimates(speedups))


def compare_file(
    path: str | Path,
    variants: str | Sequence[str] | None = None,
    *,
    trace: bool = True,
    timing: Any = None,
    progress: Progress | None = None,
    train: bool = False,
) -> CompareSet:
    """``compare --config``: every layer of a layers file (``variants`` overrides the file's),
    each layer's variants checked before anything is measured."""
    layers, file_variants = load_layers(path)
    names = (file_variants or DEFAULT_VARIANTS) if variants is None else variants
    chosen = [as_variants(names, layer) for layer in layers]
    results = [
        compare(layer, picked, trace=trace, timing=timing, progress=progress, train=train)
        for layer, picked in zip(layers, chosen, strict=True)
    ]
    return CompareSet(str(path), tuple(results))


def compare_modes(
    layer: LayerSpec | Mapping[str, Any] | None,
    variants: str | Sequence[str | VariantSpec],
    timings: Sequence[Any],
    trace: bool = True,
    progress: Progress | None = None,
    train: bool = False,
) -> CompareResult | CompareSet:
    """``--mode inference,train``: the same layer timed once per mode (one ``TimingOptions``
    each), as one set whose results the summary shows side by side; one mode, one result.
    Untimed (``[None]``), one result, its backward pass counted when ``train``."""
    run = dict(trace=trace, progress=progress)
    results = [
        compare(layer, variants, timing=t, train=train and t is None, **run) for t in timings
    ]
    if len(results) == 1:
        return results[0]
    modes = ",".join(getattr(t, "mode", "inference") for t in timings)
    return CompareSet(f"--mode {modes}", tuple(results))


def mismatched(result: CompareResult | CompareSet) -> bool:
    """True when a traced count differs from the analytic one (``--strict``)."""
    results = result.results if isinstance(result, CompareSet) else (result,)
    rows = [row for r in results for v in r.variants for row in (v, *v.stages)]
    return any(row.traced_ok is False for row in rows)


def as_layer(layer: LayerSpec | Mapping[str, Any] | None, fields: Mapping[str, Any]) -> LayerSpec:
    """A validated layer from a ``LayerSpec``, a dict of its fields, or keyword arguments."""
    if isinstance(layer, LayerSpec):
        if fields:
            raise UserError(
                f"compare: give a LayerSpec or layer fields, not both ({sorted(fields)})"
            )
        return layer
    if layer is not None and not isinstance(layer, Mapping):
        raise UserError(f"compare: layer must be a LayerSpec or a dict, not {type(layer).__name__}")
    return validate_flags(LayerSpec, {**(layer or {}), **fields})


def as_variants(variants: str | Sequence[str | VariantSpec], layer: LayerSpec) -> list[VariantSpec]:
    """Variants from a comma-separated string or a list of names or ``VariantSpec``s."""
    names = [str(v) for v in variants] if not isinstance(variants, str) else variants
    try:
        return parse_variants(names, layer)
    except ValueError as exc:
        raise UserError(f"--variants: {exc}") from None


def _ops_bytes(block: Block, batch: int, itemsize: int) -> int:
    return estimate_bytes([op for s in block.stages for op in s.ops], batch, itemsize)


def _trace(blocks: list[Block], batch: int) -> Traced:
    """sepprof's traced counts for each variant and its stages, keyed like the targets, with
    torch's and fvcore's MACs of each variant as peer checks."""
    from sepprof.count.peer import fvcore_block, skipped_note
    from sepprof.count.trace import trace_block

    counts: dict[str, Any] = {}
    torch_macs: dict[str, int] = {}
    for block in blocks:
        traced, torch_macs[block.name] = trace_block(block, batch)
        counts.update({f"{block.name}/{s.name}": traced[s.name] for s in block.stages})
        counts[block.name] = traced[""]
    peers = {b.name: fvcore_block(b, batch) for b in blocks}
    fvcore = {k: p.macs for k, p in peers.items()}
    return Traced(counts, torch_macs, fvcore, tuple(skipped_note(peers)))


def _backward(blocks: list[Block], batch: int, trace: bool) -> Backward:
    """``--mode train``: each variant's and stage's backward MACs by the rule, and each
    variant's by torch's counter (``trace``) as the peer check."""
    from sepprof.count.backward import block_rows

    counts: dict[str, tuple[int, int | None, int | None]] = {}
    for block in blocks:
        rows = block_rows(block, batch)
        counts.update({k: (c.macs, None, None) for k, c in rows.items()})
        if trace:
            from sepprof.count.backward_trace import block_step

            step = block_step(block, batch)
            counts[block.name] = (
                rows[block.name].macs,
                step.backward_macs_corrected,
                step.grad_weight_excess,
            )
    return counts


def _folding(blocks: list[Block], batch: int, env: dict[str, Any]) -> list[str]:
    """What the backend that ran folded away (BatchNorm into the conv), for the eltwise column."""
    from sepprof.backends.folding import blocks_note

    note = blocks_note(blocks, batch, env) if env.get("timed") else None
    return [note] if note else []


def _items(blocks: list[Block], batch: int, device: str, timing: Any, stages: bool) -> dict:
    from sepprof.timing.measure import block_items

    return {k: v for b in blocks for k, v in block_items(b, batch, device, timing, stages).items()}
