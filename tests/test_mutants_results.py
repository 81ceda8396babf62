"""results/ numbers worked by hand (issue #29): shares, one-way ratios, profile totals against
published figures and --as, sepify before/after, check counts, merged rows and a report's
timing tallies. Every expected value is typed from its formula, never computed by sepprof."""

import pytest

from sepprof.errors import UserError
from sepprof.results import (
    CheckResult,
    CompareResult,
    Comparison,
    Latency,
    MergedRow,
    ProfileResult,
    Row,
    Speedup,
    SweepResult,
    TypeShare,
    Verdict,
)
from sepprof.results.ratios import Change
from sepprof.results.report import Report
from sepprof.results.sepify import ConvertedLayer, SepifyOptions, SepifyReport, before_after
from sepprof.results.shares import fraction, shares_of


def lat(ms: float, **kw) -> Latency:
    return Latency(ms, 0.0, 5, (ms,) * 5, **kw)


def row(macs=1000, params=100, norm=0, **timings) -> Row:
    timed = {d: v if isinstance(v, Latency) else lat(v) for d, v in timings.items()}
    return Row("r", "standard", params, norm, macs, 0, 0, latency_ms=timed)


# shares


def test_fraction_is_none_only_for_an_unknown_part_or_an_empty_whole():
    assert fraction(3, 4) == 0.75
    assert fraction(0, 4) == 0.0
    assert fraction(None, 4) is None
    assert fraction(3, 0) is None
    assert fraction(3, None) is None


def test_shares_of_parts_with_unknown_counts_and_devices_timed_by_some():
    parts = [(None, 10, {"cpu": 1.0}), (300, None, {"cpu": 3.0, "cuda": 2.0}), (100, 30, {})]
    a, b, c = shares_of(parts)
    assert (a.macs, a.params, a.time) == (None, 0.25, {"cpu": 0.25})
    assert (b.macs, b.params, b.time) == (0.75, None, {"cpu": 0.75, "cuda": 1.0})
    assert (c.macs, c.params, c.time) == (0.25, 0.75, {})
    (zero,) = shares_of([(0, 0, {"cpu": 0.0})])
    assert (zero.macs, zero.params, zero.time) == (None, None, {})
    assert a.to_dict() == {"macs": None, "params": 0.25, "time": {"cpu": 0.25}}


# ratios


@pytest.mark.parametrize(
    ("ratio", "factor", "direction"),
    [(0.25, 4.0, "fewer"), (2.0, 2.0, "more"), (1.0, 1.0, "same"), (0.0, 0.0, "none")],
)
def test_a_count_ratio_reads_one_way(ratio, factor, direction):
    assert Change.of_count(ratio) == Change(factor, direction)
    assert Change.of_count(-1.0).direction == "none"


def test_a_speedup_reads_one_way_and_a_slowdown_carries_the_inverse_error():
    assert Change.of_speedup(2.0, 0.1) == Change(2.0, "faster", 0.1)
    assert Change.of_speedup(1.0, 0.1) == Change(1.0, "same", 0.1)
    slower = Change.of_speedup(0.5, 0.1)
    assert (slower.factor, slower.direction) == (2.0, "slower")
    assert slower.error == pytest.approx(0.4)  # 0.1 / 0.5²
    assert Change.of_speedup(0.5).error is None
    assert Change.of_speedup(0.999).direction == "slower"
    assert Change.of_speedup(1.001).direction == "faster"
    assert Change.of_times(2.0, 6.0) == Change(3.0, "faster")  # 6 ms before, 2 ms now
    assert Change.of_times(6.0, 2.0).factor == pytest.approx(3.0)


def test_a_change_reads_back():
    c = Change(4.0, "fewer", 0.5)
    assert c.to_dict() == {"factor": 4.0, "direction": "fewer", "error": 0.5}
    assert Change.from_dict(c.to_dict()) == c
    assert Change.from_dict({"factor": 2, "direction": "more"}) == Change(2.0, "more", None)


# profile


def profile(totals: Row, before: Row | None = None, reference=None) -> ProfileResult:
    network = {"name": "n", "reference": reference} if reference is not None else {}
    layers = (row(300, 10, cpu=1.0), row(100, 30, cpu=3.0))
    types = (TypeShare("standard", 1, 300, 10, 5, {"cpu": 1.0}), TypeShare("fc", 1, 100, 30, 0))
    return ProfileResult({}, network, layers, types, totals, before)


def test_reference_deviation_counts_batchnorm_params_as_published_tables_do():
    p = profile(row(1100, 300, 100), reference={"macs": 1000, "params": 400, "other": 5})
    assert p.reference_deviation == pytest.approx({"macs": 0.1, "params": 0.0})
    assert profile(row(), reference={"macs": 0, "params": None}).reference_deviation == {}
    assert profile(row()).reference_deviation == {}


