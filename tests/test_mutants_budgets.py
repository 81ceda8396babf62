"""Budget verdicts on injected metrics, worked by hand: edges, directions, headroom, trust.

Added for issue #18 (replaces judging a live speedup against ``min_speedup: 0.01``, which no
measurement could fail).
"""

import pytest

from sepprof.spec.budgets import Budget
from sepprof.spec.verdicts import judge, regressions

UNTRUSTED = "untrusted.speedup.cpu"


def budget(**limits) -> Budget:
    return Budget(name="b", config="layers.yaml", **limits)


def one(b: Budget, metrics: dict, notes: dict | None = None, **kw):
    (verdict,) = judge(b, metrics, notes or {}, None, **kw)
    return verdict


@pytest.mark.parametrize(
    ("actual", "status", "headroom"),
    [(80, "pass", 0.2), (100, "pass", 0.0), (101, "fail", -0.01), (150, "fail", -0.5)],
)
def test_an_upper_limit_passes_up_to_and_at_the_limit(actual, status, headroom):
    v = one(budget(max_macs=100), {"macs": actual})
    assert (v.metric, v.status) == ("macs", status)
    assert v.headroom == pytest.approx(headroom)
    assert one(budget(max_params=100), {"params": actual}).status == status


@pytest.mark.parametrize(
    ("actual", "status", "headroom"),
    [(2.5, "pass", 0.25), (2.0, "pass", 0.0), (1.9, "fail", -0.05), (0.8, "fail", -0.6)],
)
def test_min_speedup_is_a_lower_limit(actual, status, headroom):
    v = one(budget(min_speedup={"cpu": 2.0}), {"speedup.cpu": actual}, {"speedup.cpu": "n"})
    assert (v.metric, v.status, v.note) == ("speedup.cpu", status, "n")
    assert v.headroom == pytest.approx(headroom)


def test_latency_limits_are_per_device_upper_limits():
    b = budget(max_latency_ms={"cpu": 10, "cuda": 1})
    verdicts = judge(b, {"latency_ms.cpu": 9.0, "latency_ms.cuda": 1.5}, {}, None)
    assert [(v.metric, v.status) for v in verdicts] == [
        ("latency_ms.cpu", "pass"),
        ("latency_ms.cuda", "fail"),
    ]


def test_zero_limit_has_headroom_only_when_met():
    b = budget(max_uncounted_ops=0)
    met = one(b, {"uncounted_ops": 0}, {"uncounted_ops": "none"})
    assert (met.status, met.headroom, met.note) == ("pass", 0.0, "none")
    over = one(b, {"uncounted_ops": 2})
    assert (over.status, over.headroom) == ("fail", None)


def test_unmeasured_metric_fails_and_warn_level_only_warns():
    v = one(budget(max_macs=100), {})
    assert (v.status, v.actual, v.headroom, v.note) == ("fail", None, None, "not measured")
    assert one(budget(max_macs=100, level="warn"), {"macs": 101}).status == "warn"
    assert one(budget(max_macs=100, level="warn"), {"macs": 99}).status == "pass"
    noted = one(budget(min_speedup={"cpu": 2}), {}, {"speedup.cpu": "cuda only"})
    assert (noted.status, noted.note) == ("fail", "cuda only")


def test_untrusted_timing_is_inconclusive_or_fails_when_strict():
    b = budget(min_speedup={"cpu": 2.0})
    notes = {UNTRUSTED: "contended: 1.0 cores busy"}
    soft = one(b, {"speedup.cpu": 1.0}, notes)
    assert soft.status == "inconclusive"
    assert soft.note == (
        "inconclusive, not judged: contended: 1.0 cores busy (--strict-timing makes this fail)"
    )
    strict = one(b, {"speedup.cpu": 3.0}, notes, strict_timing=True)
    assert strict.status == "fail"
    assert strict.note == "untrusted timing with --strict-timing: contended: 1.0 cores busy"
    assert one(b, {}, notes).status == "fail"  # not measured stays a failure
    lat = budget(max_latency_ms={"cpu": 5})
    assert one(lat, {"latency_ms.cpu": 1.0}, {"untrusted.latency_ms.cpu": "x"}).status == (
        "inconclusive"
    )


def test_every_limit_a_budget_sets_gets_one_verdict_in_order():
    b = budget(
        max_macs=10,
        max_params=10,
        max_uncounted_ops=1,
        max_latency_ms={"cpu": 1},
        min_speedup={"cpu": 1},
    )
    metrics = {"macs": 1, "params": 1, "uncounted_ops": 0, "latency_ms.cpu": 0.5, "speedup.cpu": 2}
    verdicts = judge(b, metrics, {}, None)
    assert [v.metric for v in verdicts] == [
        "macs",
        "params",
        "uncounted_ops",
        "latency_ms.cpu",
        "speedup.cpu",
    ]
    assert all(v.status == "pass" and v.budget == "b" for v in verdicts)


