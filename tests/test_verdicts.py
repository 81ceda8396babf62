"""Speedups from paired rounds, their bootstrap interval, when they may carry a verdict, and
budgets judged inconclusive on untrusted timing. Every timing here is a recorded one."""

import math
from math import comb

import pytest

from sepprof.results import Comparison, Latency, Speedup
from sepprof.results.latency import bootstrap_interval, budget_metrics, in_sequence, pool
from sepprof.spec.budgets import Budget
from sepprof.spec.verdicts import judge
from sepprof.timing.options import TimingOptions
from tests.next_run import next_run, own_interval

BASE = [10.0, 12.0, 11.0, 10.0, 9.0]
VARIANT = [2.0, 2.5, 2.0, 2.0, 1.8]  # ratios 5.0, 4.8, 5.5, 5.0, 5.0


def lat(rounds, contention=""):
    return Latency.from_rounds(list(rounds), runs=10 * len(rounds)).contended(contention)


def test_median_of_order_statistic_probabilities_make_min_max_the_95_interval_of_5():
    """Hand derivation: the median of a resample of 5 is the smallest value when at least 3 of
    the 5 draws are it, P = sum_{i>=3} C(5,i) 0.2^i 0.8^(5-i) = 0.058 > 0.025; likewise the
    largest. So the percentile bootstrap 95% interval of 5 distinct values is [min, max]."""
    p_min = sum(comb(5, i) * 0.2**i * 0.8 ** (5 - i) for i in range(3, 6))
    assert p_min == pytest.approx(0.05792)
    values = [5.0, 4.8, 5.5, 5.0, 5.1]
    assert bootstrap_interval(values) == (4.8, 5.5)
    assert bootstrap_interval(values) == bootstrap_interval(list(values))  # fixed seed
    assert bootstrap_interval([3.0] * 7) == (3.0, 3.0)


def test_seven_rounds_are_the_fewest_whose_95_interval_leaves_out_the_extremes():
    """Why the default is 7 rounds. The median of a resample of n (odd) is the smallest value
    when at least (n+1)/2 draws are it: n=5: 0.058 (above 0.025, so the interval is [min, max]
    and one stray round decides trust); n=7: P = sum_{i>=4} C(7,i) (1/7)^i (6/7)^(7-i) = 0.0102,
    under 0.025, so the interval runs from the 2nd to the 6th of 7 distinct ratios."""
    p_min = sum(comb(7, i) * (1 / 7) ** i * (6 / 7) ** (7 - i) for i in range(4, 8))
    assert p_min == pytest.approx(0.01015, abs=1e-5)  # 0.00918 + 0.00092 + 0.00005 + 0.0000012
    ratios = [5.0, 3.1, 5.2, 4.9, 5.1, 6.9, 5.3]  # one stray round each way
    assert bootstrap_interval(ratios) == (4.9, 5.3)
    assert bootstrap_interval([5.0, 3.1, 5.2, 6.9, 5.1]) == (3.1, 6.9)  # 5 rounds: the strays
    assert TimingOptions().rounds == 7


def test_speedup_is_the_median_of_per_round_ratios():
    s = Speedup.of(lat(BASE), lat(VARIANT))
    assert s.ratios == pytest.approx((5.0, 4.8, 5.5, 5.0, 5.0))
    assert s.value == pytest.approx(5.0)
    assert own_interval(s) == pytest.approx((4.8, 5.5))  # the command's own bootstrap
    assert (s.low, s.high) == pytest.approx(next_run(5.0, 4.8, 5.5))  # 4.72x-5.72x
    assert s.error == pytest.approx((s.high - s.low) / 2)
    assert s.trusted and s.reason == "" and s.doubt == ""


def test_pairing_cancels_a_burst_that_hit_both_sides_of_a_round():
    """Rounds 3-5 ran twice as slow for both (a burst or drift): the per-round ratio is 5 every
    round, while the ratio of the two medians (10 / 4) would say 2.5."""
    base, variant = lat([10, 10, 20, 20, 20]), lat([2, 2, 4, 4, 4])
    base2, variant2 = lat([10, 10, 10, 20, 20]), lat([2, 2, 4, 4, 4])
    assert Speedup.of(base, variant).value == pytest.approx(5.0)
    assert base2.median / variant2.median == pytest.approx(2.5)
    assert Speedup.of(base2, variant2).value == pytest.approx(5.0)


