"""Any PyTorch model: loading factories (and every way that can go wrong), --input and --kwargs,
and ``profile_model``'s rows checked against the trace, the formulas and the module tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from nets import ResNet18Like, VGGLike, mlp
from torch import nn

from sepprof.commands.model_profile import profile_model
from sepprof.errors import UserError
from sepprof.models.model import (
    build_model,
    load_factory,
    parse_inputs,
    parse_kwargs,
    run_forward,
)
from sepprof.render.console import profile_view, to_text
from sepprof.results import ProfileResult
from sepprof.spec.ops import conv_out_size
from sepprof.timing.options import TimingOptions

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "models.py"


def user_module(tmp_path, monkeypatch, name: str, source: str) -> str:
    """Write ``name.py`` into a folder on sys.path; returns the module name."""
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


# --- --input and --kwargs -----------------------------------------------------------------------


def test_parse_inputs_any_rank_repeatable_with_dtypes():
    one = parse_inputs(["1,3,224,224"], None)
    assert [tuple(t.shape) for t in one.args] == [(1, 3, 224, 224)] and one.kwargs == {}
    assert one.args[0].dtype == torch.float32 and one.batch == 1
    two = parse_inputs([" 2, 3, 32 ", "2,77:int64", "2,77:bool"], None)
    assert [tuple(t.shape) for t in two.args] == [(2, 3, 32), (2, 77), (2, 77)]
    assert [t.dtype for t in two.args] == [torch.float32, torch.int64, torch.bool]
    assert int(two.args[1].abs().sum()) == 0  # token ids valid for any vocabulary
    assert two.text == "2, 3, 32 2,77:int64 2,77:bool" and two.batch == 2
    assert tuple(parse_inputs([], None).args[0].shape) == (1, 3, 224, 224)  # the default
    assert parse_inputs(["8:fp16"], None).args[0].dtype == torch.float16


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,3,2,2", "expected a shape of positive integers"),
        ("1,0,2,2", "expected a shape of positive integers"),
        ("1,-3,2,2", "expected a shape of positive integers"),
        ("", "expected a shape of positive integers"),
        ("1,3:int65", "unknown dtype 'int65'"),
    ],
)
def test_parse_inputs_rejects(text, message):
    with pytest.raises(UserError) as info:
        parse_inputs([text], None)
    assert one_line_error(info).startswith(f"--input {text}: {message}")


def test_inputs_from_a_function(tmp_path):
    path = tmp_path / "make.py"
    path.write_text(
        "import torch\n"
        "def both():\n    return (torch.zeros(2, 5, dtype=torch.long),), {'scale': torch.ones(1)}\n"
        "def one():\n    return torch.ones(1, 3, 8, 8)\n"
        "def named():\n    return {'tokens': torch.zeros(1, 4, dtype=torch.long)}\n"
        "def bad():\n    return 3\n"
        "def boom():\n    raise ValueError('no data')\n"
    )
    both = parse_inputs([], f"{path}:both")
    assert tuple(both.args[0].shape) == (2, 5) and set(both.kwargs) == {"scale"}
    assert tuple(parse_inputs([], f"{path}:one").args[0].shape) == (1, 3, 8, 8)
    assert set(parse_inputs([], f"{path}:named").kwargs) == {"tokens"}
    with pytest.raises(UserError, match=rf"^--inputs {path}:bad: returned a int"):
        parse_inputs([], f"{path}:bad")
    with pytest.raises(UserError, match=rf"^--inputs {path}:boom: the function raised ValueError"):
        parse_inputs([], f"{path}:boom")
    with pytest.raises(UserError, match=rf"^--inputs {path}:nope: .* has no attribute 'nope'"):
        parse_inputs([], f"{path}:nope")
    with pytest.raises(UserError, match=r"^--inputs: give --input shapes or --inputs"):
        parse_inputs(["1,3"], f"{path}:one")


def test_parse_kwargs():
    assert parse_kwargs('{"num_classes": 10, "width": 8}') == {"num_classes": 10, "width": 8}
    assert parse_kwargs(None) == {}
    with pytest.raises(UserError, match=r"^--kwargs: not valid JSON"):
        parse_kwargs("{num_classes: 10}")
    with pytest.raises(UserError, match=r"^--kwargs: must be a JSON object"):
        parse_kwargs("[10]")


# --- loading factories ----------------------------------------------------------------------------


def test_missing_module_names_it():
    with pytest.raises(UserError) as info:
        load_factory("torchvisoin.models:resnet18")
    assert (
        one_line_error(info) == "--model torchvisoin.models:resnet18: no module named 'torchvisoin'"
    )
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_missing_attribute_suggests_a_name(tmp_path, monkeypatch):
    mod = user_module(tmp_path, monkeypatch, "zoo_a", "def resnet18():\n    pass\n")
    with pytest.raises(UserError) as info:
        load_factory(f"{mod}:resnet81")
    assert one_line_error(info) == (
        "--model zoo_a:resnet81: zoo_a has no attribute 'resnet81' (did you mean 'resnet18'?)"
    )


def test_module_whose_own_import_fails(tmp_path, monkeypatch):
    mod = user_module(tmp_path, monkeypatch, "zoo_b", "import not_installed_xyz\n")
    with pytest.raises(UserError) as info:
        load_factory(f"{mod}:f")
    assert one_line_error(info) == (
        "--model zoo_b:f: importing zoo_b raised ModuleNotFoundError: "
        "No module named 'not_installed_xyz'"
    )


def test_module_that_raises_on_import(tmp_path, monkeypatch):
    mod = user_module(tmp_path, monkeypatch, "zoo_c", "raise RuntimeError('no GPU here')\n")
    with pytest.raises(
        UserError, match=r"^--model zoo_c:f: importing zoo_c raised RuntimeError: no GPU"
    ):
        load_factory(f"{mod}:f")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("resnet18", "--model resnet18: expected package.module:factory"),
        ("m:", "--model m:: expected package.module:factory"),
        ("no/such/file.py:f", "--model no/such/file.py:f: no such file no/such/file.py"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(UserError) as info:
        load_factory(spec)
    assert one_line_error(info).startswith(message)


def test_attribute_that_is_not_callable(tmp_path, monkeypatch):
    mod = user_module(tmp_path, monkeypatch, "zoo_d", "WIDTH = 3\n")
    with pytest.raises(UserError, match=r"WIDTH is a int, not a function or class"):
        load_factory(f"{mod}:WIDTH")


def test_factory_that_raises_shows_its_error_in_one_line(tmp_path, monkeypatch):
    source = "def net(width=8):\n    raise ValueError('width must be even\\nsecond line')\n"
    mod = user_module(tmp_path, monkeypatch, "zoo_e", source)
    with pytest.raises(UserError) as info:
        build_model(f"{mod}:net", {"width": 3})
    assert one_line_error(info) == (
        "--model zoo_e:net: the factory raised ValueError: width must be even"
    )
    assert isinstance(info.value.__cause__, ValueError)


def test_factory_with_a_wrong_keyword(tmp_path, monkeypatch):
    mod = user_module(tmp_path, monkeypatch, "zoo_f", "def net(width=8):\n    pass\n")
    with pytest.raises(UserError, match=r"the factory raised TypeError: .*unexpected keyword"):
        build_model(f"{mod}:net", {"depth": 3})


def test_factory_returning_something_else(tmp_path, monkeypatch):
    mod = user_module(tmp_path, monkeypatch, "zoo_g", "def net():\n    return 42\n")
    with pytest.raises(UserError, match=r"the factory returned a int, not a torch.nn.Module"):
        build_model(f"{mod}:net")


def test_build_model_from_a_file_with_kwargs_in_eval_mode():
    model = build_model(f"{EXAMPLES}:resnet18_like", {"num_classes": 7, "width": 8})
    assert not model.training
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 7)


def test_build_model_from_a_module_path(tmp_path, monkeypatch):
    source = "from torch import nn\n\ndef net(c=4):\n    return nn.Conv2d(3, c, 3)\n"
    mod = user_module(tmp_path, monkeypatch, "zoo_h", source)
    model = build_model(f"{mod}:net", json.loads('{"c": 5}'))
    assert isinstance(model, nn.Conv2d) and model.out_channels == 5


def test_model_instance_is_used_as_it_is(tmp_path, monkeypatch):
    source = "from torch import nn\n\nNET = nn.Linear(4, 2).train()\n"
    mod = user_module(tmp_path, monkeypatch, "zoo_i", source)
    assert isinstance(build_model(f"{mod}:NET"), nn.Linear)
    with pytest.raises(UserError, match=r"^--kwargs: "):
        build_model(f"{mod}:NET", {"x": 1})


def test_input_the_model_rejects():
    with pytest.raises(UserError) as info:
        run_forward(VGGLike(), parse_inputs(["1,1,32,32"], None))
    assert one_line_error(info).startswith(
        "--input 1,1,32,32: the model's forward() raised RuntimeError"
    )
    with pytest.raises(UserError, match=r"^--input 1,1,32,32: "):
        profile_model(VGGLike(), (1, 1, 32, 32))


# --- profile_model ----------------------------------------------------------------------------------


def output_shapes(model: nn.Module, x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Each module's output shape, seen by a plain forward hook (independent of sepprof)."""
    shapes: dict[str, tuple[int, ...]] = {}
    names = {m: n for n, m in model.named_modules()}

    def hook(module: nn.Module, args: object, out: torch.Tensor) -> None:
        shapes.setdefault(names[module], tuple(out.shape))

    hooks = [m.register_forward_hook(hook) for m in names]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    return shapes


