"""``sepprof check``: measure each budget's config or model and judge it (exit 0 pass, 1
exceeded).

Analytic metrics are exact. Latency, speedup and time shares are measured only when a budget
limits them, in rounds; a speedup compares the network as written with the same network
rewritten as standard convolutions (or, for a layers file, the budget's variant with
``standard``) timed in the same rounds, which keeps it usable on noisy CI machines. A time share
(``max_time_share``) times every layer of a network, or of a model (``profile --model``'s
replay), in the same rounds as the whole, and judges each layer type's share of the summed
layer time by its 95% interval.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from sepprof.commands.profile import stage_targets
from sepprof.count.costs import plan_cost
from sepprof.count.memory import blocks_bytes
from sepprof.environment import environment
from sepprof.errors import UserError
from sepprof.files import write_atomic
from sepprof.pipeline import Target, Traced, block_target, measure
from sepprof.results import CheckResult, Latency, ProfileResult, Row, Speedup
from sepprof.results.check import Measured, time_share_metrics, timed_intervals
from sepprof.results.drift import Drift
from sepprof.spec import json_inputs
from sepprof.spec.blocks import layer_variant
from sepprof.spec.budgets import Budget, LoadedBudgets, load_budgets
from sepprof.spec.layer import load_layers, parse_variants
from sepprof.spec.network import Options, is_network, load_network
from sepprof.spec.ops import Block, Plan
from sepprof.spec.verdicts import judge
from sepprof.timing.options import Progress

Extra = tuple[int, dict[str, tuple[float, float]]]  # bytes, 95% intervals of timed metrics
Metrics = tuple[dict[str, float], dict[str, str], Extra, dict[str, Any]]
BUDGET_HINT = "use a smaller batch or resolution in the budget"
MODEL_FLAGS = {"--model": "model", "--inputs": "inputs", "--input": "input", "--kwargs": "kwargs"}
WRITTEN, STANDARD = "as written", "as standard"


def read_baseline(path: str | Path) -> dict[str, dict[str, float]]:
    """The metrics of a baseline written by ``--update-baseline``."""
    return json_inputs.read_baseline(path)  # bounded, schema-checked (sepprof.spec.json_inputs)


def write_baseline(result: CheckResult, path: str | Path) -> Path:
    """Store a check result as the next baseline (atomically)."""
    return write_atomic(path, json.dumps(result.to_dict(), indent=2) + "\n")


def check(
    path: str | Path,
    *,
    baseline: str | Path | None = None,
    updating: bool = False,
    timing: Any = None,
    strict_timing: bool = False,
    progress: Progress | None = None,
) -> CheckResult:
    """Judge every budget of a budget file. ``timing`` is a ``TimingOptions`` template whose
    devices are replaced by each budget's. When ``updating`` the baseline, a missing baseline
    file (or budget in it) is not a regression.

    >>> r = check("configs/budgets/reference.yaml")
    >>> r.passed, exit_code(r)
    (True, 0)
    """
    loaded = load_budgets(path)
    for i, (budget, config) in enumerate(zip(loaded.budgets, loaded.configs, strict=True)):
        if budget.max_regression is not None and baseline is None:
            raise loaded.error(
                i,
                "max_regression",
                "needs --baseline FILE (create it with --baseline FILE --update-baseline)",
            )
        if config is None:
            _check_model(loaded, i)
        elif "variant" in budget.model_fields_set and is_network(config):
            raise loaded.error(
                i, "variant", f"applies to a layers file, not to the network {budget.config}"
            )
        elif budget.max_time_share and not is_network(config):
            raise loaded.error(
                i,
                "max_time_share",
                f"applies to a network or a model, not to the layers file {budget.config} "
                "(its layers are not one network's)",
            )
        for device in budget.devices():
            _check_device(loaded, i, device, timing)
    base, messages = _baseline(loaded, baseline, updating)
    verdicts, metrics, notes, timed, kept = [], {}, {}, {}, {}
    for i, (budget, config) in enumerate(zip(loaded.budgets, loaded.configs, strict=True)):
        if config is None:
            measured, noted, (size, bounds), conditions = _model(loaded, i, timing, progress)
        else:
            measured, noted, (size, bounds), conditions = _measure(budget, config, timing, progress)
        metrics[budget.name], notes[budget.name] = measured, noted
        variant = None if config is None or is_network(config) else budget.variant
        kept[budget.name] = Measured(budget.source, variant, size, bounds)
        timed |= conditions if conditions.get("timed") else {}
        before = (base or {}).get(budget.name, {} if updating else None)
        verdicts += judge(budget, measured, noted, before, strict_timing, bounds)
    env = environment(**timed)  # the conditions of the (last) timed budget, if any
    source = str(baseline) if baseline else None
    result = CheckResult(env, str(loaded.path), tuple(verdicts), metrics, notes, source, messages)
    return replace(result, measured=kept)


def _baseline(
    loaded: Any, baseline: str | Path | None, updating: bool
) -> tuple[dict[str, dict[str, float]] | None, tuple[str, ...]]:
    """The baseline's metrics, or None with a note when there is none yet: a missing file is an
    error only for a budget that limits regressions (and never while creating it)."""
    if baseline is None or (updating and not Path(baseline).exists()):
        return None, ()
    if Path(baseline).exists():
        return read_baseline(baseline), ()
    for i, budget in enumerate(loaded.budgets):
        if budget.max_regression is not None:
            raise loaded.error(
                i,
                "max_regression",
                f"baseline {baseline} not found (create it with --baseline FILE --update-baseline)",
            )
    return None, (
        f"note: baseline {baseline} not found, so nothing was compared with it; "
        "create it with --update-baseline (on main, kept between runs)",
    )


def publish(
    result: CheckResult, *, junit: Path | None = None, baseline: Path | None = None
) -> list[str]:
    """Write what a CI run keeps (JUnit XML, the next baseline, $GITHUB_STEP_SUMMARY); returns
    the lines to tell the user."""
    lines = list(result.messages)
    if junit is not None:
        from sepprof.render.junit import junit_xml

        write_atomic(junit, junit_xml(result))
    if baseline is not None:
        lines.append(f"baseline written to {write_baseline(result, baseline)}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        lines += _append_summary(result, summary)
    return lines


def _append_summary(result: CheckResult, summary: str) -> list[str]:
    """Append the table to $GITHUB_STEP_SUMMARY: a regular file (or none yet), never blocking
    on a FIFO or writing into a device."""
    import stat

    from sepprof.render.markdown import check_markdown

    try:
        mode = os.stat(summary).st_mode
    except OSError:
        mode = stat.S_IFREG  # not there yet: appending creates it
    if not stat.S_ISREG(mode):
        return [f"warning: GITHUB_STEP_SUMMARY {summary}: not a regular file; not written"]
    try:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(check_markdown(result) + "\n")
    except OSError as exc:
        return [f"warning: GITHUB_STEP_SUMMARY {summary}: cannot append ({exc.strerror})"]
    return []


def exit_code(result: CheckResult) -> int:
    """1 when a budget failed (with ``strict_timing``, inconclusive timing fails); else 0."""
    return 0 if result.passed else 1


def _check_device(loaded: Any, index: int, device: str, timing: Any) -> None:
    """Refuse, at the budget's line, a device it limits that this machine cannot time on."""
    from sepprof.timing.timer import check_device

    try:
        check_device(device, getattr(timing, "dtype", "fp32"))
    except UserError as exc:
        budget = loaded.budgets[index]
        limits = {"max_latency_ms": budget.max_latency_ms, "min_speedup": budget.min_speedup}
        key = next((k for k, v in limits.items() if device in (v or {})), "max_time_share")
        raise loaded.error(index, key, str(exc).split(": ", 1)[-1]) from None


