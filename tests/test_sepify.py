"""``sepify``: which convolutions are converted and why the others are not, the counts of the
converted layers (formula, analytic == traced), unchanged shapes, saving and the rendering."""

from __future__ import annotations

import json
from math import prod
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from nets import ResNet18Like, VGGLike, mlp
from torch import nn

from sepprof.commands.sepify import (
    ConversionError,
    SeparableConv2d,
    SepifyReport,
    convert,
    load_converted,
    save_converted,
    sepify,
)
from sepprof.errors import UserError
from sepprof.models.model import build_model
from sepprof.render.console import to_text
from sepprof.render.sepify import sepify_view
from sepprof.spec.ops import conv_out_size
from sepprof.timing.options import TimingOptions

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "models.py"
SHAPE = (1, 3, 32, 32)


def conv_shapes(model: nn.Module, x: torch.Tensor) -> dict[str, tuple[tuple, tuple]]:
    """(input shape, output shape) of every conv and separable replacement, by a plain hook."""
    seen: dict[str, tuple[tuple, tuple]] = {}
    names = {m: n for n, m in model.named_modules()}

    def hook(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        seen[names[module]] = (tuple(args[0].shape), tuple(out.shape))

    kinds = (nn.Conv2d, SeparableConv2d)
    hooks = [m.register_forward_hook(hook) for m in names if isinstance(m, kinds)]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    return seen


@pytest.fixture(scope="module")
def resnet() -> tuple[nn.Module, object]:
    torch.manual_seed(0)
    model = ResNet18Like(width=8).eval()
    return model, convert(model, SHAPE, name="resnet18-like")


def test_resnet_converts_every_kxk_conv_and_skips_the_1x1s(resnet):
    model, converted = resnet
    report = converted.report
    kxk = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] > 1]
    assert [c.name for c in report.converted] == kxk and len(kxk) == 17
    assert [(s.name, s.code) for s in report.skipped] == [
        (f"layer{i}.0.downsample.0", "pointwise") for i in (2, 3, 4)
    ]
    assert report.skipped[0].reason == "1x1 kernel (already pointwise)"
    assert report.skipped[0].op == "Conv2d 1x1/2 8->16"


def test_converted_layer_counts_follow_the_formula_and_the_trace(resnet):
    model, converted = resnet
    shapes = conv_shapes(model, torch.randn(*SHAPE))
    for layer in converted.report.converted:
        (_, cin, _, _), (_, cout, ho, wo) = shapes[layer.name]
        k = layer.k
        assert (layer.cin, layer.cout) == (cin, cout)
        assert layer.before.macs_analytic == ho * wo * cout * cin * k * k
        assert layer.after.macs_analytic == ho * wo * cin * k * k + ho * wo * cin * cout
        assert layer.before.params == cout * cin * k * k
        assert layer.after.params == cin * k * k + cin * cout
        for row in (layer.before, layer.after, *layer.after.stages):
            assert row.macs_traced == row.macs_analytic, (layer.name, row.name)
            assert row.macs_flop_counter == row.macs_analytic, (layer.name, row.name)
            assert row.elementwise_traced == row.elementwise_ops, (layer.name, row.name)
        assert [s.name for s in layer.after.stages] == ["depthwise", "pointwise"]


def test_whole_model_before_and_after(resnet):
    model, converted = resnet
    report = converted.report
    saved = report.macs_before - report.macs_after
    assert report.before.macs_analytic - report.after.macs_analytic == saved
    assert report.after.macs_traced == report.after.macs_analytic == report.after.macs_flop_counter
    new_params = sum(p.numel() for p in converted.model.parameters())
    assert report.after.params + report.after.norm_params == new_params
    assert report.before.params + report.before.norm_params == sum(
        p.numel() for p in model.parameters()
    )
    assert report.params_before - report.params_after == report.before.params - report.after.params


def test_shapes_are_unchanged_and_the_input_model_is_untouched(resnet):
    model, converted = resnet
    assert all(type(m) is not SeparableConv2d for m in model.modules())
    x = torch.randn(*SHAPE)
    before, after = conv_shapes(model, x), conv_shapes(converted.model, x)
    for layer in converted.report.converted:
        assert isinstance(converted.model.get_submodule(layer.name), SeparableConv2d)
        assert after[layer.name] == before[layer.name]
    with torch.no_grad():
        assert converted.model(x).shape == model(x).shape == (1, 10)


