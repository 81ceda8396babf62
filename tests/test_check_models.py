"""``sepprof check`` on budgets that name a model (``model: FILE.py:factory``) and on budgets that
limit a layer type's share of time (``max_time_share``), decided three ways by its interval."""

from __future__ import annotations

from pathlib import Path

import pytest

from sepprof.results import Latency, ProfileResult, Row
from sepprof.results.check import time_share_metrics
from sepprof.spec.budgets import Budget
from sepprof.spec.verdicts import judge

# A stem conv, a depthwise and a pointwise conv, and a classifier, on a 1x3x8x8 input (width 8).
MODEL = """\
from torch import nn


def tiny(width: int = 8):
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1, bias=False),
        nn.Conv2d(width, width, 3, padding=1, groups=width, bias=False),
        nn.Conv2d(width, 2 * width, 1, bias=False),
        nn.Flatten(),
        nn.Linear(2 * width * 8 * 8, 10),
    )
"""
HW = 8 * 8


def hand_counts(width: int) -> tuple[int, int]:
    """MACs and params of ``tiny(width)`` on 1x3x8x8, by hand: a 3x3 conv 3 -> w (HW x w x 3 x 9
    MACs, w x 3 x 9 weights), a depthwise 3x3 (HW x w x 9, w x 9), a pointwise w -> 2w
    (HW x 2w x w, 2w x w), a linear 2w*HW -> 10 (2w*HW x 10 MACs, that many weights + 10 biases)."""
    w = width
    macs = HW * w * 3 * 9 + HW * w * 9 + HW * 2 * w * w + 2 * w * HW * 10
    params = w * 3 * 9 + w * 9 + 2 * w * w + 2 * w * HW * 10 + 10
    return macs, params


def test_hand_counts_of_the_default_width():
    assert hand_counts(8) == (13_824 + 4_608 + 8_192 + 10_240, 216 + 72 + 128 + 10_250)


def write(tmp_path: Path, budgets: str, folder: str = "ci") -> Path:
    """The model in ``tmp_path/models/net.py``, the budget file in ``tmp_path/<folder>``: a model
    file is found relative to the budget file, not to the working folder."""
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "models" / "net.py").write_text(MODEL)
    (tmp_path / folder).mkdir(exist_ok=True)
    path = tmp_path / folder / "budgets.yaml"
    path.write_text(budgets)
    return path


def model_budget(name: str, limits: str, extra: str = "    input: 1,3,8,8\n") -> str:
    return f"  - name: {name}\n    model: ../models/net.py:tiny\n{extra}{limits}"


def test_counted_model_budgets_pass_and_fail_on_hand_counts(cli, tmp_path, monkeypatch):
    macs, params = hand_counts(8)
    wide_macs, wide_params = hand_counts(16)
    text = "budgets:\n" + "".join(
        [
            model_budget("exact", f"    max_macs: {macs}\n    max_params: {params}\n"),
            model_budget("tight", f"    max_macs: {macs - 1}\n    max_params: {params - 1}\n"),
            model_budget(
                "wide",
                f"    max_macs: {wide_macs}\n    max_uncounted_ops: 0\n",
                "    input: [1, 3, 8, 8]\n    kwargs: {width: 16}\n",
            ),
        ]
    )
    monkeypatch.chdir(tmp_path)  # ../models/net.py is found from the budget file, not from here
    run = cli("check", write(tmp_path, text), "--json")
    assert run.code == 1, run.err
    doc = run.json()
    found = {(v["budget"], v["metric"]): (v["status"], v["actual"]) for v in doc["verdicts"]}
    assert found == {
        ("exact", "macs"): ("pass", macs),
        ("exact", "params"): ("pass", params),
        ("tight", "macs"): ("fail", macs),
        ("tight", "params"): ("fail", params),
        ("wide", "macs"): ("pass", wide_macs),
        ("wide", "uncounted_ops"): ("pass", 0),
    }
    assert doc["metrics"]["wide"]["params"] == wide_params
    assert doc["measured"]["exact"]["config"] == "../models/net.py:tiny"
    assert doc["measured"]["exact"]["variant"] is None


