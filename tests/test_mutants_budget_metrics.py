"""budgets' constants and regressions worked by hand (issue #29: a module-level constant of
budgets.py, outside the functions mutmut ran, held a bug no test saw).

Each metric's direction, each limit's name, the devices, the bounds a budget accepts, and a
regression against a baseline (worse = now / base - 1 for lower-is-better metrics, 1 - now / base
for speedups; from a baseline of 0 any rise of a lower-is-better metric is a regression).
"""

import pytest

from sepprof.spec.budgets import Budget, BudgetFile
from sepprof.spec.verdicts import judge, regressions


def budget(**fields) -> Budget:
    return Budget(**{"name": "b", "config": "layers.yaml", **fields})


@pytest.mark.parametrize(
    ("key", "now"),
    [
        ("macs", 110.0),
        ("params", 110.0),
        ("uncounted_ops", 110.0),
        ("latency_ms.cpu", 110.0),
        ("latency_ms.cuda", 110.0),
        ("speedup.cpu", 90.0),
        ("speedup.cuda", 90.0),
    ],
)
def test_each_metric_regresses_in_its_own_direction(key, now):
    """10% worse than a baseline of 100 fails a 5% limit; 10% better passes."""
    (worse,) = regressions(budget(max_regression="5%"), {key: now}, {key: 100.0})
    assert (worse.metric, worse.status) == (f"regression {key}", "fail")
    assert worse.actual == pytest.approx(0.1)
    better = 200.0 - now
    (ok,) = regressions(budget(max_regression="5%"), {key: better}, {key: 100.0})
    assert ok.status == "pass" and ok.actual == pytest.approx(-0.1)


def test_regressions_against_a_baseline_with_zeros():
    b = budget(max_regression="6.25%")
    base = {"macs": 100, "speedup.cpu": 4.0, "params": 0, "latency_ms.cpu": 2.0}
    base |= {"uncounted_ops": 0, "speedup.cuda": 0}
    now = {"macs": 107, "speedup.cpu": 3.9, "params": 50, "latency_ms.cpu": 2.125, "new": 1}
    now |= {"uncounted_ops": 0, "speedup.cuda": 2.0}
    v = {x.metric.removeprefix("regression "): x for x in regressions(b, now, base)}
    assert set(v) == set(base)  # "new" has no baseline
    assert (v["macs"].status, v["macs"].actual) == ("fail", pytest.approx(0.07))
    assert v["macs"].headroom == pytest.approx(-0.12)  # (0.0625 - 0.07) / 0.0625
    assert v["macs"].note == "baseline 100, change +7.0%"
    assert (v["speedup.cpu"].status, v["speedup.cpu"].actual) == ("pass", pytest.approx(0.025))
    assert v["speedup.cpu"].note == "baseline 4, change -2.5%"
    assert (v["latency_ms.cpu"].status, v["latency_ms.cpu"].actual) == ("pass", 0.0625)
    params = v["params"]  # 0 -> 50: no relative change, a regression
    assert (params.status, params.actual, params.headroom) == ("fail", None, None)
    assert params.note == "from 0 to 50: any rise from 0 is a regression"
    zero = v["uncounted_ops"]
    assert (zero.status, zero.actual, zero.headroom, zero.note) == (
        "pass",
        0.0,
        1.0,  # (0.0625 - 0) / 0.0625
        "baseline 0, now 0",
    )
    up = v["speedup.cuda"]  # a speedup rising from 0 is no regression
    assert (up.status, up.actual, up.note) == ("pass", 0.0, "baseline 0, now 2")
    warn = regressions(budget(max_regression="6.25%", level="warn"), {"params": 1}, {"params": 0})
    assert warn[0].status == "warn"


def test_no_baseline_is_one_failed_verdict():
    (v,) = regressions(budget(max_regression=0.05), {"macs": 1.0}, None)
    assert (v.metric, v.limit, v.actual, v.status) == ("regression", 0.0005, None, "fail")
    assert v.note.startswith("no baseline for this budget: pass --baseline FILE")


def test_a_regression_of_an_untrusted_timing_is_inconclusive():
    notes = {"untrusted.latency_ms.cpu": "contended: 1 core busy"}
    b = budget(max_regression="5%")
    (v,) = regressions(b, {"latency_ms.cpu": 3.0}, {"latency_ms.cpu": 2.0}, notes)
    assert v.status == "inconclusive"
    (v,) = regressions(b, {"latency_ms.cpu": 3.0}, {"latency_ms.cpu": 2.0}, notes, True)
    assert v.status == "fail" and v.note.startswith("untrusted timing with --strict-timing")
    latency = budget(max_latency_ms={"cpu": 1.0})
    (v,) = judge(latency, {"latency_ms.cpu": 3.0}, notes, None)
    assert v.status == "inconclusive" and v.note.startswith("inconclusive, not judged: contended")