def test_report_serialises_and_renders(resnet):
    _, converted = resnet
    report = converted.report
    doc = report.to_dict()
    assert doc["schema"] == "sepprof.sepify/1"
    assert doc["converted_totals"]["layers"] == 17
    assert SepifyReport.from_dict(json.loads(json.dumps(doc))).to_dict() == doc
    model, _ = resnet
    kxk = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] > 1]
    assert report.params_before == sum(m.weight.numel() for m in kxk) == 172_824
    assert (
        report.params_after
        == 23_059
        == sum(m.in_channels * (m.kernel_size[0] ** 2 + m.out_channels) for m in kxk)
    )
    text = to_text(sepify_view(report), width=200)
    assert f"17 convs converted: 173K -> 23.1K params ({172_824 / 23_059:.2f}x fewer), " in text
    assert f"MACs ({report.macs_before / report.macs_after:.2f}x fewer); 3 skipped: 3 1x1" in text
    assert "layer4.1.conv2" in text and "3x3 64->64" in text
    assert "already pointwise" in text and "whole model:" in text


def test_bias_moves_to_the_pointwise_conv_and_bn_act_go_between():
    torch.manual_seed(0)
    model = VGGLike(width=8)
    converted = convert(model, SHAPE, bn=True, act="relu6")
    layer = converted.model.features[3]
    assert list(dict(layer.named_children())) == ["depthwise", "bn", "act", "pointwise"]
    assert isinstance(layer.act, nn.ReLU6) and layer.depthwise.bias is None
    assert torch.equal(layer.pointwise.bias, model.features[3].bias)
    first = converted.report.converted[0]
    cin, cout, hw = 3, 8, 32 * 32
    assert first.after.norm_params == 2 * cin
    assert first.after.params == cin * 9 + cin * cout + cout
    assert first.after.elementwise_ops == hw * (2 * cin + 2 * cin + cout)  # BN, ReLU6, bias
    assert all(r.traced_ok for c in converted.report.converted for r in (c.before, c.after))
    assert first.after.detail == "dw 3x3 + batchnorm + relu6 + pw 3->8"


class Erf(nn.Module):
    """An op with no counting rule."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.erf(x)


class Odd(nn.Module):
    """One conv of every kind sepify must leave alone, and the ones it converts exactly:
    non-square kernels, reflect padding, 'same' padding with an even kernel."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.grouped = nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.reflect = nn.Conv2d(16, 16, 3, padding=1, padding_mode="reflect")
        self.tall = nn.Conv2d(16, 16, (3, 1), padding=(1, 0))
        self.up = nn.ConvTranspose2d(16, 16, 3, padding=1)
        self.head = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.Conv2d(16, 8, 3, padding=1))
        self.shared = nn.Conv2d(8, 8, 3, padding=1)
        self.unused = nn.Conv2d(8, 8, 3)
        self.same = nn.Conv2d(8, 8, 4, padding="same")
        self.act = Erf()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in ("stem", "dw", "grouped", "reflect", "tall", "up", "head"):
            x = getattr(self, name)(x)
        return self.act(self.same(self.shared(self.shared(x))))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_skip_reasons():
    report = convert(Odd(), SHAPE, exclude=["head.1"], min_channels=3, trace=False).report
    assert [c.name for c in report.converted] == ["stem", "reflect", "tall", "head.0", "same"]
    skipped = {s.name: (s.code, s.reason) for s in report.skipped}
    assert skipped == {
        "dw": ("grouped", "groups=16 (already grouped or depthwise)"),
        "grouped": ("grouped", "groups=4 (already grouped or depthwise)"),
        "up": ("transposed", "transposed convolution (no depthwise + pointwise equivalent)"),
        "head.1": ("excluded", "excluded by --exclude 'head.1'"),
        "shared": ("shared", "ran 2 times per forward pass (a shared module)"),
        "unused": ("not_called", "did not run on this input"),
    }
    assert list(skipped) == ["dw", "grouped", "up", "head.1", "shared", "unused"]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_min_channels_and_exclude_a_parent():
    report = convert(Odd(), SHAPE, exclude=["head"], min_channels=8, trace=False).report
    skipped = {s.name: s.reason for s in report.skipped}
    assert skipped["stem"] == "3 input channels < --min-channels 8"
    assert skipped["head.0"] == skipped["head.1"] == "excluded by --exclude 'head'"
    assert [c.name for c in report.converted] == ["reflect", "tall", "same"]