def test_contended_side_gives_no_verdict():
    reason = "contended: other processes kept 1.4 of 2 cores busy while cpu was timed at 1"
    s = Speedup.of(lat(BASE), lat(VARIANT, reason))
    assert not s.trusted and s.reason == reason and s.doubt == "contended"
    assert s.value == pytest.approx(5.0)  # the number stays, for the record


@pytest.mark.parametrize(
    ("base", "variant", "doubt", "why"),
    [
        ([10, 10], [2, 2], "unstable", "only 2 paired round(s)"),
        # ratios 1.25x, 0.83x, 1.0x, 1.11x, 0.91x: own interval 0.83x-1.25x, printed 0.77x-1.37x
        ([10] * 5, [8, 12, 10, 9, 11], "inconclusive", "interval 0.77x-1.37x holds 1.0x"),
    ],
)
def test_ratios_that_cannot_decide_give_no_verdict(base, variant, doubt, why):
    s = Speedup.of(lat(base), lat(variant))
    assert not s.trusted and s.doubt == doubt and why in s.reason


def test_speedup_fields_in_comparison_json_round_trip():
    s = Speedup.of(lat(BASE), lat(VARIANT, "contended: busy"))
    comp = Comparison("standard", "separable", 0.115, 0.115, 0.115, {"cpu": s})
    d = comp.to_dict()
    assert d["speedup"] == {"cpu": pytest.approx(5.0)}
    low, high = next_run(5.0, 4.8, 5.5)
    assert d["speedup_low"] == {"cpu": pytest.approx(low)}
    assert d["speedup_high"] == {"cpu": pytest.approx(high)}
    assert d["speedup_trusted"] == {"cpu": False}
    assert d["speedup_reason"] == {"cpu": "contended: busy"}
    assert d["speedup_method"] == {
        "cpu": "bootstrap of rounds (one process: between-process spread not sampled)"
    }
    assert d["speedup_processes"] == {"cpu": []} and d["speedup_per_process"] == {"cpu": []}
    assert d["speedup_drift"] == {"cpu": None}
    assert Comparison.from_dict(d).speedup["cpu"] == s
    old = {k: v for k, v in d.items() if k not in ("speedup_trusted", "speedup_reason")}
    assert Comparison.from_dict(old).speedup["cpu"].trusted  # files from before: as they were


def test_pooled_and_summed_latencies_keep_rounds_paired_and_contention():
    a, b = lat([1, 2, 3]), lat([4, 5], "contended: x")
    pooled = pool([a, b])
    assert pooled.rounds == (1, 2, 3, 4, 5) and pooled.runs == 50
    assert pooled.median == 3 and pooled.contention == "contended: x"
    summed = in_sequence([lat([1, 2, 3]), lat([10, 20, 30], "contended: y")])
    assert summed.rounds == (11, 22, 33) and summed.contention == "contended: y"


def budget(**limits):
    return Budget(name="b", config="x.yaml", **limits)


def test_budget_metrics_mark_untrusted_timing():
    metrics, notes = budget_metrics("cpu", lat(VARIANT, "contended: busy"), lat(BASE))
    assert metrics == {"latency_ms.cpu": 2.0, "speedup.cpu": pytest.approx(5.0)}
    assert notes["untrusted.latency_ms.cpu"] == "contended: busy"
    assert notes["untrusted.speedup.cpu"] == "contended: busy"
    assert "95% interval 4.72x-5.72x" in notes["speedup.cpu"]
    metrics, notes = budget_metrics("cpu", lat(VARIANT), lat(BASE))
    assert not [k for k in notes if k.startswith("untrusted.")]