@pytest.mark.parametrize(
    "limit",
    [
        {"max_macs": 1},
        {"max_params": 1},
        {"max_latency_ms": {"cpu": 1}},
        {"min_speedup": {"cuda": 1}},
        {"max_regression": 1},
        {"max_uncounted_ops": 0},
    ],
)
def test_any_one_limit_is_enough(limit):
    assert budget(**limit).name == "b"


def test_a_budget_without_a_limit_names_every_limit():
    with pytest.raises(ValueError) as info:
        budget()
    assert (
        "budget 'b' sets no limit (give at least one of max_macs, max_params, max_latency_ms, "
        "min_speedup, max_regression, max_uncounted_ops, max_time_share)"
    ) in str(info.value)


def test_devices_are_cpu_and_cuda_in_that_order():
    b = budget(max_latency_ms={"cuda": 1, "cpu": 2}, min_speedup={"cuda": 2})
    assert b.devices() == ("cpu", "cuda")
    assert budget(min_speedup={"cuda": 2}).devices() == ("cuda",)
    assert budget(max_latency_ms={"cpu": "2"}).max_latency_ms == {"cpu": 2.0}
    with pytest.raises(ValueError, match=r"unknown device 'tpu' \(valid: cpu, cuda\)"):
        budget(max_latency_ms={"tpu": 1})


def test_the_bounds_and_defaults_a_budget_accepts():
    b = budget(max_macs="4.5M")
    assert (b.variant, b.width_mult, b.resolution, b.batch) == ("separable", 1.0, None, 1)
    assert (b.level, b.backend, b.mode, b.max_macs) == ("error", "eager", "inference", 4.5e6)
    edges = budget(max_macs=0, width_mult=4.0, resolution=8192, batch=65536, max_uncounted_ops=0)
    assert (edges.max_macs, edges.width_mult, edges.batch) == (0.0, 4.0, 65536)
    assert budget(max_macs=1, resolution=1, width_mult=0.01, batch=1).resolution == 1
    for bad in (
        {"max_macs": -1},
        {"max_params": float("inf")},
        {"max_latency_ms": {"cpu": 0}},
        {"min_speedup": {"cpu": float("nan")}},
        {"max_latency_ms": {"cpu": float("inf")}},
        {"max_regression": float("inf")},
        {"max_uncounted_ops": -1},
        {"max_macs": 1, "width_mult": 4.01},
        {"max_macs": 1, "width_mult": 0.0},
        {"max_macs": 1, "resolution": 8193},
        {"max_macs": 1, "resolution": 0},
        {"max_macs": 1, "batch": 65537},
        {"max_macs": 1, "batch": 0},
    ):
        with pytest.raises(ValueError):
            budget(**bad)
    with pytest.raises(ValueError):
        BudgetFile(budgets=[])
    assert len(BudgetFile(budgets=[budget(max_macs=1)]).budgets) == 1


def test_a_regression_from_zero_names_its_budget_limit_and_four_digits():
    b = budget(name="edge", max_regression="5%")
    (v,) = regressions(b, {"params": 12_345}, {"params": 0})
    assert (v.budget, v.metric, v.limit, v.status) == ("edge", "regression params", 0.05, "fail")
    assert v.note == "from 0 to 12.35K: any rise from 0 is a regression"
    (v,) = regressions(b, {"speedup.cpu": 1.2345}, {"speedup.cpu": 0})
    assert (v.budget, v.limit, v.note) == ("edge", 0.05, "baseline 0, now 1.234")
    (v,) = regressions(b, {"macs": 1.5e6}, {"macs": 1_234_567})
    assert v.note == "baseline 1.235M, change +21.5%"


def test_only_an_uncounted_ops_limit_needs_the_trace():
    assert budget(max_uncounted_ops=0).needs_trace
    assert not budget(max_macs=1, max_latency_ms={"cpu": 1}).needs_trace


def test_a_per_device_limit_must_be_a_mapping():
    with pytest.raises(ValueError, match=r"must map a device to a number, e\.g\. \{cpu: 60\}"):
        budget(max_latency_ms=60)
    assert budget(max_macs=1, min_speedup=None).min_speedup is None


def test_strict_timing_leaves_a_trusted_timing_alone():
    b = budget(max_latency_ms={"cpu": 2.0}, min_speedup={"cpu": 1.5})
    metrics = {"latency_ms.cpu": 1.0, "speedup.cpu": 2.0}
    assert [v.status for v in judge(b, metrics, {}, None, True)] == ["pass", "pass"]
    assert [v.note for v in judge(b, metrics, {}, None, True)] == ["", ""]
