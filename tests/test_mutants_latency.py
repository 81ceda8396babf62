"""Timing statistics on recorded numbers, worked by hand: no live timing, no sleeps.

Added for issue #18. Each data set has a mean that differs from its median, so a latency taken
as a mean (of rounds, or of blocks within a round) fails here.
"""

import itertools
from dataclasses import replace
from math import sqrt

import pytest

from sepprof.results import Latency, Speedup
from sepprof.results.drift import Drift
from sepprof.results.latency import (
    bootstrap_interval,
    budget_metrics,
    hierarchical_interval,
    in_sequence,
    latency_doubt,
    pool,
    split,
)
from sepprof.timing import timer as timing
from tests.next_run import next_run, own_interval


def test_latency_is_the_median_of_rounds_not_their_mean():
    lat = Latency.from_rounds([9.0, 1.0, 2.0], runs=30)  # mean 4, median 2
    assert lat.median == 2.0
    assert lat.iqr == 4.0  # inclusive quartiles of 1, 2, 9: 1.5 and 5.5
    assert lat.rounds == (9.0, 1.0, 2.0)  # in timing order, not sorted: rounds pair by index
    even = Latency.from_rounds([1.0, 2.0, 4.0, 10.0], runs=4)  # median (2 + 4) / 2, mean 4.25
    assert even.median == 3.0
    assert even.iqr == pytest.approx(5.5 - 1.75)  # quartiles 1.75 and 5.5
    assert Latency.from_rounds([7.0], runs=1).iqr == 0.0


def test_spread_is_iqr_over_median():
    assert Latency(2.0, 0.5, 1).spread == 0.25
    assert Latency(0.0, 0.5, 1).spread is None


def test_speedup_from_medians_propagates_both_iqrs():
    base, variant = Latency(10.0, 2.0, 1), Latency(4.0, 1.2, 1)  # no rounds to pair
    speedup = Speedup.of(base, variant)
    assert speedup.value == 2.5
    rel = sqrt((2.0 / 2 / 10.0) ** 2 + (1.2 / 2 / 4.0) ** 2)  # 0.1 and 0.15
    assert speedup.error == pytest.approx(2.5 * rel)


def test_paired_speedup_is_the_median_of_round_ratios():
    base = Latency.from_rounds([10.0, 20.0, 30.0, 40.0, 50.0], runs=5)
    variant = Latency.from_rounds([5.0, 10.0, 10.0, 10.0, 25.0], runs=5)
    speedup = Speedup.of(base, variant)  # ratios 2, 2, 3, 4, 2: median 2, mean 2.6
    assert speedup.value == 2.0
    assert speedup.ratios == (2.0, 2.0, 3.0, 4.0, 2.0)
    own_low, own_high = own_interval(speedup)  # medians of resamples of 2,2,2,3,4
    assert 2.0 <= own_high <= 4.0 and own_low == pytest.approx(2.0)


class Seen:
    """What the scripted timer saw: thread counts, warm-ups, block-size probes."""

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.warmed: list[tuple[str, str]] = []
        self.sized: list[str] = []


def fake_timer(monkeypatch, blocks: dict[str, object]) -> Seen:
    """Replace the Timer with a script: each item's blocks take the given seconds, in order.
    The item is found by running the timer's statement, as ``Timer`` itself would."""
    scripts = {name: iter(seconds) for name, seconds in blocks.items()}
    seen = Seen()

    class Timer:
        def __init__(self, stmt, globals, num_threads):
            self.name = eval(stmt, dict(globals))
            seen.threads.add(num_threads)

    def run_block(timer, number):
        return next(scripts[timer.name]) * number

    def block_size(timer):
        seen.sized.append(timer.name)
        return 1

    monkeypatch.setattr(timing, "Timer", Timer)
    monkeypatch.setattr(timing, "run_block", run_block)
    monkeypatch.setattr(timing, "block_size", block_size)
    monkeypatch.setattr(timing, "warm_up", lambda fn, device: seen.warmed.append((fn(), device)))
    return seen


