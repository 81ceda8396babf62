"""The Python API: every public name resolves, the natural calls work, and the public
functions' docstring examples run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

import sepprof
from sepprof.errors import UserError
from sepprof.spec.layer import LayerSpec

WORKED = 1 / 256 + 1 / 9  # 1/Cout + 1/k² at k=3, 256 channels (DESIGN.md's worked example)


def test_every_public_name_resolves_and_dir_lists_it():
    assert set(dir(sepprof)) == set(sepprof.__all__)
    for name in sepprof.__all__:
        assert getattr(sepprof, name) is not None, name
    for name in ("LayerSpec", "parse_variants", "TimingOptions", "CompareResult", "Row"):
        assert name in sepprof.__all__


@pytest.mark.parametrize(
    "call",
    [
        lambda: sepprof.compare(k=3, cin=256, cout=256, variants=["standard", "separable"]),
        lambda: sepprof.compare({"k": 3, "cout": 256}, "standard,separable"),
        lambda: sepprof.compare(LayerSpec(k=3, cout=256), ["standard", "separable"]),
    ],
    ids=["keywords", "dict", "LayerSpec"],
)
def test_compare_takes_keywords_a_dict_or_a_layer_spec(call):
    result = call()
    (comp,) = result.comparisons
    assert comp.macs_ratio == pytest.approx(WORKED, rel=1e-12)
    assert result.variants[0].params == 256 * 256 * 9  # Cout·Cin·k², the standard conv
    assert result.variants[0].macs_traced == 56 * 56 * 256 * 256 * 9  # traced by default


def test_api_refuses_what_the_cli_refuses_with_the_same_words(cli):
    with pytest.raises(UserError) as api:
        sepprof.compare(k=3, cout=256, variants="standard,seperable", trace=False)
    run = cli("compare", "--variants", "standard,seperable", "--analytic")
    assert run.code == 2 and str(api.value) in run.err
    with pytest.raises(UserError, match="LayerSpec or layer fields, not both"):
        sepprof.compare(LayerSpec(), cout=8)


def test_timing_options_refuse_nonsense_like_the_flags():
    with pytest.raises(UserError, match="--rounds"):
        sepprof.TimingOptions(rounds=0)
    with pytest.raises(UserError, match="--min-time"):
        sepprof.TimingOptions(min_time=float("nan"))


@pytest.mark.parametrize(
    "module",
    [
        "sepprof",
        "sepprof.commands.compare",
        "sepprof.commands.profile",
        "sepprof.commands.sweep",
        "sepprof.commands.check",
        "sepprof.commands.merge",
    ],
)
def test_docstring_examples_run(module, monkeypatch):
    monkeypatch.chdir(importlib.import_module("sepprof").__file__.rsplit("/sepprof/", 1)[0])
    failed, tried = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failed == 0


def test_long_steps_report_progress():
    """Counting by tracing is a step of its own in the progress reporter (shown on stderr when
    it is a terminal), so a huge layer never counts in silence."""
    seen = []

    def progress(label, total):
        seen.append([label, total, 0])
        return lambda: seen[-1].__setitem__(2, seen[-1][2] + 1)

    sepprof.compare(k=3, cout=16, size=8, progress=progress)
    assert seen == [["counting by tracing", 1, 1]]


def test_schema_names_are_the_documented_ones():
    """Schema names are part of the JSON contract (README's table, DESIGN.md): typed here by hand
    so that a rename anywhere shows."""
    from sepprof.results import schemas

    names = {k: v for k, v in vars(schemas).items() if k.endswith("_SCHEMA")}
    assert names == {
        "COMPARE_SCHEMA": "sepprof.compare/1",
        "COMPARE_SET_SCHEMA": "sepprof.compare-set/1",
        "PROFILE_SCHEMA": "sepprof.profile/1",
        "SWEEP_SCHEMA": "sepprof.sweep/1",
        "CHECK_SCHEMA": "sepprof.check/1",
        "CALIBRATION_SCHEMA": "sepprof.calibration/1",
        "CALIBRATION_SET_SCHEMA": "sepprof.calibration-set/1",
        "MERGE_SCHEMA": "sepprof.merge/1",
        "REPORT_SCHEMA": "sepprof.report/1",
        "SEPIFY_SCHEMA": "sepprof.sepify/1",
        "HISTORY_SCHEMA": "sepprof.history/1",
    }
