"""Every counting rule of the tracer's op table (``handles``), one small real module each.

Each case runs a real PyTorch module through the tracer and compares its MACs and elementwise
ops with a formula typed here from the op's definition (DESIGN.md's counting rule: one MAC per
multiply-add of a weight; bias, add and multiply 1 op per output element; BatchNorm 2 per
element; layer/group norm 5 for the statistics plus 1 for a weight and 1 for a bias; softmax 3;
max pool k-1 comparisons and average pool k adds per output, k the window's size; reductions 1
per input element). Shapes are small, asymmetric and batched (N=2), so a swapped or dropped
dimension changes the count. Fast enough to run once per mutant (benchmarks/mutation.py).
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from math import prod

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sepprof.count import handles
from sepprof.count.trace import trace

N = 2  # batch: every formula below multiplies by it


class Call(nn.Module):
    """A module whose forward is one function of its input (and fixed tensors it holds)."""

    def __init__(self, fn, **tensors: torch.Tensor) -> None:
        super().__init__()
        self.fn = fn
        for name, value in tensors.items():
            self.register_buffer(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self, x)


def counted(module: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """(MACs, elementwise ops) the tracer counts for one forward pass; every op must have a
    rule (an op falling off the table would otherwise read as 0)."""
    total = trace(module.eval(), x).total
    assert total.uncounted == {}
    return whole(total.macs), whole(total.eltwise)


def whole(value: object) -> int:
    """Counts are whole numbers: a float that equals one (n / 1) would print as 1234.0."""
    assert type(value) is int, f"{value!r} is a {type(value).__name__}, not an int"
    return value


def rule(handle, inputs: list, outputs: list) -> Counter:
    """A handle applied to an op's arguments, its counts checked to be whole numbers."""
    got = handle(inputs, outputs)
    for value in got.values():
        whole(value)
    return got


