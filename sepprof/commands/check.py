"""``sepprof check``: measure each budget's config and judge it (exit 0 pass, 1 exceeded).

Analytic metrics are exact. Latency and speedup are measured only when a budget limits them,
in rounds; a speedup compares the network as written with the same network rewritten as
standard convolutions (or, for a layers file, the budget's variant with ``standard``) timed in
the same rounds, which keeps it usable on noisy CI machines.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from sepprof.blocks import layer_variant
from sepprof.budgets import Budget, judge, load_budgets
from sepprof.costs import block_cost, plan_cost
from sepprof.environment import environment
from sepprof.errors import UserError
from sepprof.files import write_atomic
from sepprof.guards import blocks_bytes, check_memory
from sepprof.network import Options, is_network, load_network
from sepprof.ops import Block, Plan
from sepprof.pipeline import Progress
from sepprof.results import CHECK_SCHEMA, CheckResult, Latency, Speedup
from sepprof.spec import load_layers, parse_variants

Metrics = tuple[dict[str, float], dict[str, str]]
BUDGET_HINT = "use a smaller batch or resolution in the budget"


def read_baseline(path: str | Path) -> dict[str, dict[str, float]]:
    """The metrics of a baseline written by ``--update-baseline``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"{path}: baseline file not found (create it with --update-baseline)"
        ) from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable JSON baseline ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != CHECK_SCHEMA:
        schema = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise UserError(f"{path}: expected a {CHECK_SCHEMA} baseline, got {schema!r}")
    return data.get("metrics", {})


def write_baseline(result: CheckResult, path: str | Path) -> Path:
    """Store a check result as the next baseline (atomically)."""
    return write_atomic(path, json.dumps(result.to_dict(), indent=2) + "\n")


def check(
    path: str | Path,
    *,
    baseline: str | Path | None = None,
    updating: bool = False,
    timing: Any = None,
    progress: Progress | None = None,
) -> CheckResult:
    """Judge every budget of a budget file. ``timing`` is a ``TimingOptions`` template whose
    devices are replaced by each budget's. When ``updating`` the baseline, a missing baseline
    file (or budget in it) is not a regression."""
    loaded = load_budgets(path)
    for i, (budget, config) in enumerate(zip(loaded.budgets, loaded.configs, strict=True)):
        if budget.max_regression is not None and baseline is None:
            raise loaded.error(
                i,
                "max_regression",
                "needs --baseline FILE (create it with --baseline FILE --update-baseline)",
            )
        if "variant" in budget.model_fields_set and is_network(config):
            raise loaded.error(
                i, "variant", f"applies to a layers file, not to the network {budget.config}"
            )
        for device in budget.devices():
            _check_device(loaded, i, device, timing)
    base = None
    if baseline and (not updating or Path(baseline).exists()):
        base = read_baseline(baseline)
    verdicts, metrics, notes = [], {}, {}
    for budget, config in zip(loaded.budgets, loaded.configs, strict=True):
        measured, noted = _measure(budget, config, timing, progress)
        metrics[budget.name], notes[budget.name] = measured, noted
        before = (base or {}).get(budget.name, {} if updating else None)
        verdicts += judge(budget, measured, noted, before)
    env = environment(**({"threads": timing.thread_count()} if timing else {}))
    return CheckResult(
        env, str(loaded.path), tuple(verdicts), metrics, notes, str(baseline) if baseline else None
    )