def test_a_round_is_the_median_of_its_blocks_and_latency_the_median_of_rounds(monkeypatch):
    """min_time 1 ms, so a round stops once 4 ms are spent: blocks of 1, 2, 9 ms are one round
    (median 2 ms, mean 4 ms), blocks of 3, 0.5, 1 ms another (1 ms), one block of 10 ms a third:
    latency 2 ms (the mean of rounds would be 4.33 ms)."""
    ms = 1e-3
    seen = fake_timer(
        monkeypatch,
        {
            "a": [1 * ms, 2 * ms, 9 * ms, 3 * ms, 0.5 * ms, 1 * ms, 10 * ms],
            "b": [1 * ms] * 9,  # 3 ms a round: stops on agreement once past min_time
        },
    )
    lat = timing.measure(
        {"a": lambda: "a", "b": lambda: "b"}, device="cpu", n_threads=2, rounds=3, min_time=ms
    )
    assert seen.threads == {2}  # Timer defaults to 1 thread: it must be told
    assert seen.warmed == [("a", "cpu"), ("b", "cpu")] and seen.sized == ["a", "b"]
    assert lat["a"].rounds == pytest.approx((2.0, 1.0, 10.0))
    assert lat["a"].median == pytest.approx(2.0)
    assert lat["a"].runs == 3 + 3 + 1
    assert lat["b"].rounds == pytest.approx((1.0, 1.0, 1.0)) and lat["b"].runs == 9


def test_measure_defaults_to_7_rounds_of_at_least_50_ms(monkeypatch):
    fake_timer(monkeypatch, {"x": itertools.repeat(0.02)})
    (lat,) = timing.measure({"x": lambda: "x"}, device="cpu", n_threads=1).values()
    assert len(lat.rounds) == 7
    assert lat.runs == 7 * 3  # 3 blocks of 20 ms pass 50 ms and agree


def test_timed_round_edges_are_inclusive(monkeypatch):
    u = 1 / 1024  # exact in binary: totals and quartiles below are exact
    fake_timer(monkeypatch, {"x": itertools.repeat(u)})
    timer = timing.Timer("fn()", {"fn": lambda: "x"}, 1)
    assert len(timing.timed_round(timer, 1, min_time=3 * u, max_time=1.0)) == 3
    fake_timer(monkeypatch, {"x": iter([u, 2 * u, 3 * u] + [2 * u] * 20)})
    # IQR of u, 2u, 3u is u: exactly half the 2u median
    assert len(timing.timed_round(timer, 1, 0.0, 1.0, threshold=0.5)) == 3


def test_timed_round_stops_when_blocks_agree_or_time_is_up(monkeypatch):
    ms = 1e-3
    fake_timer(monkeypatch, {"x": [1 * ms] * 10})
    timer = timing.Timer("fn()", {"fn": lambda: "x"}, 1)
    assert timing.timed_round(timer, 1, min_time=2.5 * ms, max_time=1.0) == [ms] * 3
    assert timing.timed_round(timer, 1, min_time=3.5 * ms, max_time=1.0) == [ms] * 4
    fake_timer(monkeypatch, {"x": [1 * ms, 1 * ms, 1.5 * ms, 1 * ms, 1 * ms, 1 * ms]})
    # IQR of 1, 1, 1.5 is 0.25 ms, of 1, 1, 1, 1.5 it is 0.125 ms: over 10% of the 1 ms median;
    # of 1, 1, 1, 1, 1.5 it is 0
    times = timing.timed_round(timer, 1, min_time=0.0, max_time=1.0)
    assert times == [ms, ms, 1.5 * ms, ms, ms]
    fake_timer(monkeypatch, {"x": [5 * ms, 1 * ms, 9 * ms, 2 * ms]})
    assert timing.timed_round(timer, 1, min_time=0.0, max_time=15 * ms) == [
        5 * ms,
        1 * ms,
        9 * ms,
    ]
    fake_timer(monkeypatch, {"x": [2 * ms] * 4})
    assert timing.timed_round(timer, 2, min_time=0.0, max_time=1.0) == [2 * ms] * 3


