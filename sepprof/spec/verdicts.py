"""Verdicts: a budget's limits against its measured metrics (pure, no torch). Counts pass or
fail; a latency, speedup or time share with a 95% interval is decided three ways (pass, fail,
inconclusive); an untrusted timing is inconclusive unless ``--strict-timing``; regressions are
judged against a baseline."""

from __future__ import annotations

from dataclasses import replace

from sepprof.results.check import Verdict
from sepprof.spec.budgets import Budget, metric_of
from sepprof.units import human


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
    """Verdicts for every limit a budget sets. A latency, speedup or time share with a 95%
    interval (``intervals``) passes only when the whole interval clears the limit, fails only
    when the whole interval misses it, and is inconclusive otherwise. One that was timed under
    contention or unstably (``notes["untrusted.<metric>"]`` says why) is inconclusive, a
    warning, or, with ``strict_timing``, a failure that says why."""
    out = []
    if budget.max_macs is not None:
        macs = metrics.get("macs")
        out.append(_judge(budget, "macs", budget.max_macs, macs, True, notes.get("macs", "")))
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
    timed += [(f"time_share.{k}.{d}", limit, True) for k, d, limit in budget.time_shares()]
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
    if verdict.metric.startswith("time_share."):
        shown = f"95% interval {low:.1%}-{high:.1%} vs limit {limit:.1%}"
    else:
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