def test_regressions_against_a_baseline():
    b = budget(max_regression="6.25%")
    base = {"macs": 100, "speedup.cpu": 4.0, "params": 0, "latency_ms.cpu": 2.0}
    now = {"macs": 107, "speedup.cpu": 3.9, "params": 50, "latency_ms.cpu": 2.125, "new": 1}
    verdicts = {v.metric: v for v in regressions(b, now, base)}
    assert set(verdicts) == {  # new (no baseline) is not judged
        "regression macs",
        "regression params",
        "regression speedup.cpu",
        "regression latency_ms.cpu",
    }
    params = verdicts["regression params"]  # from 0: no ratio, any rise regresses
    assert (params.actual, params.status) == (None, "fail")
    assert params.note == "from 0 to 50: any rise from 0 is a regression"
    macs = verdicts["regression macs"]
    assert (macs.actual, macs.status) == (pytest.approx(0.07), "fail")
    assert macs.note == "baseline 100, change +7.0%"
    speed = verdicts["regression speedup.cpu"]  # higher is better: 2.5% slower
    assert (speed.actual, speed.status) == (pytest.approx(0.025), "pass")
    assert speed.note == "baseline 4, change -2.5%"
    lat = verdicts["regression latency_ms.cpu"]  # 2.125 / 2 - 1 = 0.0625 exactly: at the limit
    assert (lat.actual, lat.status) == (0.0625, "pass")
    assert judge(b, now, {}, base)[0].metric.startswith("regression")


def test_regression_direction_and_trust():
    b = budget(max_regression="5%")
    (faster,) = regressions(b, {"speedup.cpu": 5.0}, {"speedup.cpu": 4.0})
    assert faster.actual == pytest.approx(-0.25) and faster.status == "pass"
    (slower,) = regressions(b, {"speedup.cpu": 3.0}, {"speedup.cpu": 4.0})
    assert slower.actual == pytest.approx(0.25) and slower.status == "fail"
    notes = {UNTRUSTED: "unstable: x"}
    (doubt,) = regressions(b, {"speedup.cpu": 3.0}, {"speedup.cpu": 4.0}, notes)
    assert doubt.status == "inconclusive"
    (strict,) = regressions(b, {"speedup.cpu": 5.0}, {"speedup.cpu": 4.0}, notes, True)
    assert strict.status == "fail"


def test_no_baseline_is_a_failure_that_says_how_to_make_one():
    (v,) = regressions(budget(max_regression="5%"), {"macs": 1}, None)
    assert (v.metric, v.limit, v.actual, v.status) == ("regression", 0.05, None, "fail")
    assert v.note == (
        "no baseline for this budget: pass --baseline FILE (create or refresh it with "
        "--update-baseline)"
    )
    (warn,) = regressions(budget(max_regression="5%", level="warn"), {"macs": 1}, None)
    assert warn.status == "warn"


def test_verdicts_carry_the_budget_metric_limit_and_an_empty_note():
    b = budget(max_macs=100, level="warn")
    assert one(b, {}).to_dict() == {
        "budget": "b",
        "metric": "macs",
        "limit": 100,
        "actual": None,
        "headroom": None,
        "status": "warn",
        "note": "not measured",
        "low": None,
        "high": None,
    }
    passed = one(b, {"macs": 50})
    assert (passed.budget, passed.limit, passed.note) == ("b", 100, "")
    lat = one(budget(max_latency_ms={"cpu": 4}), {"latency_ms.cpu": 2.0})
    assert (lat.note, lat.headroom) == ("", 0.5)
    speed = one(budget(min_speedup={"cpu": 2}), {"speedup.cpu": 3.0})
    assert speed.note == ""
    ops = one(budget(max_uncounted_ops=3), {"uncounted_ops": 1})
    assert (ops.note, ops.status) == ("", "pass")
    (none,) = regressions(budget(max_regression="5%"), {"macs": 1}, None)
    assert none.budget == "b"


def test_judge_adds_regressions_after_the_limits_with_notes_and_strictness():
    b = budget(max_macs=200, max_regression="5%")
    base = {"macs": 100, "speedup.cpu": 4.0}
    now = {"macs": 120, "speedup.cpu": 3.0}
    notes = {UNTRUSTED: "unstable: x"}
    verdicts = judge(b, now, notes, base)
    assert [(v.metric, v.status) for v in verdicts] == [
        ("macs", "pass"),
        ("regression macs", "fail"),
        ("regression speedup.cpu", "inconclusive"),
    ]
    strict = judge(b, now, notes, base, strict_timing=True)
    assert strict[2].status == "fail" and strict[2].note.startswith("untrusted timing")
    assert judge(b, now, notes, None)[1].note.startswith("no baseline for this budget")


def test_regression_note_shows_the_baseline_to_four_digits():
    (v,) = regressions(budget(max_regression="5%"), {"macs": 1300}, {"macs": 1234.6})
    assert v.note == "baseline 1.235K, change +5.3%"


def test_latency_verdicts_keep_their_note_and_obey_strict_timing():
    b = budget(max_latency_ms={"cpu": 4})
    assert one(b, {"latency_ms.cpu": 2.0}, {"latency_ms.cpu": "±3% IQR"}).note == "±3% IQR"
    notes = {"untrusted.latency_ms.cpu": "contended: x"}
    assert one(b, {"latency_ms.cpu": 2.0}, notes, strict_timing=True).status == "fail"