def _check_device(loaded: Any, index: int, device: str, timing: Any) -> None:
    """Refuse, at the budget's line, a device it limits that this machine cannot time on."""
    from sepprof.timing import check_device

    try:
        check_device(device, getattr(timing, "dtype", "fp32"))
    except UserError as exc:
        budget = loaded.budgets[index]
        key = "max_latency_ms" if device in (budget.max_latency_ms or {}) else "min_speedup"
        raise loaded.error(index, key, str(exc).split(": ", 1)[-1]) from None


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
    cost = plan_cost(plan, budget.batch)
    metrics: dict[str, float] = {"macs": cost.macs, "params": cost.all_params}
    notes: dict[str, str] = {}
    if budget.needs_trace:
        from sepprof.trace import trace_plan

        check_memory(
            f"budget {budget.name!r}",
            blocks_bytes(list(plan.blocks), budget.batch, 4, stages=False),
            "cpu",
            BUDGET_HINT,
        )
        traced, _ = trace_plan(plan, budget.batch)
        _uncounted(metrics, notes, traced[""].uncounted)
    if budget.devices():
        from sepprof.measure import plan_items, time_all

        opts = replace(timing, devices=budget.devices())
        plans = {"as written": plan}
        if budget.min_speedup:
            plans["as standard"] = standard
        needed = sum(
            blocks_bytes(list(p.blocks), budget.batch, 4, stages=False) for p in plans.values()
        )
        timings = time_all(
            lambda d: plan_items(plans, budget.batch, d, opts, ""),
            opts,
            progress,
            needed,
            BUDGET_HINT,
        )
        for device, lat in timings.latency.items():
            _timed(metrics, notes, device, lat["as written"], lat.get("as standard"))
    return metrics, notes


def _layers_metrics(
    budget: Budget, config: Path, timing: Any, progress: Progress | None
) -> Metrics:
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
    metrics: dict[str, float] = {
        "macs": sum(block_cost(b, batch).macs for b in chosen),
        "params": sum(block_cost(b, batch).all_params for b in chosen),
    }
    notes: dict[str, str] = {}
    if budget.needs_trace:
        from sepprof.trace import trace_block

        check_memory(
            f"budget {budget.name!r}",
            blocks_bytes(chosen, batch, 4, stages=False),
            "cpu",
            BUDGET_HINT,
        )
        uncounted: dict[str, int] = {}
        for block in chosen:
            for op, n in trace_block(block, batch)[0][""].uncounted.items():
                uncounted[op] = uncounted.get(op, 0) + n
        _uncounted(metrics, notes, uncounted)
    if budget.devices():
        from sepprof.measure import block_items, time_all

        opts = replace(timing, devices=budget.devices())

        def items(device: str) -> dict:
            return {
                k: v
                for b in chosen + baseline
                for k, v in block_items(b, batch, device, opts, stages=False).items()
            }

        needed = blocks_bytes(chosen + baseline, batch, 4, stages=False)
        timings = time_all(items, opts, progress, needed, BUDGET_HINT)
        for device, lat in timings.latency.items():
            _timed(metrics, notes, device, _sum(lat, chosen), _sum(lat, baseline))
    return metrics, notes


def _sum(latency: dict[str, Latency], blocks: list[Block]) -> Latency:
    """Latency of layers run one after the other: medians and IQRs added, rounds added."""
    parts = [latency[b.name] for b in blocks]
    rounds = [sum(r) for r in zip(*(p.rounds for p in parts), strict=True)]
    return Latency.from_rounds(rounds, sum(p.runs for p in parts))


def _uncounted(metrics: dict[str, float], notes: dict[str, str], ops: dict[str, int]) -> None:
    metrics["uncounted_ops"] = sum(ops.values())
    notes["uncounted_ops"] = ", ".join(f"{k} x{v}" for k, v in sorted(ops.items()))


def _timed(
    metrics: dict[str, float],
    notes: dict[str, str],
    device: str,
    measured: Latency,
    standard: Latency | None,
) -> None:
    """Latency (with how noisy it was) and, when the standard rewrite was timed, speedup."""
    noise = f"±{100 * measured.iqr / measured.median:.0f}% IQR over {len(measured.rounds)} rounds"
    if measured.unstable:
        noise += ", unstable rounds"
    metrics[f"latency_ms.{device}"] = measured.median
    notes[f"latency_ms.{device}"] = noise
    if standard is None:
        return
    speedup = Speedup.of(standard, measured)
    metrics[f"speedup.{device}"] = speedup.value
    notes[f"speedup.{device}"] = (
        f"standard {standard.median:.3g} ms / {measured.median:.3g} ms, ±{speedup.error:.2f}"
    )
