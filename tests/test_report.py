"""``sepprof report``: markdown with charts, written atomically; claims and environment shown."""

import os
import re
from pathlib import Path

import pytest
import torch

from sepprof.claims import check_claims
from sepprof.commands import report as report_module
from sepprof.commands.compare import compare
from sepprof.commands.profile import profile
from sepprof.commands.report import write_report
from sepprof.commands.sweep import Grid, sweep
from sepprof.network import load_network
from sepprof.options import TimingOptions
from sepprof.results import CompareResult
from sepprof.results.report import Report
from sepprof.spec import LayerSpec, parse_variants

NETWORKS = Path(__file__).resolve().parents[1] / "configs" / "networks"
FAST = TimingOptions(rounds=2, min_time=0.002)


@pytest.fixture(scope="module")
def small_report() -> Report:
    """A report built from small, really measured results (not the full default grid)."""
    from sepprof.calibration import calibrate

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
            "--config /no/such.yaml: file not found",
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


def test_quick_report_end_to_end(cli, tmp_path):
    out = tmp_path / "quick"
    run = cli("report", "--quick", "--out", out)
    assert run.code == 0, run.err
    text = (out / "README.md").read_text()
    assert "Parameters fall 8.7x at k=3, 256 channels | 8.69x" in text
    assert text.count("**holds**") >= 3
    gpu_claim = next(line for line in text.splitlines() if line.startswith("| An 8-9x FLOP"))
    if torch.cuda.is_available():
        assert "faster on cuda" in gpu_claim
    else:
        assert "no CUDA device in this run | **not measured here**" in gpu_claim