def test_threshold_is_a_fraction_of_the_median(monkeypatch):
    ms = 1e-3
    blocks = [1 * ms, 1.1 * ms, 1.2 * ms] + [1 * ms] * 20  # IQR 0.1 ms at a 1.1 ms median: 9%
    fake_timer(monkeypatch, {"x": blocks})
    timer = timing.Timer("fn()", {"fn": lambda: "x"}, 1)
    assert len(timing.timed_round(timer, 1, 0.0, 1.0, threshold=0.1)) == 3
    fake_timer(monkeypatch, {"x": blocks})
    assert len(timing.timed_round(timer, 1, 0.0, 1.0, threshold=0.05)) > 3


def test_measure_stops_at_its_time_limit_and_says_what_to_change(monkeypatch):
    fake_timer(monkeypatch, {"slow": itertools.repeat(0.5)})
    monkeypatch.setattr(timing, "TIMEOUT", 0.0)
    with pytest.raises(timing.UserError) as stopped:
        timing.measure({"slow": lambda: "slow"}, device="cpu", n_threads=1)
    assert str(stopped.value) == (
        "timing stopped after 0 s (at 'slow'): use fewer --rounds or --processes, a smaller "
        "--min-time, a smaller layer or --no-time"
    )


def test_timed_round_stops_at_max_time_inclusive(monkeypatch):
    u = 1 / 1024
    fake_timer(monkeypatch, {"x": iter([u, 2 * u, 4 * u] + [8 * u] * 20)})  # never agree
    timer = timing.Timer("fn()", {"fn": lambda: "x"}, 1)
    assert timing.timed_round(timer, 1, min_time=1.0, max_time=7 * u) == [u, 2 * u, 4 * u]


# Percentile bootstrap of the median of 1..5, worked by hand: a resample's median is 1 when at
# least 3 of its 5 draws are 1, probability 0.058 (5·0.2³·0.8² + 5·0.2⁴·0.8 + 0.2⁵), so over
# 2,000 resamples about 116 medians are 1 and 116 are 5: the 2.5th and 97.5th percentiles are
# 1 and 5. The median is at most 2 with probability 0.317, so the quartiles are 2 and 4.
ONE_TO_FIVE = [3.0, 1.0, 4.0, 5.0, 2.0]


def test_bootstrap_interval_of_the_median():
    assert bootstrap_interval(ONE_TO_FIVE) == (1.0, 5.0)
    assert bootstrap_interval(ONE_TO_FIVE, level=0.5) == (2.0, 4.0)
    assert bootstrap_interval([2.5] * 7) == (2.5, 2.5)
    assert bootstrap_interval(ONE_TO_FIVE, seed=1) == bootstrap_interval(ONE_TO_FIVE, seed=1)


def test_paired_speedup_is_trusted_only_with_enough_narrow_rounds():
    steady = Speedup.paired([2.0] * 5)
    assert (steady.value, steady.low, steady.high, steady.error) == (2.0, 2.0, 2.0, 0.0)
    assert steady.trusted and steady.reason == "" and steady.doubt == ""
    few = Speedup.paired([2.0, 2.0])
    assert not few.trusted and few.doubt == "unstable"
    assert few.reason == (
        "unstable: only 2 paired round(s), at least 3 are needed to judge a speedup; "
        "use more --rounds"
    )
    assert Speedup.paired([2.0] * 3).trusted
    wide = Speedup.paired(ONE_TO_FIVE)
    assert wide.value == 3.0 and own_interval(wide) == pytest.approx((1.0, 5.0))
    assert wide.error == pytest.approx((wide.high - wide.low) / 2)
    assert (wide.low, wide.high) == pytest.approx(next_run(3.0, 1.0, 5.0))  # 0.63x-6.18x
    assert wide.reason == (
        "inconclusive: the 95% interval 0.63x-6.18x holds 1.0x, so it does not separate the "
        "variants; rerun with more --rounds or --processes"
    )
    narrow = Speedup.paired([3.0, 3.1, 2.9, 3.0, 3.05, 2.95])
    low, high = own_interval(narrow)
    assert narrow.trusted and 2.9 - 1e-9 <= low <= 3.0 <= high <= 3.1 + 1e-9
    # Wide but clear of 1.0x: the variants are separated, so the speedup carries a verdict.
    spread = Speedup.paired([1.5, 2.0, 3.0, 4.0, 5.0])
    assert own_interval(spread) == pytest.approx((1.5, 5.0)) and spread.trusted
    # The printed low end, 1.3 * (own low / 1.3) ** sqrt(2), just below 1.0x is not separated
    # (own low 1.07: 0.987x); just above is (own low 1.09: 1.013x).
    assert not Speedup.paired([1.07, 1.2, 1.3, 1.4, 1.5]).trusted
    assert Speedup.paired([1.09, 1.2, 1.3, 1.4, 1.5]).trusted
    busy = Speedup.paired([2.0] * 5, "contended: 1.0 cores busy")
    assert (busy.trusted, busy.reason, busy.doubt) == (
        False,
        "contended: 1.0 cores busy",
        "contended",
    )


