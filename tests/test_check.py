"""``sepprof check``: budgets as a CI gate (exit codes, JUnit, baselines, step summary)."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sepprof.spec.budgets import Budget
from sepprof.spec.verdicts import judge

NETWORKS = Path(__file__).resolve().parents[1] / "configs" / "networks"
LAYERS = """\
variants: [standard, separable]
layers:
  - {name: a, k: 3, cin: 16, cout: 32, size: 8}
  - {name: b, k: 3, cin: 32, cout: 32, size: 8}
"""


def budgets(tmp_path: Path, text: str) -> Path:
    (tmp_path / "layers.yaml").write_text(LAYERS)
    path = tmp_path / "budgets.yaml"
    path.write_text(text.replace("NET", str(NETWORKS)))
    return path


PASSING = """\
budgets:
  - name: v1
    config: NET/mobilenet_v1.yaml
    max_macs: 600M
    max_params: 4.5M
  - name: layers
    config: layers.yaml
    max_macs: 200K
"""


def test_passing_budgets_exit_0(cli, tmp_path):
    run = cli("check", budgets(tmp_path, PASSING))
    assert run.code == 0, run.err
    assert "PASS" in run.out and "FAIL" not in run.out and "0 failed" in run.out


def test_failing_budget_exits_1_and_warn_never_fails(cli, tmp_path):
    text = PASSING.replace("max_macs: 600M", "max_macs: 500M")
    run = cli("check", budgets(tmp_path, text), "--json")
    assert run.code == 1
    doc = run.json()
    assert doc["schema"] == "sepprof.check/1" and doc["passed"] is False
    failed = [v for v in doc["verdicts"] if v["status"] == "fail"]
    assert [(v["budget"], v["metric"], v["actual"]) for v in failed] == [
        ("v1", "macs", 568_740_352)
    ]
    assert failed[0]["headroom"] == pytest.approx((500e6 - 568_740_352) / 500e6)
    warn = PASSING + "  - name: soft\n    config: layers.yaml\n    max_macs: 1K\n    level: warn\n"
    run = cli("check", budgets(tmp_path, warn))
    assert run.code == 0 and "WARN" in run.out and "1 warnings" in run.out


def test_layers_file_budget_counts_the_chosen_variant(cli, tmp_path):
    doc = cli("check", budgets(tmp_path, PASSING), "--json").json()
    layers = doc["metrics"]["layers"]
    a = 64 * (16 * 9 + 16 * 32)
    b = 64 * (32 * 9 + 32 * 32)
    assert layers["macs"] == a + b
    assert layers["params"] == (16 * 9 + 16 * 32 + 32 * 9 + 32 * 32) + 2 * (16 + 32 + 32 + 32)


def test_junit_is_valid_and_has_one_case_per_metric(cli, tmp_path):
    out = tmp_path / "junit.xml"
    text = PASSING.replace("max_macs: 600M", "max_macs: 500M")
    assert cli("check", budgets(tmp_path, text), "--junit", out).code == 1
    root = ET.parse(out).getroot()
    cases = root.findall(".//testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("v1", "macs"),
        ("v1", "params"),
        ("layers", "macs"),
    ]
    assert root.get("failures") == "1"
    failure = cases[0].find("failure")
    assert failure is not None and "568.7M" in failure.get("message")
    assert cases[1].find("failure") is None


def test_github_step_summary_is_appended(cli, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert cli("check", budgets(tmp_path, PASSING)).code == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n")
    assert "### sepprof check: all budgets hold" in text
    assert "| v1 | macs | 600.0M | 568.7M | +5.2% | PASS |" in text


def test_baseline_round_trip_and_regression(cli, tmp_path):
    base = tmp_path / "baseline.json"
    text = PASSING.replace("max_params: 4.5M", "max_params: 4.5M\n    max_regression: 1%")
    path = budgets(tmp_path, text)
    run = cli("check", path, "--baseline", base, "--update-baseline")
    assert run.code == 0, run.err
    saved = json.loads(base.read_text())
    assert saved["metrics"]["v1"]["macs"] == 568_740_352
    assert cli("check", path, "--baseline", base).code == 0
    saved["metrics"]["v1"]["macs"] = 500_000_000  # the model grew 13.7% since the baseline
    base.write_text(json.dumps(saved))
    run = cli("check", path, "--baseline", base, "--json")
    assert run.code == 1
    (regressed,) = [v for v in run.json()["verdicts"] if v["status"] == "fail"]
    assert regressed["metric"] == "regression macs"
    assert regressed["actual"] == pytest.approx(568_740_352 / 500e6 - 1)


def test_regression_without_baseline_fails_with_a_reason():
    budget = Budget(name="b", config="x", max_regression="5%")
    (verdict,) = judge(budget, {"macs": 10}, {}, None)
    assert verdict.status == "fail" and "--baseline" in verdict.note


def test_speedup_budget_measured_in_one_run(cli, tmp_path):
    text = (
        "budgets:\n  - name: sep\n    config: layers.yaml\n    min_speedup: {cpu: 0.01}\n"
        "    max_latency_ms: {cpu: 10000}\n"
    )
    run = cli(
        "check",
        budgets(tmp_path, text),
        "--rounds",
        "2",
        "--repeat",
        "1",
        "--min-time",
        "0.002",
        "--json",
    )
    assert run.code == 0, run.err
    doc = run.json()
    metrics = doc["metrics"]["sep"]
    assert metrics["speedup.cpu"] > 0 and metrics["latency_ms.cpu"] > 0
    assert "IQR over 2 rounds" in doc["notes"]["sep"]["latency_ms.cpu"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("budgets: []\n", "budgets.yaml:1: budgets: must not be empty"),
        (
            "budgets:\n  - name: x\n    config: nope.yaml\n    max_macs: 1M\n",
            "budgets.yaml:3: budgets[0].config: config nope.yaml: file not found (looked for",
        ),
        (
            "budgets:\n  - name: x\n    config: layers.yaml\n    max_mac: 1M\n",
            "budgets.yaml:4: budgets[0].max_mac: unknown key 'max_mac'; did you mean 'max_macs'?",
        ),
        (
            "budgets:\n  - name: x\n    config: layers.yaml\n    max_flops: 1M\n",
            "budgets.yaml:4: budgets[0].max_flops: unknown key 'max_flops'",
        ),
        (
            "budgets:\n  - name: x\n    config: layers.yaml\n    max_macs: lots\n",
            "budgets[0].max_macs: expected a number with an optional K/M/G/T suffix, got 'lots'",
        ),
        (
            "budgets:\n  - name: x\n    config: layers.yaml\n    max_latency_ms: {tpu: 3}\n",
            "budgets[0].max_latency_ms: unknown device 'tpu' (valid: cpu, cuda)",
        ),
        (
            "budgets:\n  - name: x\n    config: layers.yaml\n    max_regression: lots\n",
            "expected a percentage such as 5%",
        ),
        ("budgets:\n  - name: x\n    config: layers.yaml\n  max_macs: 1M\n", "YAML syntax error"),
        (
            "budgets:\n  - name: x\n    config: layers.yaml\n    level: fatal\n",
            "budgets[0].level: must be one of 'error' or 'warn' (got 'fatal')",
        ),
    ],
)
def test_bad_budget_files_exit_2(cli, tmp_path, text, message):
    run = cli("check", budgets(tmp_path, text))
    assert run.code == 2, run.out
    assert message in run.err and "Traceback" not in run.err
    assert len(run.err.strip().splitlines()) == 1


def test_missing_budget_file_and_bad_baseline(cli, tmp_path):
    run = cli("check", tmp_path / "missing.yaml")
    assert run.code == 2 and "missing.yaml: file not found" in run.err
    other = tmp_path / "other.json"
    other.write_text('{"schema": "sepprof.compare/1"}')
    run = cli("check", budgets(tmp_path, PASSING), "--baseline", other)
    assert (
        run.code == 2 and "expected a sepprof.check/1 baseline, got 'sepprof.compare/1'" in run.err
    )
    run = cli("check", budgets(tmp_path, PASSING), "--update-baseline")
    assert run.code == 2 and "needs --baseline" in run.err


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        (
            "    config: layers.yaml\n",
            "budgets[0].name: budget 'x' sets no limit (give at least one of max_macs",
        ),
        (
            "    config: NET/mobilenet_v1.yaml\n    variant: inverted:6\n    max_macs: 1G\n",
            "budgets.yaml:4: budgets[0].variant: applies to a layers file, not to the network",
        ),
        (
            "    config: layers.yaml\n    max_regression: 5%\n",
            "budgets.yaml:4: budgets[0].max_regression: needs --baseline FILE",
        ),
    ],
)
def test_budgets_that_cannot_be_judged_are_bad_input(cli, tmp_path, budget, message):
    run = cli("check", budgets(tmp_path, "budgets:\n  - name: x\n" + budget))
    assert run.code == 2 and message in run.err, run.err


def test_a_cuda_budget_on_a_machine_without_one_names_the_budget(cli, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    text = "budgets:\n  - name: gpu\n    config: layers.yaml\n    max_latency_ms: {cuda: 5}\n"
    run = cli("check", budgets(tmp_path, text))
    assert run.code == 2
    assert "budgets[0].max_latency_ms: no CUDA device is available" in run.err


def test_unwritable_step_summary_is_a_warning(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "missing" / "summary.md"))
    base = tmp_path / "base.json"
    run = cli("check", budgets(tmp_path, PASSING), "--baseline", base, "--update-baseline")
    assert run.code == 0
    assert "warning: GITHUB_STEP_SUMMARY" in run.err and base.is_file()


def test_readme_ci_step_passes_on_a_first_run_then_keeps_a_baseline(cli, tmp_path):
    """The README's Actions step, as written: no baseline yet is a note (exit 0); on main it is
    created, and the next run compares with it."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    step = re.search(r"sepprof check (configs/budgets/\S+) --junit (\S+) --baseline (\S+)", readme)
    assert step, "the README's CI snippet"
    budget_file = Path(__file__).resolve().parents[1] / step.group(1)
    junit, baseline = tmp_path / step.group(2), tmp_path / step.group(3)
    first = cli("check", budget_file, "--junit", junit, "--baseline", baseline)
    assert first.code == 0, first.err
    assert f"baseline {baseline} not found" in first.err and junit.is_file()
    main = cli("check", budget_file, "--junit", junit, "--baseline", baseline, "--update-baseline")
    assert main.code == 0 and baseline.is_file()
    pr = cli("check", budget_file, "--baseline", baseline, "--json")
    assert pr.code == 0 and pr.json()["baseline"] == str(baseline) and not pr.json()["messages"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    backend: onnxruntime\n    mode: train\n", "mode: backend onnxruntime runs inference"),
        ("    backend: tvm\n", "backend: must be one of 'eager', 'compile' or 'onnxruntime'"),
    ],
)
def test_budget_backend_and_mode_are_checked_at_their_line(cli, tmp_path, extra, message):
    text = "budgets:\n  - name: b\n    config: layers.yaml\n    max_macs: 1G\n" + extra
    run = cli("check", budgets(tmp_path, text))
    assert run.code == 2 and message in run.err and "budgets.yaml:" in run.err


