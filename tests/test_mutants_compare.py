"""compare's derived numbers worked by hand (issue #29: results/compare.py was never mutated).

Ratios are variant / baseline; a speedup is baseline time / variant time; "realised" is
speedup x MAC ratio (1.0 = the time fell as much as the MACs).
"""

import pytest

from sepprof.results import CompareResult, Comparison, Latency, Row, Speedup
from sepprof.results.compare import comparisons


def row(name, macs, params, traced=None, **timings) -> Row:
    lat = {d: Latency(ms, 0.0, 5, (ms,) * 5) for d, ms in timings.items()}
    return Row(name, name, params, 0, macs, 0, 0, macs_traced=traced, latency_ms=lat)


def test_each_variant_is_compared_with_the_first_row():
    rows = (
        row("standard", 1000, 200, traced=1000, cpu=4.0, cuda=1.0),
        row("separable", 250, 50, traced=260, cpu=2.0),
        row("grouped", 500, 80, cpu=8.0, mps=1.0),
    )
    sep, grouped = comparisons(rows, {"separable": 0.3, "other": 0.5})
    assert (sep.baseline, sep.variant) == ("standard", "separable")
    assert (sep.macs_ratio, sep.params_ratio, sep.traced_ratio) == (0.25, 0.25, 0.26)
    assert sep.theory_ratio == 0.3
    assert sep.speedup["cpu"].value == 2.0  # 4 ms / 2 ms, every round
    assert set(sep.speedup) == {"cpu"}  # cuda: the variant was not timed there
    assert (grouped.macs_ratio, grouped.params_ratio) == (0.5, 0.4)
    assert grouped.theory_ratio is None  # no theory for its name
    assert grouped.traced_ratio is None  # the variant was not traced
    assert grouped.speedup["cpu"].value == 0.5  # 4 ms / 8 ms
    assert set(grouped.speedup) == {"cpu"}  # mps: the baseline was not timed there


def test_traced_ratio_needs_a_nonzero_traced_baseline():
    rows = (row("a", 1000, 200, traced=0), row("b", 250, 50, traced=260))
    assert comparisons(rows, {})[0].traced_ratio is None
    rows = (row("a", 1000, 200), row("b", 250, 50, traced=260))
    assert comparisons(rows, {})[0].traced_ratio is None


def comp(speedup: dict | None = None, macs=0.25, theory=0.3, params=0.4) -> Comparison:
    return Comparison("a", "b", macs, theory, params, speedup or {})


def test_changes_say_ratios_in_one_direction():
    c = comp()
    assert (c.macs_change.factor, c.macs_change.direction) == (4.0, "fewer")
    assert (c.params_change.factor, c.params_change.direction) == (2.5, "fewer")
    assert c.theory_change.factor == pytest.approx(1 / 0.3)
    assert c.theory_change.direction == "fewer"
    assert comp(theory=None).theory_change is None
    assert comp(macs=2.0).macs_change.direction == "more"


def test_speed_change_inverts_a_slowdown_and_its_error():
    faster = Speedup(2.0, 0.1, 1.9, 2.1)
    slower = Speedup(0.5, 0.1, 0.45, 0.55)
    changes = comp({"cpu": faster, "cuda": slower}).speed_change
    assert (changes["cpu"].factor, changes["cpu"].direction, changes["cpu"].error) == (
        2.0,
        "faster",
        0.1,
    )
    assert (changes["cuda"].factor, changes["cuda"].direction) == (2.0, "slower")
    assert changes["cuda"].error == pytest.approx(0.4)  # 0.1 / 0.5²


def test_realised_is_speedup_times_mac_ratio_with_its_interval():
    c = comp({"cpu": Speedup(2.0, 0.2, 1.8, 2.4), "cuda": Speedup(3.0, 0.1)}, macs=0.25)
    assert c.realised == {"cpu": 0.5, "cuda": 0.75}
    assert c.realised_interval == {"cpu": [0.45, 0.6], "cuda": None}
    half = comp({"cpu": Speedup(2.0, 0.2, 1.8, None)}).realised_interval
    assert half == {"cpu": None}
    d = c.to_dict()
    assert d["realised"] == {"cpu": 0.5, "cuda": 0.75}
    assert d["realised_interval"]["cpu"] == [0.45, 0.6]


def test_an_old_comparison_without_paired_rounds_reads_back_trusted():
    old = {
        "baseline": "a",
        "variant": "b",
        "macs_ratio": 0.25,
        "params_ratio": 0.4,
        "speedup": {"cpu": 2.5},
    }
    c = Comparison.from_dict(old)
    assert c.speedup["cpu"] == Speedup(2.5, 0.0, None, None, True, "", ())
    assert c.theory_ratio is None and c.traced_ratio is None


def test_a_comparison_reads_back_per_device():
    c = comp({"cpu": Speedup(2.0, 0.2, 1.8, 2.4, False, "unstable: x", (1.9, 2.0, 2.1))})
    back = Comparison.from_dict(c.to_dict())
    assert back.speedup == c.speedup
    res = CompareResult({}, {}, (), (c,))
    assert CompareResult.from_dict(res.to_dict()).comparisons[0].speedup == c.speedup