def _check_model(loaded: LoadedBudgets, index: int) -> None:
    """Refuse, at the budget's line and before anything is measured, a model budget whose
    input shapes cannot be read or whose factory (or inputs function) cannot be imported."""
    from sepprof.models.model import load_factory, parse_shape

    budget = loaded.budgets[index]
    try:
        for shape in budget.input or ():
            parse_shape(shape)
        load_factory(str(loaded.models[index]))
        if loaded.inputs[index] is not None and not str(loaded.inputs[index]).startswith("["):
            load_factory(str(loaded.inputs[index]), "--inputs")
    except UserError as exc:
        raise _model_error(loaded, index, exc) from exc


def _model_error(loaded: LoadedBudgets, index: int, exc: UserError) -> Exception:
    """A ``--model``, ``--input(s)`` or ``--kwargs`` error of the model's code, located at the
    budget key that gave it (the message as ``profile --model`` words it, less the flag)."""
    message = str(exc)
    for flag, key in MODEL_FLAGS.items():
        if message.startswith(flag + " ") or message.startswith(flag + ":"):
            given = getattr(loaded.budgets[index], key)
            resolved = {"model": loaded.models[index], "inputs": loaded.inputs[index]}.get(key)
            rest = message.removeprefix(flag).lstrip(" :")
            if resolved and rest.startswith(resolved):
                rest = f"{given}{rest.removeprefix(resolved)}"
            return loaded.error(index, key, rest)
    return exc


