"""The analytic model against DESIGN.md's formulas and the worked example from the literature."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sepprof.count.costs import block_cost, op_cost, separable_theory_ratio
from sepprof.spec.blocks import layer_variant
from sepprof.spec.layer import LayerSpec, parse_variant
from sepprof.spec.ops import Act, Add, BatchNorm, Conv, Linear, Mul, Pool, Shape, conv_out_size


def variant_cost(variant: str, **layer):
    return block_cost(layer_variant(LayerSpec(**layer), parse_variant(variant)))


def test_worked_example_k3_256_channels():
    std = variant_cost("standard", k=3, cout=256, size=56)
    sep = variant_cost("separable", k=3, cout=256, size=56)
    assert std.macs == 1_849_688_064
    assert sep.macs == 212_746_240
    assert std.params == 589_824
    assert sep.params == 67_840
    assert sep.macs / std.macs == pytest.approx(0.115, abs=5e-4)
    assert std.macs / sep.macs == pytest.approx(8.69, abs=0.01)
    assert separable_theory_ratio(256, 3) == pytest.approx(sep.macs / std.macs)


def test_flops_are_twice_macs():
    assert variant_cost("standard").flops == 2 * 1_849_688_064


@pytest.mark.parametrize(
    ("size", "k", "stride", "padding", "dilation", "out"),
    [
        (56, 3, 1, 1, 1, 56),
        (224, 3, 2, 1, 1, 112),
        (299, 3, 2, 0, 1, 149),
        (7, 7, 1, 0, 1, 1),
        (10, 3, 1, 2, 2, 10),
        (5, 1, 2, 0, 1, 3),
    ],
)
def test_conv_out_size(size, k, stride, padding, dilation, out):
    assert conv_out_size(size, k, stride, padding, dilation) == out


def test_depthwise_pointwise_grouped_formulas():
    x = Shape(32, 112, 112)
    dw = op_cost(Conv(x, 32, 3, 1, 1, groups=32))
    assert (dw.macs, dw.params) == (112 * 112 * 32 * 9, 32 * 9)
    pw = op_cost(Conv(x, 64, 1))
    assert (pw.macs, pw.params) == (112 * 112 * 32 * 64, 32 * 64)
    grouped = op_cost(Conv(x, 64, 3, 1, 1, groups=4))
    assert (grouped.macs, grouped.params) == (112 * 112 * 64 * 8 * 9, 64 * 8 * 9)
    assert Conv(x, 32, 3, groups=32).kind == "depthwise"
    assert Conv(x, 64, 3, groups=4).kind == "grouped"
    assert Conv(x, 64, 1).kind == "pointwise"
    assert Conv(x, 64, 3).kind == "standard"


def test_batch_scales_macs_and_bytes_not_params():
    one = op_cost(Conv(Shape(16, 8, 8), 16, 3, padding=1), batch=1)
    four = op_cost(Conv(Shape(16, 8, 8), 16, 3, padding=1), batch=4)
    assert four.macs == 4 * one.macs and four.params == one.params
    assert four.bytes == one.bytes + 3 * (16 * 64 * 2) * 4


def test_elementwise_rule_and_bias():
    x = Shape(8, 4, 4)
    assert op_cost(BatchNorm(x)).eltwise == 2 * 128
    assert op_cost(BatchNorm(x)).norm_params == 16 and op_cost(BatchNorm(x)).params == 0
    assert op_cost(Act(x, "relu")).eltwise == 128
    assert op_cost(Act(x, "relu6")).eltwise == 256
    assert op_cost(Act(x, "silu")).eltwise == 4 * 128
    assert op_cost(Add(x)).eltwise == 128
    assert op_cost(Mul(x)).eltwise == 128
    assert op_cost(Pool(x, "max", 2, 2)).eltwise == 8 * 2 * 2 * 3
    assert op_cost(Pool(x, "avg", global_=True)).eltwise == 128
    conv = op_cost(Conv(x, 8, 1, bias=True))
    assert (conv.macs, conv.params, conv.eltwise) == (128 * 8, 8 * 8 + 8, 128)
    fc = op_cost(Linear(x, 10))
    assert (fc.macs, fc.params, fc.eltwise) == (128 * 10, 128 * 10 + 10, 10)


def test_bytes_are_input_output_weights():
    conv = Conv(Shape(256, 56, 56), 256, 3, padding=1, groups=256)
    cost = op_cost(conv, itemsize=4)
    assert cost.bytes == (2 * 256 * 56 * 56 + 256 * 9) * 4
    assert cost.intensity == pytest.approx(2 * 256 * 56 * 56 * 9 / cost.bytes)
    assert 2.2 <= cost.intensity <= 2.3  # DESIGN.md: depthwise 3x3 sits at 2.2 FLOP/byte
    assert op_cost(conv, itemsize=2).bytes == cost.bytes // 2


def test_inverted_residual_structure():
    block = layer_variant(LayerSpec(k=3, cout=24, cin=24, size=56), parse_variant("inverted:6"))
    assert [s.name for s in block.stages] == ["expand", "depthwise", "project", "residual"]
    project = block.stages[2]
    assert not any(isinstance(op, Act) for op in project.ops)  # linear bottleneck
    hidden = 24 * 6
    expected = 56 * 56 * (24 * hidden + hidden * 9 + hidden * 24)
    assert block_cost(block).macs == expected
    strided = layer_variant(
        LayerSpec(k=3, cout=32, cin=24, size=56, stride=2), parse_variant("inverted:6")
    )
    assert "residual" not in [s.name for s in strided.stages]
    t1 = layer_variant(LayerSpec(k=3, cout=16, cin=32, size=8), parse_variant("inverted:1"))
    assert [s.name for s in t1.stages] == ["depthwise", "project"]


@given(
    cout=st.integers(1, 1024),
    cin=st.integers(1, 512),
    k=st.sampled_from([1, 3, 5, 7]),
    size=st.integers(7, 64),
    stride=st.integers(1, 2),
)
def test_separable_ratio_is_one_over_cout_plus_one_over_k2(cout, cin, k, size, stride):
    std = variant_cost("standard", k=k, cin=cin, cout=cout, size=size, stride=stride)
    sep = variant_cost("separable", k=k, cin=cin, cout=cout, size=size, stride=stride)
    assert sep.macs / std.macs == pytest.approx(1 / cout + 1 / k**2, rel=1e-12)
    assert std.params == cout * cin * k * k
    assert sep.params == cin * k * k + cin * cout


# --- convolutions of any rank and geometry, matmuls, attention ------------------------------------


@given(
    dims=st.integers(1, 3),
    cin=st.integers(1, 4),
    mult=st.integers(1, 3),
    k=st.integers(1, 4),
    stride=st.integers(1, 3),
    pad=st.integers(0, 2),
    dilation=st.integers(1, 2),
    size=st.integers(6, 9),
    transposed=st.booleans(),
    depthwise=st.booleans(),
)
def test_convnd_matches_pytorchs_shapes_and_the_formula(
    dims, cin, mult, k, stride, pad, dilation, size, transposed, depthwise
):
    """ConvNd's output shape against PyTorch's own, and MACs against the formula written here
    (regular: per output position; transposed: per input position)."""
    import torch
    from torch import nn

    from sepprof.spec.ops import ConvNd, Dims

    groups, cout = (cin, cin * mult) if depthwise else (1, mult)
    kind = [nn.Conv1d, nn.Conv2d, nn.Conv3d][dims - 1]
    if transposed:
        kind = [nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d][dims - 1]
    module = kind(cin, cout, k, stride, pad, dilation=dilation, groups=groups)
    out = module(torch.zeros(1, cin, *(size,) * dims)).shape
    geometry = ((k,) * dims, (stride,) * dims, (2 * pad,) * dims, (dilation,) * dims)
    op = ConvNd(Dims(cin, (size,) * dims), cout, *geometry, groups, True, transposed)
    assert (op.out.c, *op.out.size) == tuple(out[1:])
    positions = size**dims if transposed else op.out.numel // cout
    per = cin * (cout // groups) if transposed else cout * (cin // groups)
    cost = op_cost(op)
    assert cost.macs == positions * per * k**dims
    assert cost.params == sum(p.numel() for p in module.parameters())
    assert cost.eltwise == op.out.numel  # the bias


def test_conv_and_convnd_agree_on_square_2d():
    from sepprof.spec.ops import ConvNd, Dims

    square = Conv(Shape(8, 14, 14), 16, 3, 2, 1, 1, 1, True)
    general = ConvNd(Dims(8, (14, 14)), 16, (3, 3), (2, 2), (2, 2), (1, 1), 1, True)
    assert op_cost(square) == op_cost(general)
    assert general.kind == square.kind == "standard"


def test_matmul_and_attention_rules():
    from sepprof.count.costs import attention_macs, matmul_macs

    assert matmul_macs(4, 5, 6, 7) == 4 * 5 * 6 * 7
    b, h, length, s, d = 2, 3, 5, 7, 8
    assert attention_macs(b * h, length, s, d) == 2 * b * h * length * s * d  # QK^T + AV
    assert attention_macs(b * h, length, s, d, 4) == b * h * length * s * (d + 4)