def test_untrusted_timing_is_inconclusive_not_a_verdict():
    b = budget(max_latency_ms={"cpu": 1.0}, min_speedup={"cpu": 6}, max_macs=10)
    metrics, notes = budget_metrics("cpu", lat(VARIANT, "contended: busy"), lat(BASE))
    metrics["macs"] = 5
    verdicts = {v.metric: v for v in judge(b, metrics, notes, None)}
    assert verdicts["macs"].status == "pass"  # counted metrics are never in doubt
    for key in ("latency_ms.cpu", "speedup.cpu"):
        assert verdicts[key].status == "inconclusive"
        assert "contended: busy" in verdicts[key].note and "--strict-timing" in verdicts[key].note
    strict = {v.metric: v for v in judge(b, metrics, notes, None, strict_timing=True)}
    assert strict["speedup.cpu"].status == "fail"
    assert "contended: busy" in strict["speedup.cpu"].note


def test_trusted_timing_is_judged_as_before():
    b = budget(max_latency_ms={"cpu": 1.0}, min_speedup={"cpu": 4})
    metrics, notes = budget_metrics("cpu", lat(VARIANT), lat(BASE))
    statuses = {v.metric: v.status for v in judge(b, metrics, notes, None, strict_timing=True)}
    assert statuses == {"latency_ms.cpu": "fail", "speedup.cpu": "pass"}


def test_regression_on_untrusted_timing_is_inconclusive():
    b = budget(max_regression="10%")
    metrics, notes = budget_metrics("cpu", lat([4.0] * 5, "contended: busy"), None)
    verdicts = judge(b, metrics, notes, {"latency_ms.cpu": 2.0})
    assert [(v.metric, v.status) for v in verdicts] == [
        ("regression latency_ms.cpu", "inconclusive")
    ]


@pytest.mark.parametrize(
    ("limits", "key", "interval", "status"),
    [
        # min_speedup 5: all of 5.2x-5.8x clears it, all of 4.1x-4.9x misses it, 4.8x-5.3x straddles
        ({"min_speedup": {"cpu": 5}}, "speedup.cpu", (5.2, 5.8), "pass"),
        ({"min_speedup": {"cpu": 5}}, "speedup.cpu", (4.1, 4.9), "fail"),
        ({"min_speedup": {"cpu": 5}}, "speedup.cpu", (4.8, 5.3), "inconclusive"),
        ({"min_speedup": {"cpu": 5}}, "speedup.cpu", (5.0, 5.3), "pass"),  # at the limit: clears
        # max_latency_ms 10: 8-9.5 clears, 10.5-12 misses, 9-11 straddles
        ({"max_latency_ms": {"cpu": 10}}, "latency_ms.cpu", (8.0, 9.5), "pass"),
        ({"max_latency_ms": {"cpu": 10}}, "latency_ms.cpu", (10.5, 12.0), "fail"),
        ({"max_latency_ms": {"cpu": 10}}, "latency_ms.cpu", (9.0, 11.0), "inconclusive"),
        ({"max_latency_ms": {"cpu": 10}}, "latency_ms.cpu", (9.0, 10.0), "pass"),
        # an interval that starts or ends exactly at the limit and goes past it: straddles
        ({"max_latency_ms": {"cpu": 10}}, "latency_ms.cpu", (10.0, 11.0), "inconclusive"),
        ({"min_speedup": {"cpu": 5}}, "speedup.cpu", (4.5, 5.0), "inconclusive"),
    ],
)
def test_a_timed_budget_is_decided_three_ways_by_its_interval(limits, key, interval, status):
    """The point estimate is the middle of the interval; only the interval decides."""
    middle = sum(interval) / 2
    (verdict,) = judge(budget(**limits), {key: middle}, {}, None, intervals={key: interval})
    assert verdict.status == status
    assert (verdict.low, verdict.high) == interval
    assert "95% interval" in verdict.note and "vs limit" in verdict.note
    (strict,) = judge(budget(**limits), {key: middle}, {}, None, True, {key: interval})
    assert strict.status == ("fail" if status == "inconclusive" else status)


