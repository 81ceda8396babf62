"""Steps in a series (exact by comparison, timed by change points), ``--fail-on-change``'s rule,
the 95% intervals a check keeps, and the history section of a report."""

from __future__ import annotations

import pytest
from test_history import project

from sepprof.history.changes import find_changes, noise
from sepprof.render.history import history_markdown
from sepprof.results.changes import separated, stepped_worse
from sepprof.results.check import timed_intervals
from sepprof.results.latency import Latency
from sepprof.results.runs import Point, Series, Value


def series(values, half=None, metric="latency_ms.cpu", lower=True):
    points = tuple(
        Point(
            i + 1,
            f"c{i}",
            "main",
            "2026-01-01T00:00:00+00:00",
            Value(v, *((v - half, v + half) if half else (None, None))),
        )
        for i, v in enumerate(values)
    )
    return Series("net", metric, None, lower, points)


WOBBLE = [0.05, -0.05, 0.03, -0.03] * 4  # a small, made-up noise


def test_an_exact_metric_steps_wherever_two_runs_differ():
    changes = find_changes(series([100, 100, 130, 130, 120], metric="macs"))
    assert [(c.before.commit, c.after.commit) for c in changes] == [("c1", "c2"), ("c3", "c4")]
    up, down = changes
    assert (up.from_value, up.to_value, up.relative, up.worse) == (100, 130, 0.3, True)
    assert (down.direction, down.worse, down.method) == ("down", False, "exact")
    assert find_changes(series([0, 5], metric="params"))[0].relative is None  # from 0


def test_a_timed_step_is_found_where_it_was_made_and_beyond_the_intervals():
    values = [10 + w for w in WOBBLE[:8]] + [11 + w for w in WOBBLE[8:]]
    (change,) = find_changes(series(values, half=0.2))
    assert (change.before.commit, change.after.commit) == ("c7", "c8")
    assert change.from_value == pytest.approx(10.0, abs=0.05)
    assert change.to_value == pytest.approx(11.0, abs=0.05)
    assert change.method == "pelt" and change.worse and change.beyond_intervals is True
    (inside,) = find_changes(series(values, half=0.6))  # intervals wider than the step
    assert inside.beyond_intervals is False


def test_noise_one_outlier_and_too_few_runs_are_no_step():
    assert find_changes(series([10 + w for w in WOBBLE], half=0.2)) == []
    assert find_changes(series([10, 10.02, 9.98, 14, 10.01, 9.99, 10, 10.02], half=0.2)) == []
    assert find_changes(series([10, 20, 10])) == []
    assert find_changes(series([10, 10, 10, 10, 10])) == []


def test_noise_is_the_larger_of_the_spread_and_the_intervals():
    flat = series([10.0] * 6, half=1.96)
    assert noise(flat) == pytest.approx(1.0)  # an interval of +-1.96 is a deviation of 1
    assert noise(series([10.0] * 6)) == pytest.approx(0.05)  # the floor: 0.5% of 10


def test_fail_on_change_rule():
    assert stepped_worse(Value(100), Value(101), timed=False, lower_is_better=True)
    assert not stepped_worse(Value(100), Value(100), timed=False, lower_is_better=True)
    assert not stepped_worse(Value(100), Value(90), timed=False, lower_is_better=True)
    was = Value(10.5, 10.0, 11.0)
    assert stepped_worse(was, Value(12, 11.5, 12.5), timed=True, lower_is_better=True)
    assert not stepped_worse(was, Value(11.8, 10.9, 12.7), timed=True, lower_is_better=True)
    speedup = Value(3.1, 3.0, 3.2)
    assert stepped_worse(speedup, Value(2.7, 2.5, 2.9), timed=True, lower_is_better=False)
    assert not stepped_worse(speedup, Value(3.5, 3.4, 3.6), timed=True, lower_is_better=False)
    assert separated(Value(1), Value(2, 1.9, 2.1), lower_is_better=True) is None


def test_a_check_keeps_the_95_percent_intervals_of_its_timed_metrics():
    rounds = (5.0, 1.0, 4.0, 2.0, 3.0)
    measured = Latency.from_rounds(list(rounds), runs=5)
    standard = Latency.from_rounds([2 * r for r in rounds], runs=5)
    intervals = timed_intervals("cpu", measured, standard)
    low, high = intervals["latency_ms.cpu"]
    # a bootstrap's ends are medians of 5 resampled rounds; for the next run each log distance
    # from the median 3.0 is stretched by sqrt(2)
    own = {3.0 * (low / 3.0) ** (1 / 2**0.5), 3.0 * (high / 3.0) ** (1 / 2**0.5)}
    assert low < 3.0 < high and {round(v, 9) for v in own} <= set(rounds)
    assert intervals["speedup.cpu"] == (2.0, 2.0)  # every paired round is exactly 2x


def test_check_json_has_what_each_budget_measured(cli, tmp_path):
    doc = cli("check", project(tmp_path), "--json").json()
    net, layers = doc["measured"]["net"], doc["measured"]["layers"]
    assert (net["config"], net["variant"], net["intervals"]) == ("one.yaml", None, {})
    assert layers["variant"] == "separable" and layers["bytes"] > 0
    # input + output of the 3x3 conv (fp32), BatchNorm and ReLU: at least the conv's own bytes
    assert net["bytes"] >= 4 * (3 * 224 * 224 + 8 * 224 * 224 + 9 * 3 * 8)


def test_the_report_section_has_the_chart_and_the_steps(cli, tmp_path):
    from sepprof.cli_history import read
    from sepprof.commands.report import history_chart

    budgets, store = project(tmp_path), tmp_path / "runs.db"
    for commit in ("r1", "r2"):
        assert cli("check", budgets, "--history", store, "--commit", commit).code == 0
        project(tmp_path, px=256)
    history = read(str(store))
    png, alt = history_chart(history, tmp_path)
    assert png == "history.png" and "2 runs" in alt
    assert (tmp_path / "history.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (tmp_path / "history.svg").read_bytes()[:400]
    text = history_markdown(history, {"history": (png, alt)})
    assert text.startswith("## History: MACs by commit\n") and "![" in text
    assert "| net | macs | r1 | r2 | 10.84M | 14.16M | +30.6% worse | — |" in text
    run = cli("report", "--history", tmp_path / "junk.db", "--out", tmp_path / "rep")
    assert run.code == 2 and "junk.db: file not found" in run.err
    assert not (tmp_path / "rep").exists()  # refused before measuring anything