def test_speedup_pairs_rounds_only_when_both_sides_have_the_same_rounds():
    base = Latency.from_rounds([4.0, 4.0, 4.0], runs=3)
    paired = Speedup.of(base, Latency.from_rounds([2.0, 2.0, 1.0], runs=3))
    assert paired.ratios == (2.0, 2.0, 4.0) and paired.value == 2.0
    busy = Speedup.of(base, Latency.from_rounds([2.0] * 3, runs=3).contended("contended: b"))
    assert busy.reason == "contended: b"
    busy_base = Speedup.of(base.contended("contended: a"), Latency.from_rounds([2.0] * 3, 3))
    assert busy_base.reason == "contended: a"
    uneven = Speedup.of(base, Latency.from_rounds([2.0, 2.0], runs=2))
    assert uneven.ratios == () and uneven.value == 2.0 and not uneven.trusted
    assert uneven.reason == (
        "unstable: baseline and variant were not timed in the same rounds; time them in one command"
    )
    zero = Speedup.of(base, Latency.from_rounds([2.0, 0.0, 2.0], runs=3))
    assert zero.ratios == () and zero.value == 2.0  # no ratio of a zero round: medians
    bare = Speedup.of(Latency(4.0, 0.0, 1), Latency(2.0, 0.0, 1).contended("contended: c"))
    assert (bare.value, bare.trusted, bare.reason) == (2.0, False, "contended: c")
    assert Speedup.of(Latency(4.0, 0.0, 1), Latency(2.0, 0.0, 1)).trusted


def test_pooling_and_sequences_keep_rounds_runs_and_contention():
    a = Latency.from_rounds([1.0, 2.0], runs=10)
    b = Latency.from_rounds([3.0], runs=5).contended("contended: w2")
    pooled = pool([a, b])
    assert (pooled.rounds, pooled.median, pooled.runs) == ((1.0, 2.0, 3.0), 2.0, 15)
    assert pooled.contention == "contended: w2"
    assert pool([a, a]).contention == ""
    first = Latency.from_rounds([1.0, 2.0, 3.0], runs=3)
    second = Latency.from_rounds([10.0, 20.0, 40.0], runs=6).contended("contended: s")
    summed = in_sequence([first, second])
    assert (summed.rounds, summed.median, summed.runs) == ((11.0, 22.0, 43.0), 22.0, 9)
    assert summed.contention == "contended: s"
    assert in_sequence([first, first]).contention == ""
    with pytest.raises(ValueError):
        in_sequence([first, Latency.from_rounds([1.0], runs=1)])


def test_contended_keeps_the_first_reason():
    lat = Latency(1.0, 0.0, 1)
    assert lat.contended("") is lat
    assert lat.contended("a").contended("b").contention == "a"


def test_latency_doubt():
    assert latency_doubt(Latency(1.0, 0.0, 1)) == ""
    assert latency_doubt(Latency(1.0, 0.0, 1, unstable=True)) == (
        "unstable: its rounds fall into two clusters; rerun on a quiet machine"
    )
    assert latency_doubt(Latency(1.0, 0.0, 1, unstable=True, contention="contended: x")) == (
        "contended: x"
    )