def test_budget_times_with_its_backend_and_mode(cli, tmp_path, monkeypatch):
    """A budget's backend and mode reach the timing (recorded rounds stand in for the clock)."""
    import sepprof.timing.rounds as rounds
    from sepprof.results import Latency

    asked = []

    def recorded(items, **_):
        asked.append(sorted(items))
        return {k: Latency.from_rounds([1.0, 1.1, 1.0, 1.0, 0.9], 10) for k in items}

    monkeypatch.setattr(rounds, "measure", recorded)
    text = "budgets:\n  - name: t\n    config: layers.yaml\n    max_latency_ms: {cpu: 1000}\n"
    run = cli("check", budgets(tmp_path, text + "    mode: train\n"), "--repeat", "1", "--json")
    assert run.code == 0, run.err
    assert run.json()["environment"]["mode"] == "train" and asked


def test_step_summary_that_is_a_fifo_is_skipped_not_waited_on(cli, tmp_path, monkeypatch):
    """$GITHUB_STEP_SUMMARY pointing at a FIFO with no reader would block an open() forever."""
    import os

    fifo = tmp_path / "summary"
    os.mkfifo(fifo)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(fifo))
    run = cli("check", budgets(tmp_path, PASSING))
    assert run.code == 0 and "not a regular file; not written" in run.err