def test_drift_learned_by_hand():
    """Two items timed again and again: a at log values 0 and 0.2 (mean 0.1, squares 0.02), b
    at 0.1, 0.3, 0.5 (mean 0.3, squares 0.08): 3 repeats, pooled variance 0.10 / 3. Each run's
    own interval was log-half-width 1.96 x 0.1, a within-run variance of 0.01, taken off."""
    import math

    from sepprof.results.drift import Run, learn

    half = 1.959964 * 0.1
    runs = [Run("a", 0.0, half), Run("a", 0.2, half)]
    runs += [Run("b", 0.1, half), Run("b", 0.3, half), Run("b", 0.5, half), Run("c", 9.0, half)]
    drift = learn(runs)
    assert (drift.repeats, drift.keys) == (3, 2)
    assert drift.sigma == pytest.approx(math.sqrt(0.10 / 3 - 0.01))
    assert learn(runs[:4]).sigma is None  # 2 repeats: not learned yet
    assert "not learned yet" in learn(runs[:4]).source
    tight = [Run("a", 0.0, 1.0), Run("a", 0.01, 1.0), Run("a", 0.0, 1.0), Run("a", 0.01, 1.0)]
    assert learn(tight).sigma == 0.0  # runs closer than their own intervals: no drift


def test_an_item_timed_often_enough_learns_its_own_drift():
    """A tiny layer that moves a lot between commands must not widen a large layer's interval
    once the large one has its own history: "big" at log values 0, 0.02, 0, 0.02 (mean 0.01,
    squares 4 x 0.0001, 3 repeats) with no own width; "tiny" at 0 and 0.6 (1 repeat). Pooled:
    (0.0004 + 0.18) / 4. With 2 repeats "big" is not learned yet and borrows the pool."""
    import math

    from sepprof.results.drift import Run, learn

    big = [Run("x|big|a->b", v, 0.0) for v in (0.0, 0.02, 0.0, 0.02)]
    tiny = [Run("x|tiny|a->b", 0.0, 0.0), Run("x|tiny|a->b", 0.6, 0.0)]
    own = learn(big + tiny, "x|big|")
    assert own.own and own.repeats == 3 and own.sigma == pytest.approx(math.sqrt(0.0004 / 3))
    assert "this item" in own.source
    pooled = learn(big[:3] + tiny, "x|big|")
    assert not pooled.own and pooled.sigma == pytest.approx(
        math.sqrt((2 * (0.02 / 3) ** 2 + (0.04 / 3) ** 2 + 0.18) / 3)  # big at 0, 0.02, 0
    )
    assert learn(big + tiny).sigma == pytest.approx(math.sqrt((0.0004 + 0.18) / 4))


def test_drift_widens_each_side_in_quadrature_on_the_log_scale():
    """5x with its own interval 4.5x-5.5x and a drift of sigma 0.05: each side's log distance
    combined with 1.96 x 0.05 by Pythagoras, times sqrt(2) for the next run's estimate (which
    has the same spread again)."""
    import math

    from sepprof.results.drift import Drift, widen

    low, high = widen(5.0, 4.5, 5.5, Drift(0.05, 4, 2))
    extra = 1.959964 * 0.05
    root2 = 1.4142135623730951
    assert low == pytest.approx(5.0 * math.exp(-root2 * math.hypot(math.log(5 / 4.5), extra)))
    assert high == pytest.approx(5.0 * math.exp(root2 * math.hypot(math.log(5.5 / 5), extra)))
    # no drift learned: only the next run's own spread, log(5/4.5) * sqrt(2) below
    assert widen(5.0, 4.5, 5.5, Drift(None)) == pytest.approx(
        (5 * (4.5 / 5) ** root2, 5 * (5.5 / 5) ** root2)
    )
    assert widen(5.0, 4.5, 5.5, None) == widen(5.0, 4.5, 5.5, Drift(None))
    s = Speedup.paired([5.0, 4.9, 5.1, 5.0, 5.2, 4.8, 5.0], drift=Drift(0.05, 4, 2))
    plain = Speedup.paired([5.0, 4.9, 5.1, 5.0, 5.2, 4.8, 5.0])
    assert s.low < plain.low and s.high > plain.high and s.drift == Drift(0.05, 4, 2)


