"""The analytic model against DESIGN.md's formulas and the worked example from the literature."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sepprof.blocks import layer_variant
from sepprof.costs import block_cost, op_cost, separable_theory_ratio, stage_cost
from sepprof.ops import Act, Add, BatchNorm, Conv, Linear, Mul, Pool, Shape, conv_out_size
from sepprof.spec import LayerSpec, parse_variant


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


def test_stage_costs_sum_to_block_cost():
    block = layer_variant(
        LayerSpec(k=5, cout=96, cin=48, size=28, stride=2), parse_variant("inverted:4")
    )
    total = stage_cost(block.stages[0])
    for stage in block.stages[1:]:
        total = total + stage_cost(stage)
    assert total == block_cost(block)


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
