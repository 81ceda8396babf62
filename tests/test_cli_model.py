"""``sepprof profile --model`` and ``sepprof sepify`` through the real entry point."""

from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "models.py"


def test_profile_model_rows_and_totals(cli):
    run = cli(
        "profile", "--model", f"{EXAMPLES}:vgg_like", "--input", "1,3,32,32", "--no-time", "--json"
    )
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["schema"] == "sepprof.profile/1"
    convs = [r for r in doc["layers"] if r["kind"] == "standard"]
    assert convs and all(r["macs_traced"] == r["macs_analytic"] for r in convs)
    assert doc["totals"]["macs"] == sum(r["macs"] for r in doc["layers"])
    assert doc["totals"]["macs_flop_counter"] == doc["totals"]["macs"]


def test_sepify_converts_saves_and_reloads(cli, tmp_path):
    saved = tmp_path / "converted.pt"
    run = cli(
        "sepify",
        "--model",
        f"{EXAMPLES}:resnet18_like",
        "--input",
        "1,3,32,32",
        "--no-time",
        "--exclude",
        "0",
        "--save",
        saved,
        "--json",
    )
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["schema"] == "sepprof.sepify/1"
    names = [c["name"] for c in doc["converted"]]
    assert "0" not in names and len(names) == 16
    assert any(s["name"] == "0" and s["code"] == "excluded" for s in doc["skipped"])
    state = torch.load(saved, weights_only=True)
    assert state["sepprof"]["converted"][0]["name"] == names[0]
    assert any(k.endswith(".0.weight") for k in state["state_dict"])


def test_sepify_table_and_timing(cli):
    run = cli(
        "sepify",
        "--model",
        f"{EXAMPLES}:vgg_like",
        "--input",
        "1,3,32,32",
        "--rounds",
        "2",
        "--min-time",
        "0.002",
        "--threads",
        "1",
    )
    assert run.code == 0, run.err
    for text in ["Converted layers", "convs converted", "whole model", "cpu ms", "speed"]:
        assert text in run.out, text


def test_nothing_to_convert_exits_0(cli, tmp_path):
    path = tmp_path / "mlp.py"
    path.write_text(
        "import torch.nn as nn\n\ndef mlp():\n    return nn.Sequential(nn.Flatten(), "
        "nn.Linear(12, 4))\n"
    )
    run = cli("sepify", "--model", f"{path}:mlp", "--input", "1,3,2,2", "--no-time")
    assert run.code == 0, run.err
    assert "nothing to convert: the model has no convolution" in run.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--model", "no_such_pkg.models:f"],
            "--model no_such_pkg.models:f: no module named 'no_such_pkg'",
        ),
        (
            ["--model", "EX:resnet18_lik"],
            "has no attribute 'resnet18_lik' (did you mean 'resnet18_like'?)",
        ),
        (["--model", "EX:resnet18_like", "--input", "1,3,x,32"], "--input"),
        (
            ["--model", "EX:resnet18_like", "--input", "1,5,32,32"],
            "--input 1,5,32,32: the model's forward() raised RuntimeError",
        ),
        (["--model", "EX:resnet18_like", "--kwargs", "{bad"], "--kwargs"),
        (
            ["--model", "EX:resnet18_like", "--kwargs", '{"nope": 1}'],
            "the factory raised TypeError",
        ),
        (["--model", "nocolon"], "--model nocolon: expected package.module:factory"),
        (["--model", "EX:resnet18_like", "--input", "1,3,8,8:int99"], "unknown dtype 'int99'"),
        (["--model", "EX:resnet18_like", "--inputs", "EX:nope"], "--inputs EX:nope: "),
        (
            ["--model", "EX:resnet18_like", "--input", "1,3,8,8", "--inputs", "EX:vgg_like"],
            "--inputs: give --input shapes or --inputs FILE.py:function, not both",
        ),
    ],
)
def test_model_errors_exit_2_in_one_line(cli, args, message):
    args = [a.replace("EX", str(EXAMPLES)) for a in args]
    for command in ("profile", "sepify"):
        run = cli(command, *args, "--no-time")
        assert run.code == 2, (command, run.err)
        assert message.replace("EX", str(EXAMPLES)) in run.err, run.err
        assert len(run.err.strip().splitlines()) == 1
        assert "Traceback" not in run.err