def _model(loaded: LoadedBudgets, index: int, timing: Any, progress: Progress | None) -> Metrics:
    """A model budget: the model its factory builds, counted (traced) and, when the budget
    limits time, timed whole; with time shares, every layer too (``profile --model``)."""
    from sepprof.commands.model_profile import profile_model
    from sepprof.models.model import build_model, parse_inputs

    budget = loaded.budgets[index]
    opts = _timing(budget, timing)
    try:
        model = build_model(str(loaded.models[index]), budget.kwargs)
        inputs = parse_inputs(list(budget.input or ()), loaded.inputs[index])
        result = profile_model(
            model,
            inputs,
            trace=True,
            timing=opts,
            progress=progress,
            name=budget.model,
            layer_times="replay" if budget.max_time_share else "off",
        )
    except UserError as exc:
        raise _model_error(loaded, index, exc) from exc
    env = dict(result.environment)
    metrics, notes, (size, intervals) = _metrics(budget, result.totals, None, env)
    shares, why, bounds = _time_shares(budget, result)
    return metrics | shares, notes | why, (size, intervals | bounds), env


def _time_shares(
    budget: Budget, result: ProfileResult
) -> tuple[dict[str, float], dict[str, str], dict[str, tuple[float, float]]]:
    """The time share of each layer type the budget limits, on each device, with its 95%
    interval and why its timing cannot be trusted, where it cannot."""
    return time_share_metrics(result, [(kind, device) for kind, device, _ in budget.time_shares()])


def _measure(budget: Budget, config: Path, timing: Any, progress: Progress | None) -> Metrics:
    if is_network(config):
        network = load_network(config)
        plan = network.plan(Options(budget.width_mult, budget.resolution))
        standard = network.plan(Options(budget.width_mult, budget.resolution, "standard"))
        return _network_metrics(budget, plan, standard, timing, progress)
    return _layers_metrics(budget, config, timing, progress)


def _network_metrics(
    budget: Budget, plan: Plan, standard: Plan, timing: Any, progress: Progress | None
) -> Metrics:
    """The network as written (and, for a speedup, rewritten as standard convolutions)."""
    plans = {WRITTEN: plan, **({STANDARD: standard} if budget.min_speedup else {})}
    targets = [_plan_target(k, p, budget.batch) for k, p in plans.items()]
    layers = stage_targets(plan, budget.batch, 4) if budget.max_time_share else []
    opts = _timing(budget, timing)
    layer_bytes = blocks_bytes(list(plan.blocks), budget.batch, 4) if layers else 0
    measured = measure(
        targets + layers,
        batch=budget.batch,
        itemsize=4,
        trace=(lambda: _trace_plan(plan, budget.batch)) if budget.needs_trace else None,
        trace_bytes=_plan_bytes(plan, budget.batch),
        trace_what=f"budget {budget.name!r}",
        items=lambda d: _plan_items(plans, budget.batch, d, opts, WRITTEN if layers else ""),
        timing=opts,
        time_bytes=layer_bytes + sum(_plan_bytes(p, budget.batch) for p in plans.values()),
        hint=BUDGET_HINT,
        progress=progress,
    )
    rows = measured.rows[: len(plans)]
    env = measured.environment
    metrics, notes, (size, intervals) = _metrics(
        budget, rows[0], rows[1] if len(rows) > 1 else None, env
    )
    if layers:
        from sepprof.commands.profile import by_type

        stages = measured.rows[len(plans) :]
        profiled = ProfileResult(env, {}, stages, by_type(list(stages)), rows[0])
        shares, why, bounds = _time_shares(budget, profiled)
        metrics, notes, intervals = metrics | shares, notes | why, intervals | bounds
    return metrics, notes, (size, intervals), env