def test_as_change_compares_the_rewrite_with_the_network_as_written():
    now = row(250, 30, 10, cpu=2.0, cuda=1.0, mps=lat(0.0))
    was = row(1000, 120, 40, cpu=4.0, mps=1.0)
    change = profile(now, was).as_change
    assert change["macs"] == Change(4.0, "fewer")
    assert change["params"] == Change(4.0, "fewer")  # 30 / 120, BatchNorm's left out
    assert change["time"] == {"cpu": Change(2.0, "faster")}  # cuda: not timed before; mps: 0
    assert profile(now).as_change is None
    zero = profile(row(0, 0), row(0, 0)).as_change
    assert zero["macs"].direction == zero["params"].direction == "none"


def test_layer_and_type_shares():
    p = profile(row())
    assert [(s.macs, s.params, s.time) for s in p.layer_shares] == [
        (0.75, 0.25, {"cpu": 0.25}),
        (0.25, 0.75, {"cpu": 0.75}),
    ]
    assert [(s.macs, s.params, s.time) for s in p.type_shares] == [
        (0.75, 0.25, {"cpu": 1.0}),
        (0.25, 0.75, {}),
    ]
    assert TypeShare("fc", 2, 7, 8, 9, {"cpu": 1.5}).part() == (7, 8, {"cpu": 1.5})


# sepify


def test_before_after_counts_batchnorm_params_and_times_where_both_ran():
    before = row(1000, 100, 20, cpu=4.0, cuda=2.0, mps=1.0)
    after = row(250, 30, 10, cpu=2.0, mps=lat(0.0))
    changes = before_after(before, after)
    assert changes["params"] == Change(3.0, "fewer")  # 40 / 120
    assert changes["macs"] == Change(4.0, "fewer")
    assert set(changes["speedup"]) == {"cpu"} and changes["speedup"]["cpu"].value == 2.0
    assert changes["speed"] == {"cpu": Change(2.0, "faster", changes["speedup"]["cpu"].error)}
    none = before_after(row(None, 0), row(250, 30))
    assert (none["params"], none["macs"]) == (None, None)
    assert before_after(row(0, 10), row(250, 30))["macs"] is None
    assert before_after(row(1000, 10), row(None, 30))["macs"] is None


def converted(before: Row, after: Row) -> ConvertedLayer:
    return ConvertedLayer("c", 3, 1, 8, 16, before, after)


def test_a_sepify_report_sums_its_converted_layers():
    layers = (
        converted(row(1000, 100, 20), row(200, 30, 10)),
        converted(row(3000, 300, 60), row(400, 50, 30)),
    )
    r = SepifyReport({}, {}, SepifyOptions(), layers, ())
    assert (r.params_before, r.params_after) == (480, 120)
    assert (r.macs_before, r.macs_after) == (4000, 600)
    assert r.params_change == Change(4.0, "fewer")
    assert r.macs_change.factor == pytest.approx(4000 / 600)
    empty = SepifyReport({}, {}, SepifyOptions(), (), ())
    assert (empty.params_change, empty.macs_change, empty.changes) == (None, None, None)
    whole = SepifyReport({}, {}, SepifyOptions(), (), (), row(900, 90), row(300, 30))
    assert whole.changes["macs"] == Change(3.0, "fewer")
    assert SepifyReport({}, {}, SepifyOptions(), (), (), row(), None).changes is None
    assert layers[0].changes["params"] == Change(3.0, "fewer")  # 40 / 120


def test_sepify_options_are_checked():
    assert SepifyOptions(act="none").check().act is None
    assert SepifyOptions(min_channels=1, act="relu").check().min_channels == 1
    with pytest.raises(UserError, match="must be >= 1"):
        SepifyOptions(min_channels=0).check()
    with pytest.raises(UserError, match="unknown activation 'gelu'"):
        SepifyOptions(act="gelu").check()
    with pytest.raises(UserError, match="empty pattern"):
        SepifyOptions(exclude=("a", " ")).check()


# check


def test_check_counts_each_status():
    statuses = ["pass", "fail", "warn", "inconclusive", "fail", "warn", "warn"]
    verdicts = tuple(Verdict("b", "m", 1.0, 1.0, 0.0, s) for s in statuses)
    r = CheckResult({}, "f", verdicts)
    assert (r.passed, r.failed, r.warned, r.inconclusive) == (False, 2, 3, 1)
    ok = CheckResult({}, "f", verdicts[2:4])
    assert (ok.passed, ok.failed) == (True, 0)
    assert CheckResult({}, "f", ()).passed


