"""``check --history`` and ``sepprof history`` on SQLite and on a real PostgreSQL server: runs
read back in order, the commit that changed MACs named, four concurrent writers, the JSON
document, the chart, ``--fail-on-change``."""

from __future__ import annotations

import subprocess
import sys

import pytest

BUDGETS = """\
budgets:
  - name: net
    config: one.yaml
    max_macs: 20M
    max_params: 1K
  - name: layers
    config: layers.yaml
    max_macs: 200K
"""
NETWORK = "name: One\ninput: [3, {px}, {px}]\nblocks:\n  - conv: {{name: c, k: 3, cout: 8}}\n"
LAYERS = "layers:\n  - {name: a, k: 3, cin: 16, cout: 32, size: 8}\n"
# A 3x3 convolution, 3 -> 8 channels, stride 1, padding 1: H * W * k^2 * Cin * Cout MACs.
MACS_224, MACS_256 = 224 * 224 * 9 * 3 * 8, 256 * 256 * 9 * 3 * 8
PARAMS = 9 * 3 * 8 + 2 * 8  # conv weights and BatchNorm's scale and shift
LAYER_MACS = 64 * (16 * 9 + 16 * 32)  # depthwise + pointwise at 8x8 (the separable variant)


def project(tmp_path, px=224):
    (tmp_path / "one.yaml").write_text(NETWORK.format(px=px))
    (tmp_path / "layers.yaml").write_text(LAYERS)
    path = tmp_path / "budgets.yaml"
    path.write_text(BUDGETS)
    return path


def five_commits(cli, tmp_path, store):
    """c0..c4 on main; c3 changes the network's input from 224 to 256 px."""
    budgets = project(tmp_path)
    for i in range(5):
        if i == 3:
            project(tmp_path, px=256)
        run = cli("check", budgets, "--history", store, "--commit", f"c{i}", "--branch", "main")
        assert run.code == 0, run.err
        assert f"history: run {i + 1} (commit c{i} on main) kept in" in run.err


def test_five_commits_read_back_in_order_and_c3_named_for_macs(cli, tmp_path, history_store):
    five_commits(cli, tmp_path, history_store)
    doc = cli("history", "--history", history_store, "--json").json()
    assert doc["schema"] == "sepprof.history/1" and doc["store_schema"] == 2
    assert [r["commit"] for r in doc["runs"]] == ["c0", "c1", "c2", "c3", "c4"]
    assert [r["id"] for r in doc["runs"]] == [1, 2, 3, 4, 5]
    net = doc["series"][0]
    assert (net["budget"], net["metric"], net["machine"]) == ("net", "macs", None)
    assert [p["value"]["value"] for p in net["points"]] == [MACS_224] * 3 + [MACS_256] * 2
    assert [p["value"]["limit"] for p in net["points"]] == [20e6] * 5
    (change,) = doc["changes"]
    assert change["budget"] == "net" and change["metric"] == "macs"
    assert change["before"]["commit"] == "c2" and change["after"]["commit"] == "c3"
    assert (change["from"], change["to"]) == (MACS_224, MACS_256)
    assert change["relative"] == pytest.approx((256 / 224) ** 2 - 1)
    assert change["direction"] == "up" and change["worse"] is True
    assert change["method"] == "exact" and change["beyond_intervals"] is None
    table = cli("history", "--history", history_store, "--changes").out
    assert "History of MACs" in table and "5 runs" in table
    assert "+30.6% worse" in table and "Steps (--changes)" in table


def test_the_json_document_has_runs_with_machine_budgets_and_metrics(cli, tmp_path):
    history_store = str(tmp_path / "runs.db")  # the store does not matter here
    five_commits(cli, tmp_path, history_store)
    doc = cli("history", "--history", history_store, "--json", "--metric", "params").json()
    assert set(doc) >= {"schema", "store", "query", "budgets", "runs", "series", "changes"}
    assert doc["query"] == {"budget": None, "metric": "params", "branch": None, "last": None}
    assert doc["budgets"] == ["net", "layers"] and doc["changes"] == []
    run = doc["runs"][0]
    assert set(run) == {
        "id",
        "commit",
        "branch",
        "created",
        "sepprof",
        "budget_file",
        "passed",
        "machine",
        "budgets",
    }
    assert set(run["machine"]) == {"id", "cpu", "cores", "torch", "device"}
    assert run["machine"]["device"] == "cpu" and run["passed"] is True
    net = run["budgets"][0]
    assert (net["name"], net["config"], net["variant"], net["status"]) == (
        "net",
        "one.yaml",
        None,
        "pass",
    )
    assert net["metrics"] == {
        "params": {"value": PARAMS, "low": None, "high": None, "limit": 1000, "status": "pass"}
    }
    assert run["budgets"][1]["variant"] == "separable"


