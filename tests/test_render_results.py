"""Every number a renderer shows is computed in results and present in to_dict() (--json);
checked here against hand formulas on recorded results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sepprof.render.markdown import report_markdown
from sepprof.results import CompareResult, Latency, ProfileResult, SweepResult
from sepprof.results.calibration import Calibration
from sepprof.results.ratios import Change
from sepprof.results.report import Report

DATA = Path(__file__).parent / "data" / "render"


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


@pytest.mark.parametrize(
    ("ratio", "factor", "direction"),
    [(0.1150173611, 8.6943, "fewer"), (1.3568, 1.3568, "more"), (1.0, 1.0, "same"), (0, 0, "none")],
)
def test_count_ratios_point_one_way(ratio, factor, direction):
    c = Change.of_count(ratio)
    assert (round(c.factor, 4), c.direction) == (factor, direction)


def test_speedups_point_one_way_with_the_error_carried_over():
    assert Change.of_speedup(4.85, 0.1) == Change(4.85, "faster", 0.1)
    slower = Change.of_speedup(0.5, 0.02)
    assert slower.direction == "slower" and slower.factor == 2.0
    assert slower.error == pytest.approx(0.02 / 0.5**2)  # d(1/x) = dx / x²


def test_compare_json_carries_changes_shares_and_realised_cut():
    doc = CompareResult.from_dict(load("compare_timed")).to_dict()
    std, sep = doc["variants"][0], doc["variants"][1]
    comp = doc["comparisons"][0]
    assert comp["macs_change"] == {
        "factor": pytest.approx(256 * 9 / (256 + 9)),
        "direction": "fewer",
        "error": None,
    }
    assert comp["params_change"]["factor"] == pytest.approx(589_824 / 67_840)
    dw, pw = sep["stages"]
    assert dw["share"]["macs"] == pytest.approx(dw["macs"] / (dw["macs"] + pw["macs"]))
    cpu = dw["latency_ms"]["cpu"]["median"], pw["latency_ms"]["cpu"]["median"]
    assert dw["share"]["time"]["cpu"] == pytest.approx(cpu[0] / sum(cpu))
    speedup = comp["speedup"]["cpu"]
    assert comp["realised"]["cpu"] == pytest.approx(speedup * sep["macs"] / std["macs"])
    lat = std["latency_ms"]["cpu"]
    assert lat["spread"] == pytest.approx(lat["iqr"] / lat["median"])


def test_profile_json_carries_shares_deviation_and_as_change():
    doc = ProfileResult.from_dict(load("profile_mnv1")).to_dict()
    total = sum(t["macs"] for t in doc["by_type"])
    dw = next(t for t in doc["by_type"] if t["kind"] == "depthwise")
    assert dw["share"]["macs"] == pytest.approx(17_385_984 / 568_740_352)  # MobileNets Table 2: 3%
    assert total == 568_740_352
    assert doc["layers"][0]["share"]["macs"] == pytest.approx(10_838_016 / 568_740_352)
    assert doc["reference_deviation"]["macs"] == pytest.approx(568_740_352 / 569e6 - 1)
    assert doc["reference_deviation"]["params"] == pytest.approx((4_210_088 + 21_888) / 4.2e6 - 1)
    assert doc["as_change"] is None

    rewritten = ProfileResult.from_dict(load("profile_mnv1_as_standard")).to_dict()
    assert rewritten["as_change"]["macs"]["direction"] == "more"
    assert rewritten["as_change"]["macs"]["factor"] == pytest.approx(
        rewritten["totals"]["macs"] / 568_740_352
    )


def test_profile_as_timed_carries_the_time_change():
    result = ProfileResult.from_dict(load("profile_tiny_as_timed"))
    now = result.totals.latency_ms["cpu"].median
    was = result.before.latency_ms["cpu"].median
    change = result.to_dict()["as_change"]["time"]["cpu"]
    assert change["factor"] == pytest.approx(max(now, was) / min(now, was))
    assert change["direction"] == ("faster" if now < was else "slower")


def test_calibration_json_carries_the_ridge():
    cal = load("calibration")
    doc = Calibration.from_dict(cal).to_dict()
    assert doc["ridge"] == pytest.approx(cal["peak_flops"] / cal["dram_bandwidth"])


def report() -> Report:
    main = CompareResult.from_dict(load("compare_timed"))
    return Report(
        main.environment,
        "sepprof report --quick",
        "today",
        main,
        (),
        SweepResult.from_dict(load("sweep_timed")),
        {"cpu": Calibration.from_dict(load("calibration"))},
        (ProfileResult.from_dict(load("profile_tiny_as_timed")),),
        (),
    )


def test_report_header_says_the_machine_was_busy_and_counts_unstable_results():
    r = report()
    timings = [
        lat
        for res in (r.main, *r.sweep.points)
        for v in res.variants
        for row in (v, *v.stages)
        for lat in row.latency_ms.values()
    ]
    timings += [
        lat
        for row in (*r.networks[0].layers, r.networks[0].totals, r.networks[0].before)
        for lat in row.latency_ms.values()
    ]
    unstable = sum(lat.unstable for lat in timings)
    text = report_markdown(r, {})
    assert "**The machine was busy**" in text
    assert f"{unstable} of {len(timings)} timings were unstable" in text
    assert "speedups carry no verdict" in text
    doc = r.to_dict()
    assert (doc["unstable"], doc["timings"], doc["busy"]) == (unstable, len(timings), True)


def test_quiet_report_says_so():
    r = report()
    quiet = Latency(1.0, 0.01, 10, (1.0, 1.0, 1.0))
    assert not quiet.unstable and not quiet.contention
    env = {**r.main.environment, "contention": "", "other_cpu_cores": {"during": 0.1}}
    from dataclasses import replace

    calm = replace(
        r, main=replace(r.main, environment=env), sweep=replace(r.sweep, points=()), networks=()
    )
    calm = replace(
        calm,
        main=replace(
            calm.main,
            variants=tuple(
                replace(
                    v,
                    latency_ms={"cpu": quiet},
                    stages=tuple(replace(s, latency_ms={"cpu": quiet}) for s in v.stages),
                )
                for v in calm.main.variants
            ),
            comparisons=(),
        ),
    )
    text = report_markdown(calm, {})
    assert "The machine was busy" not in text
    assert (
        "Machine load during timing: other processes used up to 0.1 cores; 0 of 12 timings" in text
    )


def test_realised_interval_scales_the_speedup_interval():
    comp = CompareResult.from_dict(load("compare_timed")).comparisons[0]
    s = comp.speedup["cpu"]
    low, high = comp.to_dict()["realised_interval"]["cpu"]
    assert (low, high) == pytest.approx((s.low * comp.macs_ratio, s.high * comp.macs_ratio))


def test_the_counting_rule_travels_with_the_result():
    """The rule printed under the counts is a field of the result, in its JSON (a renderer
    looks nothing up); its key phrases are DESIGN.md's."""
    import sepprof

    r = sepprof.compare(k=3, cin=32, cout=64, variants=["standard", "separable"], trace=False)
    rule = r.to_dict()["counting_rule"]
    assert "1 MAC = 2 FLOPs" in rule and "BatchNorm 2" in rule and "never 0" in rule
    assert type(r).from_dict(r.to_dict()).counting_rule == rule
