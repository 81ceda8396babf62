"""Compute budgets: the budget file's spec, and verdicts from measured metrics (pure, no torch).

A budget names a config (a network or a layers file, relative to the budget file) and limits on
its metrics. Metrics are plain numbers keyed like ``macs``, ``params``, ``uncounted_ops``,
``latency_ms.cpu`` and ``speedup.cpu``; ``check`` measures them and this module judges them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from sepprof.errors import SpecError, UserError, printable
from sepprof.files import check_input_file
from sepprof.results.check import Verdict
from sepprof.spec.layer import Name, Strict, Text, field_error, validate
from sepprof.spec.yaml_reader import YamlDoc, read_yaml
from sepprof.units import human, parse_percent, parse_quantity

DEVICES = ("cpu", "cuda")

# Limits are finite numbers: NaN, infinity (``.inf``, ``1e400``) and negative limits are refused.
Count = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


def _per_device(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("must map a device to a number, e.g. {cpu: 60}")
    for device in value:
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r} (valid: {', '.join(DEVICES)})")
    return {d: parse_quantity(v) for d, v in value.items()}


@dataclass(frozen=True)
class Metric:
    """A metric a budget limits and ``--baseline`` compares, and which way is better. Timed
    metrics are per device: ``latency_ms.cpu``, ``speedup.cuda``."""

    key: str
    lower_is_better: bool
    per_device: bool = False


# Every metric ``check`` measures, in one place with its direction.
METRICS = {
    m.key: m
    for m in (
        Metric("macs", lower_is_better=True),
        Metric("params", lower_is_better=True),
        Metric("uncounted_ops", lower_is_better=True),
        Metric("latency_ms", lower_is_better=True, per_device=True),
        Metric("speedup", lower_is_better=False, per_device=True),
    )
}


def metric_of(key: str) -> Metric:
    """The metric a metrics key names (``latency_ms.cpu`` -> ``latency_ms``)."""
    return METRICS[key.split(".", 1)[0]]


LIMITS = (
    "max_macs",
    "max_params",
    "max_latency_ms",
    "min_speedup",
    "max_regression",
    "max_uncounted_ops",
)


class Budget(Strict):
    """One budget: a config and the limits it must hold."""

    name: Annotated[Name, Field(min_length=1)]
    config: Annotated[Text, Field(min_length=1)]
    variant: Text = "separable"
    width_mult: float = Field(1.0, gt=0, le=4, allow_inf_nan=False)
    resolution: int | None = Field(None, ge=1, le=8192)
    batch: int = Field(1, ge=1, le=65536)
    max_macs: Count | None = None
    max_params: Count | None = None
    max_latency_ms: dict[str, Positive] | None = None
    min_speedup: dict[str, Positive] | None = None
    max_regression: Count | None = None
    max_uncounted_ops: int | None = Field(None, ge=0)
    level: Literal["error", "warn"] = "error"
    backend: Literal["eager", "compile", "onnxruntime"] = "eager"  # what runs it when timed
    mode: Literal["inference", "train"] = "inference"

    @field_validator("max_macs", "max_params", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> Any:
        return None if value is None else parse_quantity(value)

    @field_validator("max_latency_ms", "min_speedup", mode="before")
    @classmethod
    def _devices(cls, value: Any) -> Any:
        return _per_device(value)

    @field_validator("max_regression", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> Any:
        return None if value is None else parse_percent(value)

    @property
    def needs_trace(self) -> bool:
        return self.max_uncounted_ops is not None

    @model_validator(mode="after")
    def _limits_something(self) -> Budget:
        limits = [getattr(self, name) for name in LIMITS]
        if all(limit is None for limit in limits):
            raise field_error(
                "name",
                f"budget {self.name!r} sets no limit (give at least one of {', '.join(LIMITS)})",
            )
        if self.backend == "onnxruntime" and self.mode == "train":
            raise field_error(
                "mode", "backend onnxruntime runs inference only: use mode: inference"
            )
        return self

    def devices(self) -> tuple[str, ...]:
        """Devices this budget must time on (for latency or speedup limits)."""
        found = {*(self.max_latency_ms or {}), *(self.min_speedup or {})}
        return tuple(d for d in DEVICES if d in found)


class BudgetFile(Strict):
    """A budget file: a non-empty list of budgets."""

    budgets: list[Budget] = Field(min_length=1)


@dataclass(frozen=True)
class LoadedBudgets:
    """Budgets with the config path each resolves to."""

    path: Path
    budgets: list[Budget]
    configs: list[Path]
    doc: YamlDoc

    def error(self, index: int, key: str, message: str) -> SpecError:
        """An error located at ``budgets[index].key`` of the budget file."""
        loc = ("budgets", index, key)
        return SpecError(
            message,
            source=str(self.path),
            key=f"budgets[{index}].{key}",
            line=self.doc.line_of(loc),
        )


def load_budgets(path: str | Path) -> LoadedBudgets:
    """Read a budget file; every config must exist (paths are relative to the budget file)."""
    doc: YamlDoc = read_yaml(path)
    spec = validate(BudgetFile, doc)
    names = [b.name for b in spec.budgets]
    configs = []
    for i, budget in enumerate(spec.budgets):
        if names.count(budget.name) > 1:
            raise SpecError(
                f"two budgets are named {budget.name!r}",
                source=str(doc.path),
                key=f"budgets[{i}].name",
                line=doc.line_of(("budgets", i, "name")),
            )
        config = (doc.path.parent / budget.config).resolve()
        problem = _config_problem(config)
        if problem:
            raise SpecError(
                f"config {budget.config}: {problem}",
                source=str(doc.path),
                key=f"budgets[{i}].config",
                line=doc.line_of(("budgets", i, "config")),
            )
        configs.append(config)
    return LoadedBudgets(doc.path, spec.budgets, configs, doc)


def _config_problem(config: Path) -> str:
    """Why a budget's config cannot be read ("file not found (looked for ...)", "is a
    directory, not a file"), or nothing."""
    try:
        check_input_file(config)
    except UserError as exc:
        problem = str(exc).removeprefix(f"{printable(config)}: ")
        return f"{problem} (looked for {config})" if problem == "file not found" else problem
    return ""