def test_budget_metrics_report_latency_noise_and_speedup():
    measured = Latency.from_rounds([2.0, 1.6, 2.2, 1.8, 2.4], runs=5)  # IQR 0.4 at median 2
    metrics, notes = budget_metrics("cpu", measured, None)
    assert metrics == {"latency_ms.cpu": 2.0}
    assert notes == {"latency_ms.cpu": "±20% IQR over 5 rounds"}
    standard = Latency.from_rounds([4.0, 3.2, 4.4, 3.6, 4.8], runs=5)  # ratios all 2
    metrics, notes = budget_metrics("cuda", measured, standard)
    assert metrics == {"latency_ms.cuda": 2.0, "speedup.cuda": 2.0}
    assert notes["speedup.cuda"] == "standard 4 ms / 2 ms, 95% interval 2.00x-2.00x"
    assert "untrusted.speedup.cuda" not in notes
    unpaired = Latency(4.0, 0.4, 5)
    _, notes = budget_metrics("cpu", measured, unpaired)
    assert notes["speedup.cpu"].startswith("standard 4 ms / 2 ms, ±0.")
    assert notes["untrusted.speedup.cpu"].startswith("unstable: baseline and variant")
    split_rounds = Latency.from_rounds([1.0, 1.0, 1.0, 5.0, 5.0], runs=5)
    _, notes = budget_metrics("cpu", split_rounds, None)
    assert notes["latency_ms.cpu"] == "±400% IQR over 5 rounds, unstable rounds"
    assert notes["untrusted.latency_ms.cpu"].startswith("unstable: its rounds")


def test_latency_and_speedup_serialise_every_field():
    lat = Latency(2.0, 0.5, 7, (2.0, 2.5), True, "contended: x")
    assert lat.to_dict() == {
        "median": 2.0,
        "iqr": 0.5,
        "spread": 0.25,
        "runs": 7,
        "rounds": [2.0, 2.5],
        "unstable": True,
        "contention": "contended: x",
        "processes": [],
    }
    assert Latency.from_dict(lat.to_dict()) == lat
    split_up = Latency(2.0, 0.5, 7, (2.0, 2.5, 3.0), processes=(1, 2))
    assert Latency.from_dict(split_up.to_dict()).processes == (1, 2)
    assert Latency.from_dict({"median": "2", "iqr": 0, "runs": "3"}) == Latency(2.0, 0.0, 3)
    speedup = Speedup(2.0, 0.1, 1.9, 2.1, False, "unstable: y", (1.9, 2.0, 2.1))
    assert speedup.to_dict() == {
        "value": 2.0,
        "error": 0.1,
        "low": 1.9,
        "high": 2.1,
        "trusted": False,
        "reason": "unstable: y",
        "ratios": [1.9, 2.0, 2.1],
        "processes": [],
        "per_process": [],
        "method": "",
        "drift": None,
    }
    assert Speedup.from_dict(speedup.to_dict()) == speedup
    full = Speedup(
        2.0, 0.1, 1.9, 2.1, True, "", (1.9, 2.1), (1, 1), (1.9, 2.1), "m", Drift(0.05, 4, 2)
    )
    assert Speedup.from_dict(full.to_dict()) == full
    assert Speedup.from_dict({"value": 3}) == Speedup(3.0, 0.0)


@pytest.mark.parametrize(
    ("ordered", "unstable"),
    [
        ([0.3, 0.3, 0.31, 3.2, 4.5], True),  # fast and slow rounds: two clusters
        ([1.0, 1.5], True),  # exactly 1.5x apart: the ratio is inclusive
        ([1.0, 1.4], False),  # under 1.5x apart
        ([1.0, 2.0, 3.0], False),  # even steps: the largest gap is half the range, not over
        ([1.0, 1.1, 3.0], True),
        ([0.0, 5.0], False),  # a zero round: no ratio
        ([2.0], False),
        ([], False),
    ],
)
def test_two_clusters_of_rounds(ordered, unstable):
    assert split(ordered) is unstable
    assert Latency.from_rounds(ordered[::-1], runs=1).unstable is unstable if ordered else True


def test_split_ratio_is_a_parameter():
    assert split([1.0, 1.9], ratio=2.0) is False
    assert split([1.0, 2.0], ratio=2.0) is True


