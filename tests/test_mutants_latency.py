"""Timing statistics on recorded numbers, worked by hand: no live timing, no sleeps.

Added for issue #18. Each data set has a mean that differs from its median, so a latency taken
as a mean (of rounds, or of blocks within a round) fails here.
"""

import itertools
from math import sqrt

import pytest

from sepprof import timing
from sepprof.results import Latency, Speedup


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
    assert 2.0 <= speedup.high <= 4.0 and speedup.low == 2.0  # median of resamples of 2,2,2,3,4


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


def test_measure_defaults_to_5_rounds_of_at_least_50_ms(monkeypatch):
    fake_timer(monkeypatch, {"x": itertools.repeat(0.02)})
    (lat,) = timing.measure({"x": lambda: "x"}, device="cpu", n_threads=1).values()
    assert len(lat.rounds) == 5
    assert lat.runs == 5 * 3  # 3 blocks of 20 ms pass 50 ms and agree


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
        "timing stopped after 0 s (at 'slow'): use fewer --rounds or --repeat, a smaller "
        "--min-time, a smaller layer or --no-time"
    )


def test_timed_round_stops_at_max_time_inclusive(monkeypatch):
    u = 1 / 1024
    fake_timer(monkeypatch, {"x": iter([u, 2 * u, 4 * u] + [8 * u] * 20)})  # never agree
    timer = timing.Timer("fn()", {"fn": lambda: "x"}, 1)
    assert timing.timed_round(timer, 1, min_time=1.0, max_time=7 * u) == [u, 2 * u, 4 * u]