def _judge(
    budget: Budget, metric: str, limit: float, actual: float | None, upper: bool, note: str = ""
) -> Verdict:
    """Compare ``actual`` with ``limit`` (an upper bound, or a lower one if not ``upper``)."""
    if actual is None:
        return Verdict(
            budget.name, metric, limit, None, None, _failed(budget), note or "not measured"
        )
    ok = actual <= limit if upper else actual >= limit
    if limit:
        headroom: float | None = (limit - actual) / limit if upper else (actual - limit) / limit
    else:
        headroom = 0.0 if actual == limit else None
    return Verdict(
        budget.name, metric, limit, actual, headroom, "pass" if ok else _failed(budget), note
    )


def _failed(budget: Budget) -> str:
    return "fail" if budget.level == "error" else "warn"


UNTRUSTED = "untrusted."  # a note key prefix: why a timed metric cannot carry a verdict
INCONCLUSIVE = "inconclusive"


def judge(
    budget: Budget,
    metrics: dict[str, float],
    notes: dict[str, str],
    baseline: dict[str, float] | None,
    strict_timing: bool = False,
    intervals: dict[str, tuple[float, float]] | None = None,
) -> list[Verdict]:
    """Verdicts for every limit a budget sets. A latency or speedup with a 95% interval
    (``intervals``) passes only when the whole interval clears the limit, fails only when the
    whole interval misses it, and is inconclusive otherwise. One that was timed under
    contention or unstably (``notes["untrusted.<metric>"]`` says why) is inconclusive, a
    warning, or, with ``strict_timing``, a failure that says why."""
    out = []
    if budget.max_macs is not None:
        out.append(_judge(budget, "macs", budget.max_macs, metrics.get("macs"), True))
    if budget.max_params is not None:
        out.append(_judge(budget, "params", budget.max_params, metrics.get("params"), True))
    if budget.max_uncounted_ops is not None:
        out.append(
            _judge(
                budget,
                "uncounted_ops",
                budget.max_uncounted_ops,
                metrics.get("uncounted_ops"),
                True,
                notes.get("uncounted_ops", ""),
            )
        )
    timed = [(f"latency_ms.{d}", limit, True) for d, limit in (budget.max_latency_ms or {}).items()]
    timed += [(f"speedup.{d}", limit, False) for d, limit in (budget.min_speedup or {}).items()]
    for key, limit, upper in timed:
        verdict = _judge(budget, key, limit, metrics.get(key), upper, notes.get(key, ""))
        interval = (intervals or {}).get(key)
        if interval is not None and verdict.actual is not None:
            verdict = _by_interval(budget, verdict, interval, upper, strict_timing)
        out.append(_trust(verdict, notes.get(UNTRUSTED + key, ""), strict_timing))
    if budget.max_regression is not None:
        out += regressions(budget, metrics, baseline, notes, strict_timing)
    return out