def test_last_branch_and_budget_select_runs(cli, tmp_path):
    history_store = str(tmp_path / "runs.db")  # the store does not matter here
    five_commits(cli, tmp_path, history_store)
    budgets = tmp_path / "budgets.yaml"
    assert (
        cli("check", budgets, "--history", history_store, "--commit", "x1", "--branch", "dev").code
        == 0
    )
    doc = cli("history", "--history", history_store, "--json", "--last", "2").json()
    assert [r["commit"] for r in doc["runs"]] == ["c4", "x1"]
    doc = cli("history", "--history", history_store, "--json", "--branch", "dev").json()
    assert [r["commit"] for r in doc["runs"]] == ["x1"]
    doc = cli("history", "--history", history_store, "--json", "--budget", "layers").json()
    assert [s["budget"] for s in doc["series"]] == ["layers"]
    assert [p["value"]["value"] for p in doc["series"][0]["points"]] == [LAYER_MACS] * 6
    bad = cli("history", "--history", history_store, "--budget", "nope")
    assert bad.code == 2 and bad.err.count("\n") == 1
    assert "--budget: no budget 'nope'" in bad.err and "budgets: 'net', 'layers'" in bad.err


def test_fail_on_change_fails_a_rise_since_the_last_run_on_the_branch(cli, tmp_path, history_store):
    budgets = project(tmp_path)
    first = cli("check", budgets, "--history", history_store, "--commit", "a1", "--fail-on-change")
    assert first.code == 0 and "no earlier run on this branch and machine" in first.err
    project(tmp_path, px=256)
    run = cli(
        "check", budgets, "--history", history_store, "--commit", "a2", "--fail-on-change", "--json"
    )
    assert run.code == 1
    failed = {v["metric"]: v for v in run.json()["verdicts"] if v["status"] == "fail"}
    assert set(failed) == {"macs change", "bytes change"}  # the bytes moved rose with the input
    assert failed["bytes change"]["actual"] > failed["bytes change"]["limit"]
    verdict = failed["macs change"]
    assert verdict["budget"] == "net"
    assert (verdict["limit"], verdict["actual"]) == (MACS_224, MACS_256)
    assert "commit a1" in verdict["note"] and "commit a2" in verdict["note"]
    assert "+30.6%" in verdict["note"]
    again = cli("check", budgets, "--history", history_store, "--commit", "a3", "--fail-on-change")
    assert again.code == 0  # compared with a2, the run that stepped: nothing moved since
    project(tmp_path, px=224)
    down = cli("check", budgets, "--history", history_store, "--commit", "a4", "--fail-on-change")
    assert down.code == 0  # fewer MACs is no failure
    doc = cli("history", "--history", history_store, "--json").json()
    assert [r["passed"] for r in doc["runs"]] == [True, False, True, True]
    assert [r["budgets"][0]["status"] for r in doc["runs"]] == ["pass", "fail", "pass", "pass"]


def test_fail_on_change_compares_only_within_a_branch(cli, tmp_path):
    history_store = str(tmp_path / "runs.db")  # the store does not matter here
    budgets = project(tmp_path)
    assert cli("check", budgets, "--history", history_store, "--branch", "main").code == 0
    project(tmp_path, px=256)
    run = cli(
        "check", budgets, "--history", history_store, "--branch", "feature", "--fail-on-change"
    )
    assert run.code == 0 and "no earlier run on this branch" in run.err