@pytest.fixture(scope="module")
def resnet_result() -> tuple[nn.Module, ProfileResult]:
    torch.manual_seed(0)
    model = ResNet18Like(num_classes=10, width=8)
    return model, profile_model(model, (2, 3, 64, 64), name="tests:resnet18")


def test_resnet_rows_match_formulas_and_the_trace(resnet_result):
    model, result = resnet_result
    shapes = output_shapes(model, torch.randn(2, 3, 64, 64))
    rows = {r.name: r for r in result.layers}
    convs = {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    assert len(convs) == 20 and set(convs) <= set(rows)
    for name, conv in convs.items():
        n, cout, ho, wo = shapes[name]
        k = conv.kernel_size[0]
        assert rows[name].macs_analytic == n * ho * wo * cout * conv.in_channels * k * k, name
        assert rows[name].params == cout * conv.in_channels * k * k
    assert rows["conv1"].kind == "standard" and rows["layer2.0.downsample.0"].kind == "pointwise"
    assert rows["fc"].macs_analytic == 2 * 64 * 10 and rows["fc"].kind == "fc"
    for row in result.layers:
        if row.kind == "other" or row.detail == "ops in forward()":
            continue
        assert row.macs_traced == row.macs_analytic, row.name
        assert row.elementwise_traced == row.elementwise_ops, row.name
        assert row.macs_flop_counter == row.macs_analytic, row.name


def test_resnet_residual_adds_are_forward_rows(resnet_result):
    model, result = resnet_result
    shapes = output_shapes(model, torch.randn(2, 3, 64, 64))
    adds = [r for r in result.layers if r.name.endswith("(forward)")]
    assert len(adds) == 8
    for row in adds:
        block = row.name.removesuffix(" (forward)")
        n, c, h, w = shapes[block]
        assert row.kind == "elementwise" and row.elementwise_ops == n * c * h * w  # one add each
    assert "(forward)" in " ".join(result.notes)
    relu = next(r for r in result.layers if r.name == "layer1.0.relu")
    assert relu.detail == "relu ×2 calls" and relu.elementwise_ops == 2 * 2 * 8 * 16 * 16


def test_resnet_totals_are_sums_of_rows_and_agree_with_both_counters(resnet_result):
    model, result = resnet_result
    t = result.totals
    assert t.macs_analytic == sum(r.macs_analytic for r in result.layers)
    assert t.elementwise_ops == sum(r.elementwise_ops for r in result.layers)
    assert t.macs_traced == t.macs_analytic == t.macs_flop_counter
    assert t.elementwise_traced == t.elementwise_ops
    assert t.params + t.norm_params == sum(p.numel() for p in model.parameters())
    assert t.traced_ok
    assert sum(s.macs for s in result.by_type) == t.macs_analytic
    kinds = [s.kind for s in result.by_type]
    assert kinds[:3] == ["standard", "pointwise", "fc"] and {"pool", "elementwise"} <= set(kinds)


def test_resnet_result_renders_and_serialises(resnet_result):
    _, result = resnet_result
    text = to_text(profile_view(result))
    assert "tests:resnet18" in text and "layer4.1.conv2" in text and "traced ✓" in text
    doc = result.to_dict()
    assert doc["schema"] == "sepprof.profile/1" and doc["network"]["input"] == [3, 64, 64]
    assert ProfileResult.from_dict(json.loads(json.dumps(doc))).to_dict() == doc


def test_vgg_counts_bias_and_skips_dropout():
    model = VGGLike(width=8)
    result = profile_model(model, (1, 3, 32, 32))
    rows = {r.name: r for r in result.layers}
    assert "classifier.3" not in rows and "classifier.0" not in rows  # dropout, flatten
    first = rows["features.0"]
    assert first.elementwise_ops == 8 * 32 * 32  # the bias: one add per output element
    assert first.params == 8 * 3 * 9 + 8
    assert (
        result.totals.traced_ok and result.totals.macs_flop_counter == result.totals.macs_analytic
    )
    assert result.totals.params == sum(p.numel() for p in model.parameters())


def test_profile_leaves_the_model_in_its_mode_and_running_stats_alone():
    model = ResNet18Like(width=4).train()
    before = model.bn1.running_mean.clone()
    profile_model(model, (1, 3, 32, 32), trace=False)
    assert model.training and torch.equal(model.bn1.running_mean, before)


class NonSquare(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, (1, 7), padding=(0, 3))
        self.act = Erf()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class Erf(nn.Module):
    """An op with no counting rule."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.erf(x)


def test_non_square_convs_are_analytic_and_a_row_of_ops_without_a_rule_is_na():
    """The Erf row ran nothing but an op with no rule: nothing in it is known, so n/a (never
    0); the total keeps the conv and is a lower bound."""
    result = profile_model(NonSquare(), (1, 3, 16, 16))
    conv, erf = result.layers
    assert conv.kind == "standard" and conv.macs_analytic == 16 * 16 * 8 * 3 * 7
    assert conv.traced_ok and conv.detail.startswith("1x7/1x1 pad 0x3")
    assert erf.macs_analytic is None and erf.elementwise_ops is None  # n/a, never 0
    assert erf.uncounted_ops == {"aten::erf": 1} and not erf.complete
    assert erf.to_dict()["macs"] is None and erf.to_dict()["complete"] is False
    notes = " ".join(result.notes)
    assert "the totals are a lower bound: act" in notes
    assert result.totals.macs_analytic == conv.macs_analytic == result.totals.macs_traced
    assert result.totals.uncounted_ops == {"aten::erf": 1} and not result.totals.complete


def test_without_the_trace_nothing_is_guessed():
    result = profile_model(NonSquare(), (1, 3, 16, 16), trace=False)
    conv, erf = result.layers
    assert conv.macs_analytic == 16 * 16 * 8 * 3 * 7 and erf.macs_analytic is None
    model = ResNet18Like(width=4)
    result = profile_model(model, (1, 3, 32, 32), trace=False)
    assert all(r.macs_traced is None for r in result.layers)
    assert not any(r.name.endswith("(forward)") for r in result.layers)
    assert "ops in forward() code (residual adds, functional calls, attention) are not counted" in (
        " ".join(result.notes)
    )
    assert result.totals.params + result.totals.norm_params == sum(
        p.numel() for p in model.parameters()
    )


def test_model_without_convolutions_profiles_its_linear_layers():
    result = profile_model(mlp(), (2, 3, 8, 8))
    assert [r.kind for r in result.layers] == ["fc", "elementwise", "fc"]
    assert result.totals.macs_analytic == 2 * (192 * 16 + 16 * 4) == result.totals.macs_traced


def test_model_that_counts_nothing_is_an_error():
    with pytest.raises(UserError, match="no layer that sepprof can count ran"):
        profile_model(nn.Sequential(nn.Identity()), (1, 3, 8, 8))


def test_linear_on_tokens_counts_every_token():
    model = nn.Sequential(nn.Flatten(2), Transpose(), nn.Linear(3, 5))
    result = profile_model(model, (2, 3, 4, 4))
    fc = next(r for r in result.layers if r.kind == "fc")
    assert fc.macs_analytic == 2 * 16 * 3 * 5 == fc.macs_traced


class Transpose(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


def test_whole_network_timing():
    opts = TimingOptions(rounds=1, min_time=0.001, threads=1)
    model = ResNet18Like(width=4)
    result = profile_model(model, (1, 3, 32, 32), trace=False, timing=opts, layer_times="off")
    assert result.totals.latency_ms["cpu"].median > 0
    assert all(not r.latency_ms for r in result.layers)
    assert "timed whole" in " ".join(result.notes)


@given(
    cin=st.integers(1, 6),
    cout=st.integers(1, 6),
    k=st.integers(1, 5),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    size=st.integers(7, 12),
    bias=st.booleans(),
)
def test_any_square_conv_matches_pytorchs_shape_and_the_trace(
    cin, cout, k, stride, padding, dilation, size, bias
):
    assume(size + 2 * padding >= dilation * (k - 1) + 1)  # PyTorch refuses a larger kernel
    conv = nn.Conv2d(cin, cout, k, stride, padding, dilation, bias=bias)
    (row,) = profile_model(nn.Sequential(conv), (1, cin, size, size)).layers
    ho = conv_out_size(size, k, stride, padding, dilation)
    assert row.macs_analytic == ho * ho * cout * cin * k * k == row.macs_traced
    assert row.elementwise_ops == (ho * ho * cout if bias else 0) == row.elementwise_traced
    assert row.shape == f"{cout}x{ho}x{ho}"


# --- the example factories and, where installed, torchvision and timm -----------------------------


@pytest.mark.parametrize("factory", ["resnet18_like", "vgg_like"])
def test_example_factories(factory):
    model = build_model(f"{EXAMPLES}:{factory}", {"num_classes": 10, "width": 8})
    result = profile_model(model, (1, 3, 32, 32), name=factory)
    assert result.totals.traced_ok
    assert result.totals.params + result.totals.norm_params == sum(
        p.numel() for p in model.parameters()
    )
    assert not any(r.kind == "other" for r in result.layers)


@pytest.mark.parametrize("spec", ["torchvision.models:resnet18", "torchvision.models:mobilenet_v2"])
def test_torchvision_models(spec):
    pytest.importorskip("torchvision", reason="torchvision is not installed")
    model = build_model(spec, {"num_classes": 10})
    result = profile_model(model, (1, 3, 64, 64))
    assert result.totals.traced_ok
    assert all(r.traced_ok for r in result.layers if r.macs_traced is not None)


def test_timm_model():
    pytest.importorskip("timm", reason="timm is not installed")
    model = build_model("timm:create_model", {"model_name": "resnet18", "num_classes": 10})
    result = profile_model(model, (1, 3, 64, 64))
    assert result.totals.macs_traced == result.totals.macs_analytic


def test_file_with_a_syntax_error(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def net(:\n")
    with pytest.raises(UserError) as info:
        load_factory(f"{path}:net")
    assert one_line_error(info).startswith(f"--model {path}:net: running {path} raised SyntaxError")


class WithSpare(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.spare = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_parameters_that_did_not_run_are_counted_and_named():
    result = profile_model(WithSpare(), (1, 3, 8, 8))
    spare = result.layers[-1]
    assert spare.name == "spare (did not run)" and spare.params == 4 * 4 + 4
    assert "parameters that no op used on this input (counted, 0 MACs): spare (did not run)" in (
        result.notes
    )
    assert result.totals.params == 4 * 3 * 9 + 4 + 4 * 4 + 4
    assert result.totals.traced_ok


def test_string_padding_is_counted_analytically_and_traced():
    (row,) = profile_model(nn.Sequential(nn.Conv2d(3, 8, 3, padding="same")), (1, 3, 16, 16)).layers
    assert row.macs_analytic == row.macs_traced == 16 * 16 * 8 * 3 * 9
    assert row.uncounted_ops == {} and row.traced_ok


class RefusesToBeWatched(nn.Module):
    """A forward that fails under a dispatch mode only: the counting pass fails, a plain one
    does not."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torch.utils._python_dispatch import _get_current_dispatch_mode

        if _get_current_dispatch_mode() is not None:
            raise RuntimeError("watched")
        return self.conv(x)


def test_a_model_the_tracer_cannot_run_is_counted_analytically_and_says_so():
    result = profile_model(RefusesToBeWatched(), (1, 3, 8, 8))
    (row,) = result.layers
    assert row.macs_analytic == 6 * 6 * 4 * 3 * 9 and row.macs_traced is None
    assert result.notes[0] == "tracing failed, so counts are analytic only: RuntimeError: watched"