def _by_interval(
    budget: Budget, verdict: Verdict, interval: tuple[float, float], upper: bool, strict: bool
) -> Verdict:
    """Three ways from a 95% interval: pass when all of it clears the limit, fail when all of it
    misses, inconclusive (or, with ``--strict-timing``, failed) when it straddles the limit."""
    low, high = interval
    limit = verdict.limit
    shown = f"95% interval {human(low, 4)}-{human(high, 4)} vs limit {human(limit, 4)}"
    note = "; ".join(n for n in (verdict.note, shown) if n)
    if (high <= limit) if upper else (low >= limit):
        status = "pass"
    elif (low > limit) if upper else (high < limit):
        status = _failed(budget)
    elif strict:
        status, note = "fail", f"{note}: straddles the limit, with --strict-timing"
    else:
        status = INCONCLUSIVE
        note = f"{INCONCLUSIVE}, not judged: {note} (--strict-timing makes this fail)"
    return replace(verdict, status=status, note=note, low=low, high=high)


def _trust(verdict: Verdict, doubt: str, strict_timing: bool) -> Verdict:
    """A timed verdict that cannot be trusted: inconclusive (a warning), or failed when strict."""
    if not doubt or verdict.actual is None:
        return verdict
    if strict_timing:
        note = f"untrusted timing with --strict-timing: {doubt}"
        return replace(verdict, status="fail", note=note)
    note = f"{INCONCLUSIVE}, not judged: {doubt} (--strict-timing makes this fail)"
    return replace(verdict, status=INCONCLUSIVE, note=note)


def regressions(
    budget: Budget,
    metrics: dict[str, float],
    baseline: dict[str, float] | None,
    notes: dict[str, str] | None = None,
    strict_timing: bool = False,
) -> list[Verdict]:
    """Each metric's change against the baseline; worse by more than max_regression fails (an
    untrusted timing is inconclusive, as in ``judge``)."""
    limit = budget.max_regression
    if baseline is None:
        return [
            Verdict(
                budget.name,
                "regression",
                limit,
                None,
                None,
                _failed(budget),
                "no baseline for this budget: pass --baseline FILE (create or refresh it "
                "with --update-baseline)",
            )
        ]
    out = []
    for key, actual in metrics.items():
        base = baseline.get(key)
        if base is None:
            continue
        verdict = _regression(budget, key, actual, base)
        out.append(_trust(verdict, (notes or {}).get(UNTRUSTED + key, ""), strict_timing))
    return out


def _regression(budget: Budget, key: str, actual: float, base: float) -> Verdict:
    """One metric against its baseline. From a baseline of 0 there is no relative change: any
    rise of a lower-is-better metric (uncounted ops 0 -> 3) is a regression, shown "from 0"."""
    lower = metric_of(key).lower_is_better
    metric, limit = f"regression {key}", budget.max_regression
    if not base:
        if lower and actual > 0:
            note = f"from 0 to {human(actual, 4)}: any rise from 0 is a regression"
            return Verdict(budget.name, metric, limit, None, None, _failed(budget), note)
        return _judge(budget, metric, limit, 0.0, True, f"baseline 0, now {human(actual, 4)}")
    worse = actual / base - 1 if lower else 1 - actual / base
    worse = round(worse, 12)  # 2.1 / 2.0 - 1 is 0.05000000000000004: exactly 5% is 5%
    note = f"baseline {human(base, 4)}, change {actual / base - 1:+.1%}"
    return _judge(budget, metric, limit, worse, True, note)