def test_debug_shows_the_factory_traceback(cli):
    run = cli(
        "--debug",
        "sepify",
        "--model",
        f"{EXAMPLES}:resnet18_like",
        "--kwargs",
        '{"nope": 1}',
        "--no-time",
    )
    assert run.code == 2
    assert "Traceback" in run.err and "TypeError" in run.err


def test_profile_needs_exactly_one_source(cli):
    run = cli("profile", "--analytic")
    assert run.code == 2 and "give a network YAML file or --model" in run.err


def test_a_factory_that_exits_is_an_error_not_a_silent_success(cli, tmp_path):
    path = tmp_path / "quits.py"
    path.write_text("import sys\n\ndef net():\n    sys.exit(0)\n")
    run = cli("profile", "--model", f"{path}:net", "--no-time")
    assert run.code == 2 and "SystemExit" in run.err


def test_save_never_overwrites_without_force(cli, tmp_path):
    saved = tmp_path / "model.pt"
    saved.write_text("the user's file")
    args = [
        "sepify",
        "--model",
        f"{EXAMPLES}:vgg_like",
        "--input",
        "1,3,32,32",
        "--no-time",
        "--save",
        saved,
    ]
    run = cli(*args)
    assert run.code == 2 and "already exists; pass --force" in run.err
    assert saved.read_text() == "the user's file"
    assert cli(*args, "--force").code == 0
    assert torch.load(saved, weights_only=True)["sepprof"]["converted"]
    run = cli("sepify", "--model", f"{EXAMPLES}:vgg_like", "--save", tmp_path, "--no-time")
    assert run.code == 2 and "is a folder" in run.err


def test_input_and_kwargs_only_with_model(cli):
    net = Path(__file__).resolve().parents[1] / "configs" / "networks" / "mobilenet_v1.yaml"
    run = cli("profile", net, "--input", "1,3,32,32", "--analytic")
    assert run.code == 2 and "--input: only for --model" in run.err


ZOO = Path(__file__).resolve().parent / "zoo.py"


def test_profile_the_issues_module_list_model(cli):
    """Two convs in an nn.ModuleList iterated in forward(): 50,688 MACs, not twice that."""
    run = cli(
        "profile", "--model", f"{ZOO}:ModuleListNet", "--input", "1,3,8,8", "--no-time", "--json"
    )
    assert run.code == 0, run.err
    assert run.json()["totals"]["macs"] == 50_688


def test_profile_token_and_several_inputs(cli, tmp_path):
    run = cli("profile", "--model", f"{ZOO}:TiedLM", "--input", "2,7:int64", "--no-time", "--json")
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["totals"]["macs"] == 2 * 7 * (16 * 16 + 16 * 50)
    assert doc["network"]["inputs"] == "2,7:int64" and doc["network"]["input_shapes"] == [[2, 7]]
    make = tmp_path / "make.py"
    make.write_text(
        "import torch\n"
        "def make_inputs():\n"
        "    return (torch.zeros(1, 5, dtype=torch.long),), {'scale': torch.ones(1)}\n"
    )
    run = cli("profile", "--model", f"{ZOO}:TiedLM", "--inputs", f"{make}:make_inputs", "--no-time")
    assert run.code == 0, run.err
    assert "make_inputs" in run.out


def test_conv1d_model_with_a_rank_3_input(cli):
    run = cli("sepify", "--model", f"{ZOO}:Conv1dNet", "--input", "2,4,33", "--no-time", "--json")
    assert run.code == 0, run.err
    doc = run.json()
    assert [c["name"] for c in doc["converted"]] == ["conv1"]
    assert doc["skipped"][0]["name"] == "conv2" and doc["skipped"][0]["code"] == "grouped"