def test_exclude_pattern_matching_nothing_is_noted():
    report = convert(VGGLike(), SHAPE, exclude=["*.conv*"], trace=False).report
    assert len(report.converted) == 6
    assert "--exclude '*.conv*' matched no convolution" in report.notes


def test_model_without_convolutions_has_nothing_to_convert():
    converted = convert(mlp(), (1, 3, 8, 8))
    assert converted.report.converted == () and converted.report.skipped == ()
    assert "nothing to convert: the model has no convolution" in to_text(
        sepify_view(converted.report)
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"act": "gelu"}, "--act: unknown activation 'gelu'"),
        ({"min_channels": 0}, "--min-channels: must be >= 1 (got 0)"),
        ({"exclude": [" "]}, "--exclude: empty pattern"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(UserError) as info:
        sepify(VGGLike(), **options)
    assert str(info.value).startswith(message)


class UsesWeight(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * self.conv.weight.mean()


def test_forward_that_needs_the_old_conv_is_a_conversion_error():
    with pytest.raises(ConversionError) as info:
        convert(UsesWeight(), SHAPE)
    message = str(info.value)
    assert message.startswith("sepify: the converted model's forward() raised AttributeError")
    assert "--exclude" in message and "\n" not in message
    assert len(convert(UsesWeight(), SHAPE, exclude=["conv"]).report.skipped) == 1


def test_sepify_api_copies_and_converts_without_a_shape():
    model = VGGLike()
    new = sepify(model, exclude=["features.0"])
    assert isinstance(new, nn.Module) and new is not model
    assert isinstance(model.features[3], nn.Conv2d)
    assert not isinstance(new.features[0], SeparableConv2d)
    assert sum(isinstance(m, SeparableConv2d) for m in new.modules()) == 5
    checked = sepify(model, input_shape=SHAPE)
    assert sum(isinstance(m, SeparableConv2d) for m in checked.modules()) == 6


def test_a_bare_conv_becomes_a_separable_conv():
    conv = nn.Conv2d(4, 6, 3, padding=1)
    new = sepify(conv, input_shape=(1, 4, 8, 8))
    assert isinstance(new, SeparableConv2d) and isinstance(conv, nn.Conv2d)


def test_save_and_load(tmp_path):
    model = ResNet18Like(width=4).eval()
    converted = convert(model, SHAPE, bn=True, act="relu", trace=False)
    path = save_converted(converted.model, converted.report, tmp_path / "sep.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["sep.pt"]  # no temp file left behind
    saved = torch.load(path, weights_only=True)
    assert set(saved) == {"state_dict", "sepprof"}
    assert saved["sepprof"]["options"] == {
        "exclude": [],
        "min_channels": 1,
        "bn": True,
        "act": "relu",
    }
    assert saved["state_dict"].keys() == converted.model.state_dict().keys()
    loaded = load_converted(ResNet18Like(width=4), path).eval()
    x = torch.randn(*SHAPE)
    with torch.no_grad():
        assert torch.equal(loaded(x), converted.model.eval()(x))
    with pytest.raises(UserError, match="does not fit this model"):
        load_converted(ResNet18Like(width=8), path)


def test_layer_and_model_timing():
    opts = TimingOptions(rounds=1, min_time=0.001, threads=1)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
    report = convert(model, (1, 3, 16, 16), trace=False, timing=opts).report
    for layer in report.converted:
        assert layer.before.latency_ms["cpu"].median > 0 < layer.after.latency_ms["cpu"].median
    assert report.before.latency_ms["cpu"].median > 0 < report.after.latency_ms["cpu"].median
    text = to_text(sepify_view(report), width=200)
    assert "cpu ms" in text and "whole model:" in text and " -> " in text


@given(
    cin=st.integers(1, 8),
    cout=st.integers(1, 8),
    k=st.sampled_from([2, 3, 5]),
    stride=st.integers(1, 2),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    size=st.integers(9, 14),
    bias=st.booleans(),
)
def test_any_standard_conv(cin, cout, k, stride, padding, dilation, size, bias):
    model = nn.Sequential(nn.Conv2d(cin, cout, k, stride, padding, dilation, bias=bias))
    converted = convert(model, (1, cin, size, size))
    (layer,) = converted.report.converted
    ho = conv_out_size(size, k, stride, padding, dilation)
    assert layer.after.macs_analytic == ho * ho * cin * k * k + ho * ho * cin * cout
    assert layer.before.macs_analytic == ho * ho * cout * cin * k * k
    assert layer.after.macs_traced == layer.after.macs_analytic
    assert layer.after.params == cin * k * k + cin * cout + (cout if bias else 0)
    with torch.no_grad():
        assert converted.model(torch.randn(1, cin, size, size)).shape == (1, cout, ho, ho)


@pytest.mark.parametrize(("factory", "n"), [("resnet18_like", 17), ("vgg_like", 8)])
def test_example_factories(factory, n):
    model = build_model(f"{EXAMPLES}:{factory}", {"num_classes": 10, "width": 8})
    report = convert(model, SHAPE).report
    assert len(report.converted) == n
    assert all(c.before.traced_ok and c.after.traced_ok for c in report.converted)
    assert report.after.traced_ok


@pytest.mark.parametrize(
    ("spec", "n"), [("torchvision.models:resnet18", 17), ("torchvision.models:vgg11", 8)]
)
def test_torchvision_models(spec, n):
    pytest.importorskip("torchvision", reason="torchvision is not installed")
    report = convert(build_model(spec, {"num_classes": 10}), (1, 3, 64, 64)).report
    assert len(report.converted) == n
    assert all(c.before.traced_ok and c.after.traced_ok for c in report.converted)


def test_timm_model():
    pytest.importorskip("timm", reason="timm is not installed")
    model = build_model("timm:create_model", {"model_name": "resnet18", "num_classes": 10})
    report = convert(model, (1, 3, 64, 64)).report
    assert len(report.converted) == 17
    assert all(c.before.traced_ok and c.after.traced_ok for c in report.converted)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_ops_the_tracer_cannot_count_are_named():
    report = convert(Odd(), SHAPE).report
    assert (
        "whole model: ops the tracer could not count (their rows are left out): "
        "aten::erf ×1" in report.notes
    )


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(
    ("factory", "shape", "names"),
    [
        ("NonSquare", (1, 3, 12, 20), ["a", "b", "c"]),
        ("Conv3dNet", (1, 3, 4, 10, 10), ["conv1", "conv2"]),
        ("Conv1dNet", (2, 4, 33), ["conv1"]),
    ],
)
def test_any_rank_geometry_and_padding_mode_converts_exactly(factory, shape, names):
    """Depthwise with the same kernel, stride, padding, padding mode and dilation, then
    pointwise: same output shapes, counts that follow the formula and the trace."""
    import zoo

    model = getattr(zoo, factory)()
    done = convert(model, shape, bn=True, act="relu")
    report = done.report
    assert [c.name for c in report.converted] == names
    for layer in report.converted:
        conv = model.get_submodule(layer.name)
        new = done.model.get_submodule(layer.name)
        dw, pw = new.depthwise, new.pointwise
        assert (dw.kernel_size, dw.stride, dw.padding, dw.dilation, dw.padding_mode) == (
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.padding_mode,
        )
        assert dw.groups == conv.in_channels and pw.kernel_size == (1,) * len(conv.kernel_size)
        assert layer.before.traced_ok and layer.after.traced_ok, layer.name
        k = prod(conv.kernel_size)
        assert layer.before.params == conv.out_channels * conv.in_channels * k + (
            conv.out_channels if conv.bias is not None else 0
        )
    with torch.no_grad():
        assert done.model.eval()(torch.zeros(shape)).shape == model.eval()(torch.zeros(shape)).shape


def test_sepify_activations_are_the_op_kinds_activations():
    from typing import get_args

    from sepprof.results.sepify import ACTIVATIONS
    from sepprof.spec.ops import ActKind

    assert get_args(ActKind) == ACTIVATIONS
