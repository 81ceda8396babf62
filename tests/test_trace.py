"""Traced counts (fvcore, torch's flop rules) must equal the analytic model, op by op."""

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from torch import nn

from sepprof.count.costs import block_cost, stage_cost
from sepprof.count.trace import trace, trace_block
from sepprof.spec.blocks import conv_stage, layer_variant
from sepprof.spec.layer import LayerSpec, parse_variants
from sepprof.spec.ops import Block, Shape


@st.composite
def conv_layers(draw):
    g = draw(st.sampled_from([1, 1, 2, 3, 4]))
    cin = g * draw(st.integers(1, 6))
    cout = g * draw(st.integers(1, 6))
    if draw(st.booleans()):
        g = cin = cout  # depthwise
    k = draw(st.integers(1, 5))
    dilation = draw(st.integers(1, 2))
    padding = draw(st.integers(0, 3))
    span = dilation * (k - 1) + 1
    size = draw(st.integers(max(1, span - 2 * padding), 17))
    return dict(
        cin=cin,
        cout=cout,
        k=k,
        groups=g,
        stride=draw(st.integers(1, 3)),
        padding=padding,
        dilation=dilation,
        size=size,
        bias=draw(st.booleans()),
        bn=draw(st.booleans()),
        act=draw(st.sampled_from(["relu", "relu6", "silu", None])),
        batch=draw(st.integers(1, 3)),
    )


@given(conv_layers())
def test_analytic_equals_traced_for_any_conv(p):
    inp = Shape(p["cin"], p["size"], p["size"])
    stage = conv_stage(
        "conv",
        inp,
        p["cout"],
        p["k"],
        stride=p["stride"],
        groups=p["groups"],
        padding=p["padding"],
        dilation=p["dilation"],
        bias=p["bias"],
        bn=p["bn"],
        act=p["act"],
    )
    block = Block("b", "conv", inp, (stage,))
    counts, torch_macs = trace_block(block, p["batch"])
    cost = stage_cost(stage, p["batch"])
    assert counts["conv"].macs == cost.macs == torch_macs
    assert counts["conv"].eltwise == cost.eltwise
    assert (counts["conv"].params, counts["conv"].norm_params) == (cost.params, cost.norm_params)
    assert counts[""].uncounted == {}


@given(
    variant=st.sampled_from(["standard", "separable", "grouped:4", "inverted:3", "inverted:1"]),
    cout=st.sampled_from([8, 16, 24]),
    cin=st.sampled_from([8, 16]),
    k=st.sampled_from([1, 2, 3, 4, 5]),
    stride=st.integers(1, 2),
    size=st.integers(5, 12),
    padding=st.sampled_from([None, 0, 2]),
    dilation=st.integers(1, 2),
    bias=st.booleans(),
)
def test_every_variant_and_stage_matches(
    variant, cout, cin, k, stride, size, padding, dilation, bias
):
    pad = padding if padding is not None else (k // 2) * dilation
    assume(size + 2 * pad >= dilation * (k - 1) + 1)
    layer = LayerSpec(
        k=k,
        cin=cin,
        cout=cout,
        size=size,
        stride=stride,
        act="relu6",
        padding=padding,
        dilation=dilation,
        bias=bias,
    )
    block = layer_variant(layer, parse_variants(variant, layer)[0])
    counts, torch_macs = trace_block(block, 1)
    assert counts[""].macs == block_cost(block).macs == torch_macs
    assert counts[""].eltwise == block_cost(block).eltwise
    for stage in block.stages:
        assert counts[stage.name].macs == stage_cost(stage).macs
        assert counts[stage.name].eltwise == stage_cost(stage).eltwise
        assert counts[stage.name].params == stage_cost(stage).params
    assert block.out == Shape(cout, layer.out_size, layer.out_size)  # same output, any variant


class Erf(nn.Module):
    def forward(self, x):
        return torch.erf(x)


class WithErf(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.act = Erf()

    def forward(self, x):
        return self.act(self.conv(x))


def test_uncounted_ops_are_named_not_dropped():
    result = trace(WithErf().eval(), torch.randn(1, 4, 8, 8), ["conv", "act"])
    assert result.total.uncounted == {"aten::erf": 1}
    assert result.modules["act"].uncounted == {"aten::erf": 1}
    assert result.modules["conv"].uncounted == {}
    assert result.total.macs == 8 * 8 * 4 * 4 * 9


class FusedAttention(nn.Module):
    """Calls PyTorch's fused MultiheadAttention kernel itself (what the fast path runs)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.heads = heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.mha
        return torch._native_multi_head_attention(
            x, x, x, m.embed_dim, self.heads, m.in_proj_weight, m.in_proj_bias,
            m.out_proj.weight, m.out_proj.bias, None, False,
        )[0]  # fmt: skip


@pytest.mark.parametrize("fused", [True, False])
def test_multihead_attention_fast_path_kernel_and_op_by_op_count_the_same(fused):
    """QK^T + AV = 2*B*H*L*S*d_head = 2*B*L*S*E, plus four E x E projections per token."""
    from sepprof.count.trace import observe

    b, length, dim, heads = 2, 5, 12, 3
    x = torch.randn(b, length, dim)
    model = FusedAttention(dim, heads).eval()
    run = model if fused else model.mha
    args = (x,) if fused else (x, x, x)
    observed = observe(run, args, {})
    macs = sum(s.counts["macs"] for s in observed.scopes.values())
    assert macs == 2 * b * length * length * dim + 4 * b * length * dim * dim
    assert not any(s.uncounted for s in observed.scopes.values())


def test_tracer_does_not_read_the_analytic_table(monkeypatch):
    """The traced elementwise count has its own rule table: a wrong analytic rule (BatchNorm at
    1 op per element instead of 2) must show up as a disagreement, not move both sides."""
    import sepprof.count.costs as costs
    from sepprof.commands.compare import compare

    monkeypatch.setitem(costs.ELEMENTWISE_OPS, "batchnorm", 1)
    row = compare(k=3, cout=8, size=4, variants="standard").variants[0]
    bn_elements = 8 * 4 * 4
    assert row.elementwise_traced - row.elementwise_ops == bn_elements  # 2 per element traced
