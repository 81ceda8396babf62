"""``sepprof profile``: traced counts equal analytic ones on every reference network, JSON
contract, timing of layers and of the whole network, --as before/after."""

from pathlib import Path

import pytest

from sepprof.commands.profile import profile
from sepprof.spec.network import Options, load_network

NETWORKS = Path(__file__).resolve().parents[1] / "configs" / "networks"
TINY = """\
name: tiny
input: [3, 16, 16]
blocks:
  - conv: {name: stem, k: 3, cout: 8, stride: 2}
  - separable: {name: sep, k: 3, cout: 16}
  - inverted_residual: {name: ir, t: 2, c: 16, n: 2, s: 1, se: 0.25}
  - pool: {kind: avg, global: true}
  - fc: {cout: 4}
"""


@pytest.mark.parametrize(
    "name", ["mobilenet_v1", "mobilenet_v2", "vgg16", "efficientnet_b0", "xception"]
)
def test_traced_equals_analytic_on_every_layer(name):
    result = profile(load_network(NETWORKS / f"{name}.yaml"), trace=True)
    for row in result.layers:
        assert row.macs_traced == row.macs_analytic, row.name
        assert row.elementwise_traced == row.elementwise_ops, row.name
        assert row.params_traced == row.params, row.name
        assert row.uncounted_ops == {}, row.name
    assert result.totals.macs_traced == result.totals.macs_analytic
    assert result.totals.macs_flop_counter == result.totals.macs_analytic
    assert result.totals.macs_fvcore == result.totals.macs_analytic  # the peer tool agrees too
    assert result.totals.traced_ok


def test_profile_json_contract(cli, tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    run = cli("profile", path, "--rounds", "2", "--min-time", "0.002", "--json")
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["schema"] == "sepprof.profile/1"
    assert doc["network"]["name"] == "tiny"
    names = [row["name"] for row in doc["layers"]]
    assert names[:4] == ["stem", "sep / depthwise", "sep / pointwise", "ir_1 / expand"]
    assert "ir_1 / se" in names and "ir_2 / residual" in names
    for row in doc["layers"]:
        assert row["macs_traced"] == row["macs_analytic"]
        assert row["latency_ms"]["cpu"]["median"] > 0
    assert doc["totals"]["latency_ms"]["cpu"]["median"] > 0
    kinds = {t["kind"] for t in doc["by_type"]}
    assert {"standard", "depthwise", "pointwise", "squeeze_excite", "fc"} <= kinds
    assert sum(t["macs"] for t in doc["by_type"]) == doc["totals"]["macs"]
    assert all(t["time_ms"]["cpu"] > 0 for t in doc["by_type"])


def test_profile_as_standard_reports_before_and_after(cli):
    run = cli("profile", NETWORKS / "mobilenet_v1.yaml", "--as", "standard", "--analytic")
    assert run.code == 0, run.err
    assert "as written:" in run.out and "--as standard: 8.56x more MACs" in run.out
    doc = cli(
        "profile", NETWORKS / "mobilenet_v1.yaml", "--as", "standard", "--analytic", "--json"
    ).json()
    assert doc["before"]["macs"] == 568_740_352
    assert doc["totals"]["macs"] == pytest.approx(4866e6, rel=1e-3)


def test_profile_as_separable_rewrites_standard_convs(cli):
    doc = cli(
        "profile", NETWORKS / "vgg16.yaml", "--as", "separable", "--analytic", "--json"
    ).json()
    kinds = {row["kind"] for row in doc["layers"]}
    assert "standard" not in kinds and "depthwise" in kinds
    assert doc["totals"]["macs"] < doc["before"]["macs"] / 7


def test_profile_table_shows_by_type_and_published(cli):
    run = cli("profile", NETWORKS / "mobilenet_v1.yaml", "--no-time")
    assert run.code == 0, run.err
    for text in [
        "By layer type",
        "depthwise",
        "pointwise",
        "94.86%",
        "3.06%",
        "published: 569M MACs",
        "traced ✓",
    ]:
        assert text in run.out, text


def test_width_and_resolution_flags(cli):
    doc = cli(
        "profile",
        NETWORKS / "mobilenet_v1.yaml",
        "--width-mult",
        "0.5",
        "--resolution",
        "160",
        "--analytic",
        "--json",
    ).json()
    assert doc["network"]["width_mult"] == 0.5 and doc["network"]["input"] == [3, 160, 160]
    assert doc["totals"]["macs"] / 1e6 == pytest.approx(76, abs=1)  # MobileNets Table 8


def test_analytic_profile_never_imports_torch(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\nfrom sepprof.cli import main\n"
        f"assert main(['profile', {str(NETWORKS / 'xception.yaml')!r}, '--analytic']) == 0\n"
        "assert 'torch' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as", "dense"], "--as: 'dense' is not one of standard, separable"),
        (["--width-mult", "0"], "--width-mult: must be > 0"),
        (["--resolution", "0"], "--resolution: must be a whole number from 1 to 8192"),
        (["--batch", "0"], "--batch: must be a whole number from 1 to 65536"),
    ],
)
def test_profile_bad_flags(cli, args, message):
    run = cli("profile", NETWORKS / "mobilenet_v1.yaml", "--analytic", *args)
    assert run.code == 2 and message in run.err and run.out == ""


def test_profile_missing_file_names_it(cli, tmp_path):
    run = cli("profile", tmp_path / "nope.yaml", "--analytic")
    assert run.code == 2 and "nope.yaml: file not found" in run.err


def test_options_are_applied_to_plan():
    net = load_network(NETWORKS / "mobilenet_v2.yaml")
    assert net.plan(Options(resolution=96)).inp.h == 96