def test_the_drift_store_learns_from_earlier_commands(tmp_path, monkeypatch):
    """Runs recorded by one command are read back by the next; contended runs are not kept;
    a damaged store reads as empty."""
    from sepprof.timing import drift as store

    monkeypatch.setenv("SEPPROF_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(store, "device_name", lambda device: "test cpu")
    assert store.load_drift("cpu", 2).sigma is None
    for value in (5.0, 5.5, 5.0, 5.5):
        s = Speedup.paired([value] * 7)
        store.record("cpu", 2, store.speedup_estimates({"k": s}))
    busy = Speedup.paired([9.0] * 7, "contended: x")
    store.record("cpu", 2, store.speedup_estimates({"k": busy}))
    drift = store.load_drift("cpu", 2)
    values = [math.log(5.0), math.log(5.5)] * 2
    mean = sum(values) / 4
    assert drift.repeats == 3 and drift.sigma == pytest.approx(
        math.sqrt(sum((v - mean) ** 2 for v in values) / 3)
    )
    assert store.load_drift("cpu", 1).sigma is None  # another thread count: another machine key
    assert store.load_drift("cpu", 2, store.LATENCY).sigma is None  # another kind
    (tmp_path / "drift.json").write_text("{not json")
    assert store.load_drift("cpu", 2).sigma is None


def test_the_drift_probe_stores_runs_that_teach_the_next_command_a_drift(tmp_path, monkeypatch):
    """calibrate's probe on a machine with no history: short paired measurements (recorded
    here, alternately 5x and 5.5x, each with identical rounds) stored as runs; the next command
    learns the drift of those estimates, and a machine that has one is not probed again."""
    import itertools

    import sepprof.timing.calibration as cal
    import sepprof.timing.timer as timer
    from sepprof.commands.calibrate import calibrate
    from sepprof.timing import drift as store
    from sepprof.timing.options import TimingOptions

    monkeypatch.setenv("SEPPROF_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(store, "device_name", lambda device: "test cpu")
    ratios = itertools.cycle([5.0, 5.5])

    def recorded(items, **_):
        r = next(ratios)
        return {"standard": lat([r] * 5), "separable": lat([1.0] * 5)}

    class Meter:  # others' CPU while the probe timed: none, then two busy cores
        during = 0.0

        def start(self):
            return self

        def stop(self):
            return Meter.during

    import sepprof.timing.contention as contention

    monkeypatch.setattr(contention, "Meter", Meter)
    monkeypatch.setattr(contention, "others_cpu", lambda *a, **k: 0.0)
    monkeypatch.setattr(timer, "measure", recorded)
    Meter.during = 99.0
    assert store.probe("cpu", 2, seconds=0.1) == 0  # contended: nothing stored
    assert store.load_drift("cpu", 2).repeats == 0
    Meter.during = 0.0
    ratios = itertools.cycle([5.0, 5.5])
    runs = store.probe("cpu", 2, seconds=0.2)
    assert runs >= 4
    drift = store.load_drift("cpu", 2)
    values = [math.log(5.0), math.log(5.5)] * (runs // 2) + [math.log(5.0)] * (runs % 2)
    mean = sum(values) / runs
    expected = math.sqrt(sum((v - mean) ** 2 for v in values) / (runs - 1))
    assert drift.repeats == runs - 1 and drift.sigma == pytest.approx(expected)
    monkeypatch.setattr(cal, "calibrate", lambda *a, **k: _a_calibration())
    monkeypatch.setattr(store, "probe", lambda *a, **k: pytest.fail("probed again"))
    (done,) = calibrate(TimingOptions(threads=2), probe_seconds=30)
    assert "cpu: drift ±" in done.message


def _a_calibration():
    from sepprof.results.calibration import Calibration

    return Calibration("cpu", "test cpu", "fp32", 2, "2.13", 1e11, "mm", 3e10, None, None)


def test_processes_at_different_levels_are_not_a_split():
    """Two processes, each steady (1.0 ms and 1.6 ms): pooled, their rounds look like two
    clusters, but the level between processes is the interval's business, not instability; a
    process whose own rounds split (1, 1, 1, 3 ms: 3x its median) still marks the pooled one."""
    steady = pool([lat([1.0] * 4), lat([1.6] * 4)])
    assert not steady.unstable and steady.processes == (4, 4)
    assert Latency.from_rounds([1.0] * 4 + [1.6] * 4, 80).unstable  # one process: a split
    assert pool([lat([1.0, 1.0, 1.0, 3.0]), lat([1.2] * 4)]).unstable
