"""Every table, at 60, 80 and 120 columns, prints every number whole: no cell cut with "…", no
line past the width; optional columns are named when left out, and below 80 columns rows turn
into "key: value" lines. Results are rebuilt from recorded JSON (no live timing)."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path

import pytest

from sepprof.render.calibrate import calibration_view
from sepprof.render.check import check_view
from sepprof.render.compare import compare_view
from sepprof.render.console import to_text
from sepprof.render.markdown import headline as markdown_headline
from sepprof.render.merge import merge_view
from sepprof.render.profile import profile_view
from sepprof.render.sepify import sepify_view
from sepprof.render.sweep import sweep_view
from sepprof.results import (
    CheckResult,
    CompareResult,
    MergedRow,
    MergeResult,
    ProfileResult,
    Roof,
    SweepResult,
    Verdict,
)
from sepprof.results.calibration import Calibration
from sepprof.results.sepify import SepifyReport

DATA = Path(__file__).parent / "data" / "render"
WIDTHS = (60, 80, 120)


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def with_roofs(result: CompareResult) -> CompareResult:
    """The recorded timing, with a roofline on every row (as after ``sepprof calibrate``)."""

    def roofed(row):
        roof = {"cpu": Roof(attainable_ms=0.5, percent=123.4, bound="memory")}
        return replace(row, roofline=roof, stages=tuple(roofed(s) for s in row.stages))

    return replace(result, variants=tuple(roofed(v) for v in result.variants))


def check_result() -> CheckResult:
    d = load("check")
    verdicts = tuple(Verdict(**v) for v in d["verdicts"])
    note = replace(verdicts[0], status="fail", note="a long note that has to wrap somewhere")
    return CheckResult(d["environment"], d["budget_file"], (note, *verdicts[1:]))


def merge_result() -> MergeResult:
    d = load("merge")
    names = {f.name for f in fields(MergedRow)}
    layers = tuple(
        (layer["spec"], tuple(MergedRow(**{k: r[k] for k in names}) for r in layer["rows"]))
        for layer in d["layers"]
    )
    return MergeResult(layers, tuple(d["sources"]))


VIEWS = {
    "compare": lambda: compare_view(CompareResult.from_dict(load("compare"))),
    "compare timed": lambda: compare_view(
        with_roofs(CompareResult.from_dict(load("compare_timed")))
    ),
    "profile": lambda: profile_view(ProfileResult.from_dict(load("profile_mnv1"))),
    "profile --as timed": lambda: profile_view(
        ProfileResult.from_dict(load("profile_tiny_as_timed"))
    ),
    "profile --model": lambda: profile_view(ProfileResult.from_dict(load("profile_model"))),
    "sweep": lambda: sweep_view(SweepResult.from_dict(load("sweep"))),
    "sweep timed": lambda: sweep_view(SweepResult.from_dict(load("sweep_timed"))),
    "check": lambda: check_view(check_result()),
    "merge": lambda: merge_view(merge_result()),
    "calibrate": lambda: calibration_view(Calibration.from_dict(load("calibration"))),
    "sepify": lambda: sepify_view(SepifyReport.from_dict(load("sepify_timed"))),
}

# Numbers each view must show whole at every width, as the recorded data gives them (by hand).
ESSENTIAL = {
    "compare": ["589.8K", "67.84K", "1.850G", "212.7M", "7.225M", "0.11502", "(3.4%)"],
    "compare timed": ["115.6M", "13.30M", "0.11502", "4.09 ±67%*", "0.43 ±9%", "45.8%"],
    "profile": ["10.84M", "539.5M", "94.86%", "3.06%", "568.7M", "(ours -0.05%)"],
    "profile --as timed": ["stem", "depthwise"],
    "profile --model": ["layer4.1.conv2"],
    "sweep": ["0.17361", "0.07125", "0.25"],
    "sweep timed": ["0.17361", "0.07125"],
    "check": ["600.0M", "568.7M", "+5.2%", "FAIL"],
    "merge": ["8.69x fewer", "laptop-with-a-long-name"],
    "calibrate": ["23.2 GFLOP/s", "7.5 GB/s", "ridge 3.1 FLOP/byte", "33.6MB"],
    "sepify": ["layer4.1.conv2"],
}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(VIEWS))
def test_no_number_is_cut(name, width):
    text = to_text(VIEWS[name](), width)
    assert "…" not in text
    too_long = [line for line in text.splitlines() if len(line.rstrip()) > width]
    assert not too_long, too_long[:3]
    words = " ".join(text.split())  # text wraps between words, never inside a number
    for number in ESSENTIAL[name]:
        assert number in words, (number, text)


def test_compare_at_80_names_the_columns_it_left_out():
    text = to_text(VIEWS["compare"](), 80)
    assert "not shown at 80 columns: op, eltwise ops, bytes (--wide shows every column)" in text
    assert "FLOP/B" in text and "MACs" in text


def test_compare_at_120_shows_every_column():
    text = to_text(VIEWS["compare"](), 120)
    assert "not shown" not in text and "3x3 g=256 256->256" in text and "eltwise" in text


def test_wide_shows_every_column_however_long_the_lines():
    result = CompareResult.from_dict(load("compare"))
    text = to_text(compare_view(result, wide=True), 80)
    assert "not shown" not in text and "3x3 g=256 256->256" in text
    assert max(len(line) for line in text.splitlines()) > 80


def test_below_80_columns_rows_are_key_value_lines():
    text = to_text(VIEWS["compare"](), 60)
    assert "    MACs: 1.850G" in text and "    MACs ÷ base: 0.11502" in text
    assert "  └ depthwise" in text


def test_untimed_output_says_nothing_about_timing():
    for name in ("compare", "profile", "sweep"):
        text = to_text(VIEWS[name](), 120).lower()
        for word in ("ms", "latency", "speed", "% of cut", "rounds", "timing"):
            assert f" {word}" not in text.replace("elementwise", ""), (name, word)


def test_ratios_in_words_point_one_way():
    result = CompareResult.from_dict(load("compare_timed"))
    text = to_text(compare_view(result), 120)
    assert "inverted:6 vs standard: 1.36x more MACs, 1.36x more params" in text
    assert "separable vs standard: 8.69x fewer MACs (theory: 8.69x fewer), 8.69x fewer" in text


def test_contended_speedup_gives_no_verdict():
    result = CompareResult.from_dict(load("compare_timed"))
    comp = result.comparisons[0]
    doubted = replace(
        comp, speedup={"cpu": replace(comp.speedup["cpu"], trusted=False, reason="contended: x")}
    )
    text = to_text(compare_view(replace(result, comparisons=(doubted,))), 120)
    assert "contended: no verdict" in text and "no speed verdict on cpu (contended)" in text
    assert "faster" not in text


def test_an_unstable_speedup_says_why_and_what_to_do_under_the_summary():
    result = CompareResult.from_dict(load("compare_timed"))
    comp = result.comparisons[0]
    reason = "unstable: per-round speedups spread 4.31x-6.02x; rerun with more --rounds"
    doubted = replace(
        comp, speedup={"cpu": replace(comp.speedup["cpu"], trusted=False, reason=reason)}
    )
    text = " ".join(to_text(compare_view(replace(result, comparisons=(doubted,))), 120).split())
    assert "no speed verdict on cpu (unstable) cpu unstable: per-round speedups spread" in text
    assert "4.31x-6.02x; rerun with more --rounds" in text
    assert "<br>cpu unstable: per-round speedups spread 4.31x-6.02x; rerun with" in (
        markdown_headline(doubted)
    )
    contended = replace(
        doubted, speedup={"cpu": replace(doubted.speedup["cpu"], reason="contended: x")}
    )
    assert "<br>" not in markdown_headline(contended)  # said once, with the machine's notes


@pytest.mark.parametrize("module", ["markdown", "junit"])
def test_markdown_and_junit_import_only_results_and_formats(module):
    """Renderers format results; they never reach into budgets or any other domain module."""
    import ast

    source = (Path(__file__).parents[1] / "sepprof" / "render" / f"{module}.py").read_text()
    imported = {
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sepprof")
    }
    imported |= {
        alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("sepprof")
    }
    allowed = {"sepprof.render.formats", "sepprof.render.history", "sepprof.results"}
    assert {m for m in imported if not m.startswith("sepprof.results")} <= allowed, imported


def test_inconclusive_verdict_is_shown_and_counted():
    result = check_result()
    unsure = replace(result.verdicts[1], status="inconclusive", note="timed while contended")
    result = replace(result, verdicts=(result.verdicts[0], unsure))
    text = to_text(check_view(result), 120)
    assert "INCONCLUSIVE*" in text and "2 checks: 1 failed, 1 inconclusive" in text
    assert "* mobilenet_v1 fits a phone, params: timed while contended" in text
    assert result.to_dict()["inconclusive"] == 1