def test_a_dotted_model_is_imported_as_usual(cli, tmp_path, monkeypatch):
    (tmp_path / "sepprof_check_models_pkg.py").write_text(MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    macs, _ = hand_counts(8)
    text = (
        "budgets:\n  - name: dotted\n    model: sepprof_check_models_pkg:tiny\n"
        f"    input: 1,3,8,8\n    max_macs: {macs}\n"
    )
    run = cli("check", write(tmp_path, text), "--json")
    assert run.code == 0, run.err
    assert run.json()["metrics"]["dotted"]["macs"] == macs


def test_an_inputs_function_gives_the_model_its_inputs(cli, tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "make.py").write_text(
        "import torch\n\n\ndef make():\n    return torch.randn(1, 3, 8, 8)\n"
    )
    macs, _ = hand_counts(8)
    text = "budgets:\n" + model_budget(
        "fn", f"    max_macs: {macs}\n", "    inputs: ../models/make.py:make\n"
    )
    run = cli("check", write(tmp_path, text), "--json")
    assert run.code == 0, run.err
    assert run.json()["metrics"]["fn"]["macs"] == macs


KEY = "time_share.depthwise.cpu"


def share_budget(**limits):
    return Budget(name="b", model="m.py:f", **limits)


@pytest.mark.parametrize(
    ("interval", "status"),
    [
        # max_time_share 0.4: all of 30%-38% is at or below it, all of 42%-50% is above it,
        # 35%-45% straddles it
        ((0.30, 0.38), "pass"),
        ((0.42, 0.50), "fail"),
        ((0.35, 0.45), "inconclusive"),
        ((0.30, 0.40), "pass"),  # ends at the limit: at or below
        ((0.40, 0.45), "inconclusive"),  # starts at the limit and goes past it
    ],
)
def test_a_time_share_is_decided_three_ways_by_its_interval(interval, status):
    """The point estimate is the middle of the interval; only the interval decides."""
    middle = sum(interval) / 2
    for b in (
        share_budget(max_time_share={"depthwise": 0.4}),
        share_budget(max_time_share={"depthwise": "40%"}),
        share_budget(max_time_share={"depthwise": {"cpu": 0.4}}),
        Budget(name="b", config="net.yaml", max_time_share={"depthwise": 0.4}),
    ):
        (verdict,) = judge(b, {KEY: middle}, {}, None, intervals={KEY: interval})
        assert (verdict.metric, verdict.status) == (KEY, status)
        assert (verdict.low, verdict.high) == interval and verdict.limit == 0.4
        assert "95% interval" in verdict.note and "vs limit 40.0%" in verdict.note
        (strict,) = judge(b, {KEY: middle}, {}, None, True, {KEY: interval})
        assert strict.status == ("fail" if status == "inconclusive" else status)


def test_a_time_share_timed_under_contention_is_inconclusive():
    b = share_budget(max_time_share={"depthwise": 0.4})
    notes = {f"untrusted.{KEY}": "contended: 2 other processes busy"}
    (verdict,) = judge(b, {KEY: 0.1}, notes, None, intervals={KEY: (0.05, 0.15)})
    assert verdict.status == "inconclusive" and "contended" in verdict.note
    (strict,) = judge(b, {KEY: 0.1}, notes, None, True, {KEY: (0.05, 0.15)})
    assert strict.status == "fail"
    warn = share_budget(max_time_share={"depthwise": 0.4}, level="warn")
    (soft,) = judge(warn, {KEY: 0.5}, {}, None, intervals={KEY: (0.45, 0.55)})
    assert soft.status == "warn"


def test_a_bare_time_share_applies_on_every_timed_device_else_the_cpu():
    assert share_budget(max_time_share={"pool": 0.1}).time_shares() == [("pool", "cpu", 0.1)]
    both = share_budget(max_time_share={"pool": 0.1}, max_latency_ms={"cpu": 5, "cuda": 1})
    assert both.time_shares() == [("pool", "cpu", 0.1), ("pool", "cuda", 0.1)]
    assert both.devices() == ("cpu", "cuda")
    gpu = share_budget(max_time_share={"depthwise": {"cuda": 0.5}})
    assert gpu.devices() == ("cuda",)


def layer(name: str, kind: str, rounds: list[float], contention: str = "") -> Row:
    lat = Latency.from_rounds(rounds, 10)
    lat = Latency(lat.median, lat.iqr, lat.runs, lat.rounds, contention=contention)
    return Row(name, kind, 0, 0, 0, 0, 0, latency_ms={"cpu": lat})


def profiled(rows: list[Row]) -> ProfileResult:
    from sepprof.commands.profile import by_type

    total = Row("total", "network", 0, 0, 0, 0, 0)
    return ProfileResult({}, {}, tuple(rows), by_type(rows), total)


def test_time_share_metrics_by_hand():
    """Depthwise 1 ms and pointwise 3 ms in every round: a share of exactly 1/4, every round
    agreeing (an interval of width 0); no pool layer: a share of 0, with no interval."""
    rows = [
        layer("dw", "depthwise", [1.0] * 5),
        layer("pw", "pointwise", [2.0] * 5),
        layer("pw2", "pointwise", [1.0] * 5),
    ]
    metrics, notes, intervals = time_share_metrics(
        profiled(rows), [("depthwise", "cpu"), ("pool", "cpu"), ("depthwise", "cuda")]
    )
    assert metrics == {KEY: pytest.approx(0.25), "time_share.pool.cpu": 0.0}
    low, high = intervals[KEY]
    assert low == pytest.approx(0.25) and high == pytest.approx(0.25)
    assert "time_share.pool.cpu" not in intervals
    assert "1 depthwise layers: 1 of 4 ms" in notes[KEY]
    assert "no pool layer" in notes["time_share.pool.cpu"]
    assert "no layer was timed on cuda" in notes["time_share.depthwise.cuda"]
    assert not any(k.startswith("untrusted.") for k in notes)
    busy = [*rows[:2], layer("pw2", "pointwise", [1.0] * 5, "contended: busy")]
    _, notes, _ = time_share_metrics(profiled(busy), [("depthwise", "cpu")])
    assert notes[f"untrusted.{KEY}"] == "contended: busy"


def test_a_model_time_share_end_to_end(cli, tmp_path):
    """Timed for real (tiny, few rounds): only the structure is asserted, never wall time."""
    text = "budgets:\n" + model_budget(
        "shares",
        "    max_time_share: {depthwise: 0.99, standard: 0.5%}\n"
        "    max_latency_ms: {cpu: 100000}\n",
    )
    path = write(tmp_path, text)
    junit = tmp_path / "check.xml"
    args = ("--rounds", "3", "--processes", "1", "--min-time", "0.001")
    run = cli("check", path, *args, "--junit", junit, "--json")
    assert run.code in (0, 1), run.err
    doc = run.json()
    verdicts = {v["metric"]: v for v in doc["verdicts"]}
    assert set(verdicts) == {"latency_ms.cpu", KEY, "time_share.standard.cpu"}
    for key in (KEY, "time_share.standard.cpu"):
        v = verdicts[key]
        assert v["status"] in ("pass", "fail", "inconclusive")
        assert 0 < v["actual"] < 1 and v["actual"] == doc["metrics"]["shares"][key]
        if v["low"] is not None:
            assert v["low"] <= v["high"]
            assert doc["measured"]["shares"]["intervals"][key] == [v["low"], v["high"]]
    assert verdicts[KEY]["limit"] == 0.99 and verdicts["time_share.standard.cpu"]["limit"] == 0.005
    assert f'name="{KEY}"' in junit.read_text()


def layers_file(tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir(exist_ok=True)
    (tmp_path / "ci" / "layers.yaml").write_text("layers:\n  - {k: 3, cin: 8, cout: 8, size: 8}\n")


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        (
            "    config: layers.yaml\n    model: ../models/net.py:tiny\n    max_macs: 1M\n",
            "budgets.yaml:4: budgets[0].model: give either config: or model:, not both",
        ),
        (
            "    max_macs: 1M\n",
            "budgets.yaml:2: budgets[0].config: budget 'x' names neither a config nor a model",
        ),
        (
            "    model: ../models/net.py:tiny\n    max_time_share: {depthwise: 1.5}\n",
            "budgets.yaml:4: budgets[0].max_time_share.depthwise: must be a fraction of the time "
            "in (0, 1], e.g. 0.4 or 40% (got 1.5)",
        ),
        (
            "    model: ../models/net.py:tiny\n    max_time_share: {depthwise: 0}\n",
            "budgets[0].max_time_share.depthwise: must be a fraction of the time in (0, 1]",
        ),
        (
            "    model: ../models/net.py:tiny\n    max_time_share: {depthwise: -0.2}\n",
            "(got -0.2)",
        ),
        (
            "    model: ../models/net.py:tiny\n    max_time_share: {depthwise: .nan}\n",
            "budgets[0].max_time_share.depthwise: must be a fraction of the time in (0, 1], "
            "e.g. 0.4 or 40% (got nan)",
        ),
        (
            "    model: ../models/net.py:tiny\n    max_time_share: {depthwize: 0.4}\n",
            "budgets[0].max_time_share.depthwize: unknown layer type 'depthwize'; "
            "did you mean 'depthwise'?",
        ),
        (
            "    model: ../models/net.py:tiny\n    max_time_share: {depthwise: {tpu: 0.4}}\n",
            "budgets[0].max_time_share.depthwise: unknown device 'tpu' (valid: cpu, cuda)",
        ),
        (
            "    model: ../models/net.py:tiny\n    max_time_share: 0.4\n",
            "budgets[0].max_time_share: must map a layer type to a fraction of the time",
        ),
        (
            "    model: ../models/net.py:tiny\n    min_speedup: {cpu: 2}\n",
            "budgets.yaml:4: budgets[0].min_speedup: has no meaning for a model",
        ),
        (
            "    model: ../models/net.py:tiny\n    max_time_share: {depthwise: 0.4}\n"
            "    backend: compile\n",
            "budgets[0].max_time_share: a model's layers are timed alone in eager inference only",
        ),
        (
            "    model: ../models/net.py:tiny\n    batch: 2\n    max_macs: 1M\n",
            "budgets.yaml:4: budgets[0].batch: applies to a config, not to a model",
        ),
        (
            "    config: layers.yaml\n    input: 1,3,8,8\n    max_macs: 1M\n",
            "budgets.yaml:4: budgets[0].input: applies to a model: budget, not to a config",
        ),
        (
            "    config: layers.yaml\n    max_time_share: {depthwise: 0.4}\n",
            "budgets.yaml:4: budgets[0].max_time_share: applies to a network or a model, not to "
            "the layers file layers.yaml",
        ),
        (
            "    model: ../models/missing.py:tiny\n    max_macs: 1M\n",
            "budgets.yaml:3: budgets[0].model: model ../models/missing.py:tiny: file not found",
        ),
        (
            "    model: ../models/net.py:tiny2\n    max_macs: 1M\n",
            "budgets.yaml:3: budgets[0].model: ../models/net.py:tiny2: ",
        ),
        (
            "    model: ../models/net.py:tiny\n    input: 1,x,8\n    max_macs: 1M\n",
            "budgets.yaml:4: budgets[0].input: 1,x,8: expected a shape of positive integers",
        ),
        (
            "    model: ../models/net.py:tiny\n    input: 1,3,9,9\n    max_macs: 1M\n",
            "budgets.yaml:4: budgets[0].input: 1,3,9,9: the model's forward() raised",
        ),
        (
            "    model: ../models/net.py:tiny\n    kwargs: {depth: 3}\n    max_macs: 1M\n",
            "budgets.yaml:3: budgets[0].model: ../models/net.py:tiny: the factory raised TypeError",
        ),
        (
            "    model: ../models/net.py:tiny\n    input: 1,3,8,8\n    inputs: x.py:f\n"
            "    max_macs: 1M\n",
            "budgets[0].inputs: give input: shapes or inputs: FILE.py:function, not both",
        ),
    ],
)
def test_bad_model_and_time_share_budgets_exit_2(cli, tmp_path, budget, message):
    layers_file(tmp_path)
    run = cli("check", write(tmp_path, "budgets:\n  - name: x\n" + budget))
    assert run.code == 2, (run.out, run.err)
    assert message in run.err and "Traceback" not in run.err, run.err
    assert len(run.err.strip().splitlines()) == 1, run.err


def test_a_cuda_time_share_on_a_machine_without_one_names_the_key(cli, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    text = "budgets:\n" + model_budget("gpu", "    max_time_share: {depthwise: {cuda: 0.4}}\n")
    run = cli("check", write(tmp_path, text))
    assert run.code == 2
    assert "budgets[0].max_time_share: no CUDA device is available" in run.err