def conv_macs(out_elements: int, cin: int, groups: int, *kernel: int) -> int:
    """Output elements x (Cin/g) x kernel size: one MAC per weight per output position."""
    return out_elements * (cin // groups) * prod(kernel)


# --- convolutions --------------------------------------------------------------------------


def test_conv2d_non_square_with_bias_counts_weight_macs_and_one_add_per_output():
    conv = nn.Conv2d(6, 4, (3, 2), stride=(1, 2), padding=(1, 0))
    x = torch.randn(N, 6, 9, 8)
    out = (N, 4, 9, 4)  # H: (9+2-3)/1+1 = 9; W: (8-2)/2+1 = 4
    elements = N * 4 * 9 * 4
    assert tuple(conv(x).shape) == out
    assert counted(conv, x) == (conv_macs(elements, 6, 1, 3, 2), elements)


def test_grouped_conv_without_bias_has_no_elementwise_ops():
    conv = nn.Conv2d(6, 9, 3, padding=1, groups=3, bias=False)
    x = torch.randn(N, 6, 5, 7)
    assert counted(conv, x) == (conv_macs(N * 9 * 5 * 7, 6, 3, 3, 3), 0)


def test_conv1d_and_conv3d():
    c1 = nn.Conv1d(3, 5, 4, bias=False)
    x1 = torch.randn(N, 3, 11)  # L out = 8
    assert counted(c1, x1) == (conv_macs(N * 5 * 8, 3, 1, 4), 0)
    c3 = nn.Conv3d(2, 3, (1, 2, 3), bias=True)
    x3 = torch.randn(N, 2, 4, 5, 6)  # out 4 x 4 x 4
    elements = N * 3 * 4 * 4 * 4
    assert counted(c3, x3) == (conv_macs(elements, 2, 1, 1, 2, 3), elements)


def test_transposed_conv_counts_per_input_position():
    """A transposed conv scatters every input position through the whole kernel: MACs = input
    positions x Cin x (Cout/g) x k, not output positions (which a stride makes larger)."""
    conv = nn.ConvTranspose2d(4, 6, (3, 2), stride=2, groups=2, bias=True)
    x = torch.randn(N, 4, 5, 3)
    out = conv(x)
    assert tuple(out.shape) == (N, 6, 11, 6)  # (5-1)*2+3, (3-1)*2+2
    macs = N * 5 * 3 * 4 * (6 // 2) * 3 * 2
    assert counted(conv, x) == (macs, out.numel())


def test_transposed_conv1d_without_bias():
    conv = nn.ConvTranspose1d(3, 2, 5, stride=3, bias=False)
    x = torch.randn(N, 3, 7)
    assert counted(conv, x) == (N * 7 * 3 * 2 * 5, 0)


# --- matrix products ---------------------------------------------------------------------


def test_linear_without_bias_is_mm():
    lin = nn.Linear(5, 3, bias=False)
    x = torch.randn(4, 5)
    assert counted(lin, x) == (4 * 5 * 3, 0)


def test_linear_with_bias_is_addmm_plus_one_add_per_output():
    lin = nn.Linear(5, 3)
    x = torch.randn(4, 5)
    assert counted(lin, x) == (4 * 5 * 3, 4 * 3)


def test_bmm_and_baddbmm_count_every_batch():
    b = torch.randn(3, 5, 2)
    mod = Call(lambda m, x: torch.bmm(x, m.b), b=b)
    assert counted(mod, torch.randn(3, 4, 5)) == (3 * 4 * 5 * 2, 0)
    add = Call(lambda m, x: torch.baddbmm(m.c, x, m.b), b=b, c=torch.randn(3, 4, 2))
    assert counted(add, torch.randn(3, 4, 5)) == (3 * 4 * 5 * 2, 3 * 4 * 2)


def test_matmul_macs_and_attention_macs_formulas():
    assert handles.matmul_macs(2, 3, 5, 7) == 2 * 3 * 7 * 5
    # heads 2, length 3, source 5, d_qk 7, d_v 11: scores 2*3*5*7, outputs 2*3*11*5
    assert handles.attention_macs(2, 3, 5, 7, 11) == 2 * 3 * 5 * 7 + 2 * 3 * 11 * 5
    assert handles.attention_macs(2, 3, 5, 7) == 2 * (2 * 3 * 5 * 7)


# --- attention -----------------------------------------------------------------------------


@pytest.mark.parametrize("masked", [False, True])
def test_fused_scaled_dot_product_attention(masked):
    """The fused kernel: Q (N, H, L, E), K and V (N, H, S, E): scores L x S x E and outputs
    L x E x S per head; softmax 3, scaling 1 and a mask 1 op per score."""
    heads, length, source, e = 3, 4, 6, 5
    k, v = torch.randn(N, heads, source, e), torch.randn(N, heads, source, e)
    mask = torch.zeros(length, source) if masked else None

    def attend(m, q):
        return F.scaled_dot_product_attention(q, m.k, m.v, attn_mask=mask)

    mod = Call(attend, k=k, v=v)
    q = torch.randn(N, heads, length, e)
    scores = N * heads * length * source
    assert counted(mod, q) == (2 * scores * e, scores * (3 + 1 + int(masked)))


def test_sdpa_rule_with_a_value_width_of_its_own():
    """Kernels that take V of another width (Ev): outputs are L x Ev x S per head."""
    heads, length, source, e, ev = 3, 4, 6, 5, 7
    q, k = torch.empty(N, heads, length, e), torch.empty(N, heads, source, e)
    v = torch.empty(N, heads, source, ev)
    scores = N * heads * length * source
    got = rule(handles.sdpa, [q, k, v, None, 0.0], [torch.empty(0)])
    assert got == Counter({handles.MACS: scores * e + scores * ev, handles.ELTWISE: 4 * scores})


def test_sdpa_math_path_counts_its_own_ops():
    """With V wider than Q, CPU attention runs op by op: the same MACs; Q and K each scaled by
    sqrt(scale) (1 op per element) and a (safe) softmax of 3 per score."""
    heads, length, source, e, ev = 3, 4, 6, 5, 7
    mod = Call(
        lambda m, q: F.scaled_dot_product_attention(q, m.k, m.v),
        k=torch.randn(N, heads, source, e),
        v=torch.randn(N, heads, source, ev),
    )
    scores = N * heads * length * source
    eltwise = N * heads * (length + source) * e + 3 * scores
    assert counted(mod, torch.randn(N, heads, length, e)) == (scores * (e + ev), eltwise)


def native_mha_args(embed: int, heads: int, length: int, source: int):
    query = torch.randn(N, length, embed)
    key = torch.randn(N, source, embed)
    qkv_w, qkv_b = torch.randn(3 * embed, embed), torch.randn(3 * embed)
    out_w, out_b = torch.randn(embed, embed), torch.randn(embed)
    return [query, key, key, embed, heads, qkv_w, qkv_b, out_w, out_b]


def test_native_multi_head_attention_rule():
    """nn.MultiheadAttention's fused op: projections of L queries, S keys, S values and L
    outputs (E x E each), attention per head of E/H dims, biases and softmax + scale."""
    embed, heads, length, source = 6, 2, 3, 5
    args = native_mha_args(embed, heads, length, source)
    projections = N * (length + source + source + length) * embed * embed
    attention = 2 * N * heads * length * source * (embed // heads)
    scores = N * heads * length * source
    biases = N * (2 * length + 2 * source) * embed
    got = rule(handles.HANDLES["aten::_native_multi_head_attention"], args, [torch.empty(0)])
    want = {handles.MACS: projections + attention, handles.ELTWISE: biases + 4 * scores}
    assert got == Counter(want)


def test_multihead_attention_module_is_counted_op_by_op_with_the_same_macs():
    embed, heads, length = 6, 2, 3
    mha = nn.MultiheadAttention(embed, heads, batch_first=True)
    mod = Call(lambda m, x: mha(x, x, x, need_weights=False)[0])
    mod.mha = mha
    macs, _ = counted(mod, torch.randn(N, length, embed))
    assert macs == N * 4 * length * embed * embed + 2 * N * heads * length * length * (
        embed // heads
    )


# --- elementwise ---------------------------------------------------------------------------

ACTIVATIONS = [  # (module, ops per output element by DESIGN.md's table)
    (nn.ReLU(), 1),
    (nn.ReLU(inplace=True), 1),
    (nn.ReLU6(), 2),
    (nn.Hardtanh(inplace=True), 2),
    (nn.Sigmoid(), 3),
    (nn.SiLU(), 4),
    (nn.SiLU(inplace=True), 4),
    (nn.Hardswish(), 5),
    (nn.Hardsigmoid(), 4),
    (nn.GELU(), 5),
    (nn.Tanh(), 1),
    (nn.Softmax(dim=1), 3),
]


@pytest.mark.parametrize(("module", "per_element"), ACTIVATIONS, ids=lambda v: str(v))
def test_activations_per_output_element(module, per_element):
    x = torch.randn(N, 3, 5)
    assert counted(module, x) == (0, N * 3 * 5 * per_element)


@pytest.mark.parametrize("op", [torch.add, torch.sub, torch.mul, torch.div])
def test_binary_ops_one_per_output_element_after_broadcasting(op):
    mod = Call(lambda m, x: op(x, m.row), row=torch.randn(1, 5))
    assert counted(mod, torch.randn(N, 3, 5)) == (0, N * 3 * 5)


def test_reductions_count_input_elements_not_outputs():
    x = torch.randn(N, 3, 4, 5)
    assert counted(Call(lambda m, t: t.mean(dim=(2, 3))), x) == (0, x.numel())
    assert counted(Call(lambda m, t: t.sum(dim=1)), x) == (0, x.numel())
    assert counted(nn.AdaptiveAvgPool2d(1), x) == (0, x.numel())


def test_batch_norm_two_ops_per_element():
    bn = nn.BatchNorm2d(3)
    x = torch.randn(N, 3, 4, 5)
    assert counted(bn, x) == (0, 2 * x.numel())


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_and_group_norm(affine):
    x = torch.randn(N, 4, 3, 5)
    per_element = 5 + (2 if affine else 0)
    layer = nn.LayerNorm([3, 5], elementwise_affine=affine)
    assert counted(layer, x) == (0, x.numel() * per_element)
    group = nn.GroupNorm(2, 4, affine=affine)
    assert counted(group, x) == (0, x.numel() * per_element)


def test_norms_with_a_weight_and_no_bias_scale_but_do_not_shift():
    x = torch.randn(N, 4, 3, 5)
    layer = nn.LayerNorm([3, 5], bias=False)
    assert counted(layer, x) == (0, x.numel() * (5 + 1))
    group = Call(lambda m, t: F.group_norm(t, 2, weight=m.w), w=torch.ones(4))
    assert counted(group, x) == (0, x.numel() * (5 + 1))
    shift = Call(lambda m, t: F.group_norm(t, 2, bias=m.b), b=torch.zeros(4))
    assert counted(shift, x) == (0, x.numel() * (5 + 1))


# --- pooling -------------------------------------------------------------------------------


def test_max_pool_compares_window_minus_one_per_output():
    x = torch.randn(N, 3, 9, 8)
    pool = nn.MaxPool2d((3, 2), stride=2)  # out 4 x 4, window 6
    assert counted(pool, x) == (0, N * 3 * 4 * 4 * (6 - 1))
    square = nn.MaxPool2d(3, stride=2)  # out 4 x 3, window 9
    assert counted(square, x) == (0, N * 3 * 4 * 3 * (9 - 1))


def test_average_pool_adds_the_whole_window_per_output():
    x = torch.randn(N, 3, 9, 8)
    pool = nn.AvgPool2d((3, 2), stride=2)
    assert counted(pool, x) == (0, N * 3 * 4 * 4 * 6)


def test_pool_1d_and_3d_windows():
    assert counted(nn.MaxPool1d(3), torch.randn(N, 2, 9)) == (0, N * 2 * 3 * (3 - 1))
    assert counted(nn.AvgPool1d(3), torch.randn(N, 2, 9)) == (0, N * 2 * 3 * 3)
    x = torch.randn(N, 2, 4, 6, 6)
    pool = nn.MaxPool3d((2, 3, 3))  # out 2 x 2 x 2, window 18
    assert counted(pool, x) == (0, N * 2 * 2 * 2 * 2 * (18 - 1))
    avg = nn.AvgPool3d(2)  # out 2 x 3 x 3, window 8
    assert counted(avg, x) == (0, N * 2 * 2 * 3 * 3 * 8)


def test_pool_rule_with_one_kernel_size_for_every_dimension():
    """A kernel given once (the op's one-element form) covers every spatial dimension."""
    out = torch.empty(N, 2, 3, 3)
    got = rule(partial(handles.pool, "max"), [torch.empty(0), [3]], [out])
    assert got == Counter({handles.ELTWISE: out.numel() * (3 * 3 - 1)})
    got = rule(partial(handles.pool, "avg"), [torch.empty(0), [2]], [torch.empty(N, 2, 5)])
    assert got == Counter({handles.ELTWISE: N * 2 * 5 * 2})


# --- the table itself ----------------------------------------------------------------------


def test_every_handle_kind_of_mac_work():
    kinds = handles.MAC_KINDS
    assert kinds["aten::convolution"] == "conv"
    assert kinds["aten::mm"] == kinds["aten::addmm"] == kinds["aten::bmm"] == "matmul"
    assert kinds["aten::_native_multi_head_attention"] == "attention"
    assert kinds["aten::_scaled_dot_product_flash_attention_for_cpu"] == "attention"
    assert "aten::relu" not in kinds and "aten::native_batch_norm" not in kinds


def test_data_movement_is_ignored_not_counted():
    for op in ("view", "cat", "permute", "constant_pad_nd", "flatten"):
        assert f"aten::{op}" in handles.IGNORED and f"aten::{op}" not in handles.HANDLES