def test_four_concurrent_writers_lose_nothing(cli, tmp_path, history_store):
    budgets = project(tmp_path)
    exe = [sys.executable, "-m", "sepprof"]
    procs = [
        subprocess.Popen(
            [*exe, "check", str(budgets), "--history", history_store, "--commit", f"w{i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    doc = cli("history", "--history", history_store, "--json").json()
    assert sorted(r["commit"] for r in doc["runs"]) == ["w0", "w1", "w2", "w3"]
    assert sorted(r["id"] for r in doc["runs"]) == [1, 2, 3, 4]
    assert all(len(r["budgets"]) == 2 for r in doc["runs"])


def test_plot_writes_a_png_chart(cli, tmp_path):
    history_store = str(tmp_path / "runs.db")  # the store does not matter here
    five_commits(cli, tmp_path, history_store)
    chart = tmp_path / "macs.png"
    run = cli("history", "--history", history_store, "--plot", chart)
    assert run.code == 0 and f"chart written to {chart}" in run.err
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "macs.svg"
    assert cli("history", "--history", history_store, "--plot", svg).code == 0
    assert b"<svg" in svg.read_bytes()[:400]


def test_history_commands_import_no_torch(tmp_path):
    store = tmp_path / "runs.db"
    budgets = project(tmp_path)
    code = (
        "import sys\nfrom sepprof.cli import main\n"
        f"assert main(['check', {str(budgets)!r}, '--history', {str(store)!r}]) == 0\n"
        f"assert main(['history', '--history', {str(store)!r}, '--changes', '--json']) == 0\n"
        "main(['history', '--help'])\n"
        "assert 'torch' not in sys.modules and 'fvcore' not in sys.modules, 'torch imported'\n"
        "assert 'ruptures' not in sys.modules, 'ruptures imported for an exact metric'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "--metric" in proc.stdout and "--changes" in proc.stdout


def test_the_readme_ci_snippet_passes_on_its_first_run_with_an_empty_store(cli, tmp_path):
    """The README's GitHub Actions job, its sepprof lines run as written (the store put in a
    temporary folder) with no store yet, as on a first run or a cache miss."""
    import re
    import shlex
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- history-ci -->\n```yaml\n(.*?)```", readme, re.S).group(1)
    lines = [line.strip() for line in block.splitlines() if line.strip().startswith("sepprof ")]
    assert [shlex.split(line)[1] for line in lines] == ["check", "history"]
    for line in lines:
        args = shlex.split(line.replace("sepprof-history", str(tmp_path / "sepprof-history")))
        args = [str(root / a) if a.startswith("configs/") else a for a in args]
        run = cli(*args[1:])
        assert run.code == 0, run.err
    assert (tmp_path / "sepprof-history.png").read_bytes()[:4] == b"\x89PNG"


def test_timed_metrics_are_kept_with_their_95_percent_intervals(cli, tmp_path):
    project(tmp_path)
    budgets = tmp_path / "timed.yaml"
    budgets.write_text(
        "budgets:\n  - name: sep\n    config: layers.yaml\n"
        "    max_latency_ms: {cpu: 10000}\n    min_speedup: {cpu: 0.01}\n"
    )
    store = tmp_path / "runs.db"
    fast = ("--rounds", "3", "--processes", "1", "--min-time", "0.002")
    run = cli("check", budgets, "--history", store, *fast, "--commit", "t1", "--json")
    assert run.code == 0, run.err
    checked = run.json()
    for metric, key in (("latency", "latency_ms.cpu"), ("speedup", "speedup.cpu")):
        doc = cli("history", "--history", store, "--metric", metric, "--json").json()
        (series,) = doc["series"]
        assert series["metric"] == key and series["machine"]["device"] == "cpu"
        (point,) = series["points"]
        kept = point["value"]
        assert kept["value"] == checked["metrics"]["sep"][key]
        assert [kept["low"], kept["high"]] == checked["measured"]["sep"]["intervals"][key]
        assert kept["low"] <= kept["value"] <= kept["high"]
        assert kept["status"] == next(
            v["status"] for v in checked["verdicts"] if v["metric"] == key
        )
    (note,) = [v["note"] for v in checked["verdicts"] if v["metric"] == "speedup.cpu"]
    assert f"{kept['low']:.2f}x-{kept['high']:.2f}x" in note  # the interval the check showed