def _layers_metrics(
    budget: Budget, config: Path, timing: Any, progress: Progress | None
) -> Metrics:
    """The budget's variant of every layer (and, for a speedup, each layer as standard)."""
    layers, _ = load_layers(config)
    chosen: list[Block] = []
    baseline: list[Block] = []
    for i, layer in enumerate(layers):
        try:
            variant, standard = parse_variants([budget.variant, "standard"], layer)
        except ValueError as exc:
            raise UserError(f"budget {budget.name!r}: variant: {exc}") from None
        name = layer.name or f"layer{i + 1}"
        chosen.append(replace(layer_variant(layer, variant), name=f"{name}:{variant}"))
        baseline.append(replace(layer_variant(layer, standard), name=f"{name}:standard"))
    batch = layers[0].batch
    blocks = chosen + (baseline if budget.min_speedup else [])
    opts = _timing(budget, timing)
    measured = measure(
        [block_target(b, batch, 4) for b in blocks],
        batch=batch,
        itemsize=4,
        trace=(lambda: _trace_blocks(chosen, batch)) if budget.needs_trace else None,
        trace_bytes=blocks_bytes(chosen, batch, 4, stages=False),
        trace_what=f"budget {budget.name!r}",
        items=lambda d: _block_items(blocks, batch, d, opts),
        timing=opts,
        time_bytes=blocks_bytes(blocks, batch, 4, stages=False),
        hint=BUDGET_HINT,
        progress=progress,
    )
    rows = measured.rows
    total = _sum_rows(rows[: len(chosen)])
    standard = _sum_rows(rows[len(chosen) :]) if budget.min_speedup else None
    return (*_metrics(budget, total, standard, measured.environment), measured.environment)


def _timing(budget: Budget, timing: Any) -> Any:
    """The budget's timing: its devices, backend and mode; None when it limits no time."""
    if not budget.devices():
        return None
    return replace(timing, devices=budget.devices(), backend=budget.backend, mode=budget.mode)


def _plan_target(name: str, plan: Plan, batch: int) -> Target:
    c = plan_cost(plan, batch)
    row = Row(name, "network", c.params, c.norm_params, c.macs, c.eltwise, c.bytes)
    return Target(row, name, tuple(s for _, s in plan.stages()))


def _plan_bytes(plan: Plan, batch: int) -> int:
    return blocks_bytes(list(plan.blocks), batch, 4, stages=False)


def _trace_plan(plan: Plan, batch: int) -> Traced:
    from sepprof.count.trace import trace_plan

    return Traced({WRITTEN: trace_plan(plan, batch)[0][""]})


def _trace_blocks(blocks: list[Block], batch: int) -> Traced:
    from sepprof.count.trace import trace_block

    return Traced({b.name: trace_block(b, batch)[0][""] for b in blocks})


def _plan_items(
    plans: dict[str, Plan], batch: int, device: str, opts: Any, stages_of: str = ""
) -> dict:
    from sepprof.timing.measure import plan_items

    return plan_items(plans, batch, device, opts, stages_of)


def _block_items(blocks: list[Block], batch: int, device: str, opts: Any) -> dict:
    from sepprof.timing.measure import block_items

    return {k: v for b in blocks for k, v in block_items(b, batch, device, opts, False).items()}