def test_a_regression_of_exactly_the_limit_passes():
    """2.0 -> 2.1 is a 5% regression: a 5% limit holds (no floating-point 5.000000000000004%)."""
    from sepprof.spec.budgets import Budget
    from sepprof.spec.verdicts import regressions

    budget = Budget(name="b", config="x.yaml", max_macs="1G", max_regression="5%")
    (verdict,) = regressions(budget, {"macs": 2.1}, {"macs": 2.0})
    assert verdict.status == "pass" and verdict.actual == 0.05


UNCOUNTED = """\
budgets:
  - name: layers
    config: layers.yaml
    max_uncounted_ops: 1000
    max_regression: 5%
"""


def _baseline_with(cli, path: Path, base: Path, uncounted: int) -> None:
    assert cli("check", path, "--baseline", base, "--update-baseline").code == 0
    saved = json.loads(base.read_text())
    saved["metrics"]["layers"]["uncounted_ops"] = uncounted
    base.write_text(json.dumps(saved))


def test_uncounted_ops_rising_from_a_baseline_of_0_is_a_regression(cli, tmp_path, monkeypatch):
    """An op that loses its rule (here ReLU, removed from the tracer's table) is uncounted in
    every layer; the baseline had 0. A ratio to 0 does not exist, so the rise is judged on its
    own and shown "from 0"."""
    from sepprof.count import handles

    path, base = budgets(tmp_path, UNCOUNTED), tmp_path / "baseline.json"
    _baseline_with(cli, path, base, 0)
    monkeypatch.delitem(handles.HANDLES, "aten::relu")
    monkeypatch.delitem(handles.HANDLES, "aten::relu_")
    run = cli("check", path, "--baseline", base, "--json")
    assert run.code == 1, run.err
    verdicts = {v["metric"]: v for v in run.json()["verdicts"]}
    assert run.json()["metrics"]["layers"]["uncounted_ops"] > 0
    regressed = verdicts["regression uncounted_ops"]
    assert regressed["status"] == "fail" and regressed["note"].startswith("from 0 to ")


