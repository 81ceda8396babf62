"""``sepprof report``: markdown with charts, written atomically; claims and environment shown."""

import os
import re
from pathlib import Path

import pytest
import torch

from sepprof.commands import report as report_module
from sepprof.commands.compare import compare
from sepprof.commands.profile import profile
from sepprof.commands.report import write_report
from sepprof.commands.sweep import Grid, sweep
from sepprof.results import CompareResult
from sepprof.results.claims import check_claims
from sepprof.results.report import Report
from sepprof.spec.layer import LayerSpec, parse_variants
from sepprof.spec.network import load_network
from sepprof.timing.options import TimingOptions

NETWORKS = Path(__file__).resolve().parents[1] / "configs" / "networks"
FAST = TimingOptions(rounds=2, min_time=0.002)


@pytest.fixture(scope="module")
def small_report() -> Report:
    """A report built from small, really measured results (not the full default grid)."""
    from sepprof.timing.calibration import calibrate

    layer = LayerSpec(cout=32, size=14)
    main = compare(
        layer, parse_variants("standard,separable,grouped:4,inverted:2", layer), timing=FAST
    )
    swept = sweep(Grid(k=(3,), cout=(16, 32), size=(8,)), timing=FAST)
    net = profile(load_network(NETWORKS / "mobilenet_v1.yaml"), timing=FAST)
    cal = calibrate("cpu", "fp32", FAST.thread_count(), quick=True)
    claims = tuple(check_claims(main, list(swept.points), net))
    return Report(
        main.environment,
        "sepprof report --out x",
        "today",
        main,
        (),
        swept,
        {"cpu": cal},
        (net,),
        claims,
    )


def test_report_folder_has_markdown_images_and_json(small_report, tmp_path):
    out = tmp_path / "rep"
    page = write_report(small_report, out, force=False)
    text = page.read_text()
    for heading in [
        "# sepprof report",
        "## Claims checked on this machine",
        "## The worked example",
        "## Sweep",
        "## Roofline",
        "## MobileNetV1 by layer type",
        "## How to read this",
    ]:
        assert heading in text, heading
    assert "sepprof report --out x" in text and "torch" in text and "threads" in text
    images = re.findall(r"!\[([^\]]+)\]\(([^)]+)\)", text)
    assert {name for _, name in images} == {
        "shares-cpu.png",
        "sweep-cpu.png",
        "roofline-cpu.png",
        "types-0-cpu.png",
        "layers-0-cpu.png",  # MobileNetV1's layers: time beside MACs
    }
    for alt, name in images:
        assert len(alt) > 40 and "/" not in name  # alt text; relative paths
        assert (out / name).stat().st_size > 5000
        assert (out / name.replace(".png", ".svg")).read_text().startswith("<?xml")
    assert (out / "report.json").is_file()
    assert oct(out.stat().st_mode & 0o777) != oct(0o700)


def test_existing_report_needs_force_and_is_replaced_whole(small_report, tmp_path):
    out = tmp_path / "rep"
    write_report(small_report, out, force=False)
    (out / "stale.txt").write_text("old")
    with pytest.raises(Exception, match="already exists; pass --force"):
        write_report(small_report, out, force=False)
    write_report(small_report, out, force=True)
    assert not (out / "stale.txt").exists() and (out / "README.md").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_force_never_replaces_a_folder_that_is_not_a_report(small_report, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "code.py").write_text("precious")
    with pytest.raises(Exception, match="holds files that are not a sepprof report"):
        write_report(small_report, work, force=True)
    assert (work / "code.py").read_text() == "precious"
    empty = tmp_path / "empty"
    empty.mkdir()
    write_report(small_report, empty, force=True)
    assert (empty / "report.json").is_file()


def test_failure_while_writing_leaves_nothing(small_report, tmp_path, monkeypatch):
    def broken(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_module, "draw_charts", broken)
    with pytest.raises(KeyboardInterrupt):
        write_report(small_report, tmp_path / "rep", force=False)
    assert list(tmp_path.iterdir()) == []