def _sum_rows(rows: tuple[Row, ...]) -> Row:
    """Layers run one after the other: counts added; latency rounds added where all were timed."""
    devices = set.intersection(*(set(r.latency_ms) for r in rows)) if rows else set()
    uncounted: dict[str, int] = {}
    for r in rows:
        for op, n in r.uncounted_ops.items():
            uncounted[op] = uncounted.get(op, 0) + n
    return Row(
        "total",
        "layers",
        sum(r.params for r in rows),
        sum(r.norm_params for r in rows),
        sum(r.macs_analytic for r in rows),
        sum(r.elementwise_ops for r in rows),
        sum(r.bytes for r in rows),
        uncounted_ops=uncounted,
        latency_ms={d: _sum([r.latency_ms[d] for r in rows]) for d in sorted(devices)},
    )


def _metrics(
    budget: Budget, row: Row, standard: Row | None, env: dict[str, Any]
) -> tuple[dict[str, float], dict[str, str], Extra]:
    """A budget's metrics (and the notes that explain them) from its measured row; its bytes
    and the 95% intervals of its timed metrics (widened by this machine's drift, which this
    run's timings then add to)."""
    metrics: dict[str, float] = {"params": row.params + row.norm_params}
    notes: dict[str, str] = {}
    if row.macs_analytic is not None:
        metrics = {"macs": row.macs_analytic, **metrics}
    else:  # a model with ops that have no counting rule
        ops = ", ".join(sorted(row.uncounted_ops)) or "ops with no counting rule"
        notes["macs"] = f"not counted: the model runs {ops}"
    intervals: dict[str, tuple[float, float]] = {}
    if budget.needs_trace:
        _uncounted(metrics, notes, row.uncounted_ops)
    for device, lat in row.latency_ms.items():
        base = standard.latency_ms.get(device) if standard else None
        drift = _drift(device, env, _item(budget))
        _timed(metrics, notes, device, lat, base, drift.get("speedup"))
        intervals |= timed_intervals(device, lat, base, drift)
        _remember(budget, device, env, lat, base)
    return metrics, notes, (row.bytes, intervals)


def _item(budget: Budget) -> str:
    """What a budget timed, as the drift store keys it."""
    fields = ("config", "variant", "batch", "width_mult", "resolution", "backend", "mode")
    if budget.model is not None:
        fields = ("model", "input", "inputs", "kwargs", "backend", "mode")
    return "check|" + "|".join(str(getattr(budget, f)) for f in fields)


def _drift(device: str, env: dict[str, Any], item: str) -> dict[str, Drift]:
    """The latency and speedup drift this machine showed between earlier commands (this
    budget's own when it was timed often enough)."""
    from sepprof.timing.drift import LATENCY, SPEEDUP, load_drift

    threads = env.get("threads", 1)
    return {kind: load_drift(device, threads, kind, item) for kind in (LATENCY, SPEEDUP)}


def _remember(
    budget: Budget, device: str, env: dict[str, Any], lat: Latency, base: Latency | None
) -> None:
    """Store this budget's timings for the next command's drift (keyed by what was timed)."""
    from sepprof.timing.drift import latency_estimates, record, speedup_estimates

    estimates = latency_estimates({_item(budget): lat})
    if base is not None:
        estimates |= speedup_estimates({_item(budget): Speedup.of(base, lat)})
    record(device, env.get("threads", 1), estimates)


def _sum(parts: list[Latency]) -> Latency:
    """Latency of layers run one after the other: rounds added round by round (still paired
    with the standard rewrite's), contention carried over."""
    from sepprof.results.latency import in_sequence

    return in_sequence(parts)


def _uncounted(metrics: dict[str, float], notes: dict[str, str], ops: dict[str, int]) -> None:
    metrics["uncounted_ops"] = sum(ops.values())
    notes["uncounted_ops"] = ", ".join(f"{k} x{v}" for k, v in sorted(ops.items()))


def _timed(
    metrics: dict[str, float],
    notes: dict[str, str],
    device: str,
    measured: Latency,
    standard: Latency | None,
    drift: Drift | None = None,
) -> None:
    """Latency (with how noisy it was) and, when the standard rewrite was timed, speedup; an
    untrusted one noted under ``untrusted.<metric>`` (``judge`` calls it inconclusive)."""
    from sepprof.results.latency import budget_metrics

    timed, why = budget_metrics(device, measured, standard, drift)
    metrics.update(timed)
    notes.update(why)