def test_uncounted_ops_falling_to_0_passes(cli, tmp_path):
    path, base = budgets(tmp_path, UNCOUNTED), tmp_path / "baseline.json"
    _baseline_with(cli, path, base, 2)
    run = cli("check", path, "--baseline", base, "--json")
    assert run.code == 0, run.out
    verdicts = {v["metric"]: v for v in run.json()["verdicts"]}
    assert verdicts["regression uncounted_ops"]["status"] == "pass"


# Which way each metric gets worse, typed from what it measures (not read from the code).
WORSE_WHEN = {
    "macs": "up",
    "params": "up",
    "uncounted_ops": "up",
    "latency_ms.cpu": "up",
    "latency_ms.cuda": "up",
    "speedup.cpu": "down",
    "speedup.cuda": "down",
    "time_share.depthwise.cpu": "up",
}


@pytest.mark.parametrize("key", sorted(WORSE_WHEN))
def test_each_metric_regresses_in_its_own_direction(key):
    """10% the worse way fails a 5% max_regression; 10% the better way passes."""
    budget = Budget(name="b", config="x", max_regression="5%")
    up, down = {key: 110.0}, {key: 90.0}
    worse, better = (up, down) if WORSE_WHEN[key] == "up" else (down, up)
    ((failed,), (passed,)) = (judge(budget, m, {}, {key: 100.0}) for m in (worse, better))
    assert failed.status == "fail" and passed.status == "pass"


@pytest.mark.parametrize("key", sorted(WORSE_WHEN))
def test_from_a_baseline_of_0(key):
    """A lower-is-better metric that rises from 0 regresses; staying at 0 passes; a
    higher-is-better one cannot get worse than 0."""
    budget = Budget(name="b", config="x", max_regression="5%")
    (rise,) = judge(budget, {key: 3.0}, {}, {key: 0.0})
    (same,) = judge(budget, {key: 0.0}, {}, {key: 0.0})
    assert rise.status == ("fail" if WORSE_WHEN[key] == "up" else "pass")
    assert same.status == "pass"


def test_every_metric_check_measures_has_a_declared_direction():
    from sepprof.spec.budgets import METRICS

    assert {k.split(".")[0] for k in WORSE_WHEN} == set(METRICS)