def test_report_json_round_trips_for_merge(small_report):
    doc = small_report.to_dict()
    assert doc["schema"] == "sepprof.report/1"
    assert CompareResult.from_dict(doc["main"]).spec == small_report.main.spec


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (lambda p: p.write_text("x"), ["--out", "{p}"], "is a file, not a folder"),
        (lambda p: p.mkdir(), ["--out", "{p}"], "already exists; pass --force"),
        (
            lambda p: None,
            ["--out", "{p}", "--config", "/no/such.yaml"],
            "/no/such.yaml: file not found",
        ),
    ],
)
def test_report_bad_output_exit_2_before_measuring(cli, tmp_path, setup, args, message):
    path = tmp_path / "out"
    setup(path)
    run = cli("report", *[a.replace("{p}", str(path)) for a in args])
    assert run.code == 2 and message in run.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_report_unwritable_output(cli, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    run = cli("report", "--out", locked / "rep")
    assert run.code == 2 and "cannot write there" in run.err


@pytest.fixture
def quiet_recorded_machine(monkeypatch):
    """Timing replaced by recorded rounds on a quiet machine: every standard item 10-12 ms,
    everything else 2-2.5 ms (per-round speedups 5.0, 4.8, 5.5, 5.0, 5.0)."""
    import sepprof.timing.contention as contention
    import sepprof.timing.measure as m
    import sepprof.timing.rounds as rounds
    from sepprof.results import Latency

    class Quiet:
        def start(self):
            return self

        def stop(self):
            return 0.0

    standard, other = [10.0, 12.0, 11.0, 10.0, 9.0], [2.0, 2.5, 2.0, 2.0, 1.8]

    def recorded(items, **_):
        return {k: Latency.from_rounds(standard if "standard" in k else other, 50) for k in items}

    monkeypatch.setattr(contention, "default_threads", lambda: 2)
    monkeypatch.setattr(m, "others_cpu", lambda window=0.2, reuse=0.0: 0.0)
    monkeypatch.setattr(rounds, "Meter", Quiet)
    monkeypatch.setattr(rounds, "measure", recorded)


def test_quick_report_end_to_end(cli, tmp_path, quiet_recorded_machine, monkeypatch):
    out = tmp_path / "quick"
    args = ["report", "--quick", "--repeat", "1", "--device", "cpu", "--out", str(out)]
    monkeypatch.setattr("sys.argv", ["sepprof", *args])
    run = cli(*args)
    assert run.code == 0, run.err
    text = (out / "README.md").read_text()
    claims = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if "**" in line}
    ratio = next(v for k, v in claims.items() if k.startswith("Separable costs 1/Cout"))
    assert "**holds**" in ratio  # counted, exact at every sweep point
    params = next(v for k, v in claims.items() if k.startswith("Parameters fall 8.7x"))
    assert "8.69x (589,824 vs 67,840)" in params and "**computed, not a check**" in params
    gpu = next(v for k, v in claims.items() if k.startswith("An 8-9x FLOP"))
    if not torch.cuda.is_available():
        assert "no CUDA device in this run | **not measured here**" in gpu
    assert "5.00x faster" in text  # the recorded rounds' median ratio, on the worked example
    assert "The machine was busy" not in text
    assert "## Backends and modes" in text and "eager inference" in text
    doc = __import__("json").loads((out / "report.json").read_text())
    assert doc["backends"]["runs"][0]["backend"] == "eager"
    reproduce = re.search(r"```\n(sepprof report [^\n]+)\n```", text).group(1)
    assert reproduce == f"sepprof {' '.join(args)} --force"
    again = cli(*reproduce.split()[1:])  # the reproduce command runs as written
    assert again.code == 0, again.err


def test_report_json_reads_back_to_the_same_document(small_report):
    """A report can be rendered again later from its report.json, without measuring."""
    import json

    doc = json.loads(json.dumps(small_report.to_dict()))
    assert Report.from_dict(doc).to_dict() == doc


def test_report_with_history_has_its_section_and_reads_back(small_report, cli, tmp_path):
    """``report --history STORE``: MACs by commit and the steps, in the page and report.json."""
    import json
    from dataclasses import replace

    from sepprof.cli_history import read

    budgets, store = tmp_path / "budgets.yaml", tmp_path / "runs.db"
    net = NETWORKS / "mobilenet_v1.yaml"
    budgets.write_text(f"budgets:\n  - {{name: v1, config: {net}, max_macs: 600M}}\n")
    for commit in ("h1", "h2"):
        assert cli("check", budgets, "--history", store, "--commit", commit).code == 0
    report = replace(small_report, history=read(str(store)))
    text = write_report(report, tmp_path / "rep", force=False).read_text()
    assert "## History: MACs by commit" in text and "2 runs in" in text
    assert "![" in text and (tmp_path / "rep" / "history.png").is_file()
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert [r["commit"] for r in doc["history"]["runs"]] == ["h1", "h2"]
    assert Report.from_dict(doc).to_dict() == doc