def test_bootstrap_percentiles_by_hand():
    """Medians of 5 draws from 1..5: P(median <= 1) = 0.058, P(<= 2) = 0.317, P(<= 3) = 0.683
    (binomial sums), so over 2,000 resamples the 10th/90th percentiles are 2 and 4 (a single
    draw would give 1 and 5), the 40th/60th are both 3, and level 1 spans all: 1 to 5."""
    assert bootstrap_interval(ONE_TO_FIVE, level=0.8) == (2.0, 4.0)
    assert bootstrap_interval(ONE_TO_FIVE, level=0.2) == (3.0, 3.0)
    assert bootstrap_interval(ONE_TO_FIVE, level=1.0) == (1.0, 5.0)
    spread = [1.0, 1.1, 1.3, 1.7, 2.5, 4.1]  # medians of even draws take many values
    assert bootstrap_interval(spread, level=0.5) == bootstrap_interval(spread, level=0.5)
    assert bootstrap_interval([1.0] * 800) == (1.0, 1.0)  # 250 resamples: a whole number


def test_two_rounds_have_an_iqr():
    assert Latency.from_rounds([1.0, 3.0], runs=2).iqr == 1.0  # quartiles 1.5 and 2.5


def test_a_slowdown_is_judged_by_the_same_separation():
    slow = Speedup.paired([x / 10 for x in ONE_TO_FIVE])  # 0.3x, interval 0.1x-0.5x
    assert slow.trusted and own_interval(slow) == pytest.approx((0.1, 0.5))
    even = Speedup.paired([0.6, 0.8, 1.0, 1.2, 1.4])  # 1.0x, own interval 0.6x-1.4x
    assert even.reason.startswith("inconclusive: the 95% interval 0.49x-1.61x holds 1.0x")


def test_hierarchical_interval_by_hand():
    """Two processes, rounds all 1 in one and all 3 in the other: a resample draws (A, A) with
    probability 1/4 (median 1), (B, B) 1/4 (median 3), mixed 1/2 (pooled median 2). So the 95%
    interval is 1 to 3, the middle 40% is 2 to 2; one process alone is the plain bootstrap."""
    groups = [[1.0, 1.0, 1.0], [3.0, 3.0, 3.0]]
    assert hierarchical_interval(groups) == (1.0, 3.0)
    assert hierarchical_interval(groups, level=0.4) == (2.0, 2.0)
    assert hierarchical_interval([ONE_TO_FIVE], level=0.8) == bootstrap_interval(ONE_TO_FIVE, 0.8)
    assert hierarchical_interval(groups, seed=1) == hierarchical_interval(groups, seed=1)


def test_speedup_over_processes_uses_the_hierarchical_interval():
    """Rounds of two processes: 2x in one, 3x in the other. Pooled they look like one tight
    cloud of two values; resampling processes first gives the 2x-3x a next run may see."""
    base = Latency.from_rounds([6.0] * 6, runs=6)
    fast = Latency.from_rounds([3.0] * 3 + [2.0] * 3, runs=6)
    s = Speedup.of(replace(base, processes=(3, 3)), replace(fast, processes=(3, 3)))
    assert own_interval(s) == pytest.approx((2.0, 3.0)) and s.per_process == (2.0, 3.0)
    assert s.processes == (3, 3) and s.method.startswith("hierarchical")
    one = Speedup.of(base, fast)  # the same rounds as one process
    assert one.processes == () and one.per_process == () and one.method.startswith("bootstrap")
    mixed = Speedup.of(replace(base, processes=(3, 3)), replace(fast, processes=(2, 4)))
    assert mixed.processes == ()  # the sides were not split alike: not paired by process


def test_bootstrap_is_the_same_every_time_for_many_distinct_values():
    """101 distinct values give bootstrap medians over dozens of order statistics: an unseeded
    generator would move the interval's ends from one call to the next."""
    values = [1.0 + (i * 37 % 101) / 50 for i in range(101)]
    first = bootstrap_interval(values)
    assert all(bootstrap_interval(values) == first for _ in range(10))


def test_processes_that_disagree_beyond_the_interval_withhold_the_verdict():
    from sepprof.results.latency import _instability

    assert _instability([2.0] * 6, 2.0, 1.9, 2.1, (1.95, 2.05)) == ""
    reason = _instability([2.0] * 6, 2.0, 1.9, 2.1, (1.95, 2.3))
    assert reason.startswith("unstable: the worker processes disagree (1.95x, 2.30x), beyond")
    assert _instability([2.0] * 6, 2.0, 1.9, 2.1, (1.9, 2.1)) == ""  # the ends are inside