# merge


def merged(median=2.0, iqr=0.1, speedup=2.0, error=0.1) -> MergedRow:
    return MergedRow("m", "cpu", "", "fp32", 4, "v", 100, 0.25, median, iqr, speedup, error, "s")


def test_a_merged_row_derives_spread_and_changes():
    assert merged().spread == pytest.approx(0.05)
    assert merged(median=0.0).spread is None and merged(median=None).spread is None
    assert merged().macs_change == Change(4.0, "fewer")
    assert merged().speed_change == Change(2.0, "faster", 0.1)
    assert merged(speedup=0.5).speed_change.error == pytest.approx(0.4)
    assert merged(speedup=None).speed_change is None
    assert merged(speedup=0.0).speed_change is None
    d = merged().to_dict()
    assert d["spread"] == pytest.approx(0.05) and d["speed_change"]["direction"] == "faster"


# report


def compared(env: dict, *variants: Row, speedups=()) -> CompareResult:
    comps = tuple(Comparison("a", "b", 1.0, None, 1.0, {"cpu": s}) for s in speedups)
    return CompareResult(env, {}, variants, comps)


def test_a_report_tallies_every_timing_and_speedup():
    trusted, doubtful = Speedup(2.0, 0.1), Speedup(2.0, 0.1, trusted=False, reason="unstable: x")
    stage = row(cpu=lat(1.0, unstable=True))
    main = compared(
        {"other_cpu_cores": {"during": 2.5, "before": 9.0}},
        Row("v", "k", 1, 0, 1, 0, 0, latency_ms={"cpu": lat(2.0)}, stages=(stage,)),
        speedups=(trusted, doubtful),
    )
    layer = compared({"other_cpu_cores": 1.5}, row(cpu=lat(1.0, contention="busy")))
    point = compared({}, row(cpu=lat(3.0, unstable=True)), speedups=(doubtful,))
    net = ProfileResult({"other_cpu_cores": None}, {}, (row(cpu=1.0),), (), row(cpu=2.0), row())
    rewritten = ProfileResult({}, {}, (row(cpu=1.0),), (), row(cpu=2.0), row(cpu=5.0))
    plain = ProfileResult({}, {}, (row(cpu=1.0),), (), row(cpu=2.0))  # no "before"
    sweep = SweepResult({}, {}, (point,))
    r = Report({}, "c", "t", main, (layer,), sweep, {}, (net, rewritten, plain), ())
    # variant + stage, layer, point, each network's layer and total, the one timed "before"
    assert len(r.latencies()) == 2 + 1 + 1 + 2 + 3 + 2
    assert r.unstable == 2
    assert (len(r.speedups()), r.untrusted) == (3, 2)
    assert r.busy_cores == 2.5  # "during" of the main result, not "before"
    assert r.busy  # a layer's timing was contended
    quiet = Report(
        {}, "c", "t", compared({}, row(cpu=1.0)), (), SweepResult({}, {}, ()), {}, (), ()
    )
    assert (quiet.busy_cores, quiet.busy, quiet.unstable, quiet.untrusted) == (None, False, 0, 0)
    env_busy = compared({"contention": "2 cores busy"}, row())
    assert Report({}, "c", "t", env_busy, (), SweepResult({}, {}, ()), {}, (), ()).busy


def test_a_small_rise_is_more_and_a_slowdowns_error_grows_with_its_square():
    assert Change.of_count(1.5) == Change(1.5, "more")
    slower = Change.of_speedup(0.25, 0.1)  # 4x slower: error 0.1 / 0.25² = 1.6
    assert (slower.factor, slower.direction) == (4.0, "slower")
    assert slower.error == pytest.approx(1.6)


def test_sepify_defaults_convert_every_layer_and_say_what_is_valid():
    assert SepifyOptions() == SepifyOptions((), 1, False, None)
    assert SepifyOptions(exclude=("layer1.*",)).check().exclude == ("layer1.*",)
    valid = "valid: relu, relu6, silu, sigmoid, hardswish"
    for act in ("relu", "relu6", "silu", "sigmoid", "hardswish"):
        assert SepifyOptions(act=act).check().act == act
    with pytest.raises(UserError, match=rf"^--act: unknown activation 'gelu' \({valid}\)$"):
        SepifyOptions(act="gelu").check()
    with pytest.raises(UserError, match="^--exclude: empty pattern$"):
        SepifyOptions(exclude=("",)).check()
    r = SepifyReport({}, {}, SepifyOptions(), (), ())
    assert (r.to_dict()["schema"], r.counting_rule) == ("sepprof.sepify/1", "")
