"""The tracer's rules for masks, comparisons, norms, indexing and interpolation (issue #24), one
small real module each, with counts typed here from DESIGN.md's convention: comparisons
(eq, ne, lt, le, gt, ge), where, masked_fill, neg, exp and cumsum 1 elementwise op per output
element; clamp 1 per bound given; vector norms 2 per input element; scatter_add 1 per source
element; roll, indexing, gather, scatter and nearest interpolation 0 (data movement); linear,
bilinear, bicubic and trilinear interpolation 2, 4, 16 and 8 per output element. Never MACs.
"""

from __future__ import annotations

from math import prod

import pytest
import torch
import torch.nn.functional as F
from test_mutants_handles import Call, counted
from torch import nn

from sepprof.count import handles

N = 2
X = (N, 3, 5)
ELEMENTS = N * 3 * 5


@pytest.mark.parametrize("op", [torch.eq, torch.ne, torch.lt, torch.le, torch.gt, torch.ge])
def test_comparisons_one_per_output_element(op):
    mod = Call(lambda m, x: op(x, m.row), row=torch.randn(1, 5))
    assert counted(mod, torch.randn(*X)) == (0, ELEMENTS)
    assert counted(Call(lambda m, x: op(x, 0.0)), torch.randn(*X)) == (0, ELEMENTS)


def test_where_is_a_comparison_and_a_select_per_element():
    mod = Call(lambda m, x: torch.where(x > 0, x, m.row), row=torch.randn(1, 5))
    assert counted(mod, torch.randn(*X)) == (0, ELEMENTS + ELEMENTS)


def test_shifted_window_mask_counts_its_comparisons_and_fills():
    """Swin's attention mask: ``mask.masked_fill(mask != 0, -100).masked_fill(mask == 0, 0)``:
    ne, masked_fill, eq, masked_fill, each one op per element of the (windows, L, L) mask."""

    def mask(m, x):
        a = x.unsqueeze(1) - x.unsqueeze(2)  # 4 x 6 x 6: a sub per element
        return a.masked_fill(a != 0, -100.0).masked_fill(a == 0, 0.0)

    x = torch.randint(0, 3, (4, 6)).float()
    assert counted(Call(mask), x) == (0, 5 * 4 * 6 * 6)


def test_neg_and_exp_one_per_element():
    assert counted(Call(lambda m, x: -x), torch.randn(*X)) == (0, ELEMENTS)
    assert counted(Call(lambda m, x: torch.exp(x)), torch.randn(*X)) == (0, ELEMENTS)


def test_rotary_embedding_negates_half_and_multiplies():
    """EVA's rotate-half: cat(-x2, x1), then x*cos + rot*sin: neg on half the elements, two
    multiplies and an add on all of them."""

    def rotary(m, x):
        x1, x2 = x.chunk(2, dim=-1)
        return x * m.cos + torch.cat((-x2, x1), dim=-1) * m.sin

    mod = Call(rotary, cos=torch.randn(1, 4), sin=torch.randn(1, 4))
    x = torch.randn(N, 3, 4)
    assert counted(mod, x) == (0, N * 3 * 2 + 3 * N * 3 * 4)


def test_clamp_counts_each_bound_given():
    x = torch.randn(*X)
    assert counted(Call(lambda m, t: t.clamp(-1.0, 1.0)), x) == (0, 2 * ELEMENTS)
    assert counted(Call(lambda m, t: t.clamp(min=0.0)), x) == (0, ELEMENTS)
    assert counted(Call(lambda m, t: t.clamp(max=0.0)), x) == (0, ELEMENTS)
    assert counted(Call(lambda m, t: torch.clamp_min(t, 0.0)), x) == (0, ELEMENTS)
    assert counted(Call(lambda m, t: torch.clamp_max(t, 0.0)), x) == (0, ELEMENTS)


def test_vector_norm_two_per_input_element():
    x = torch.randn(*X)
    assert counted(Call(lambda m, t: torch.linalg.vector_norm(t, dim=-1)), x) == (0, 2 * ELEMENTS)
    assert counted(Call(lambda m, t: t.norm(dim=-1)), x) == (0, 2 * ELEMENTS)


def test_cosine_attention_scores():
    """Swin V2: normalize q and k (norm 2 per element, clamp_min 1 per row, divide 1 per
    element), q @ k^T as MACs, then a clamped, exponentiated logit scale times the scores."""

    def cosine(m, x):
        q = F.normalize(x, dim=-1)
        k = F.normalize(x, dim=-1)
        scale = torch.clamp(m.logit, max=4.6).exp()
        return q @ k.transpose(-2, -1) * scale

    mod = Call(cosine, logit=torch.randn(N, 1, 1))
    x = torch.randn(N, 3, 5)
    normalize = 2 * ELEMENTS + N * 3 + ELEMENTS
    scale = N + N  # clamp (one bound) and exp on the N x 1 x 1 scale
    macs = N * 3 * 3 * 5
    assert counted(mod, x) == (macs, 2 * normalize + scale + N * 3 * 3)


def test_cumsum_one_per_element():
    assert counted(Call(lambda m, x: x.cumsum(1)), torch.randn(*X)) == (0, ELEMENTS)


def test_roll_indexing_gather_and_scatter_move_data_only():
    x = torch.randn(*X)
    idx = torch.tensor([2, 0])
    gather_idx = torch.zeros(N, 3, 2, dtype=torch.long)
    for fn in (
        lambda m, t: torch.roll(t, shifts=(1, -1), dims=(1, 2)),
        lambda m, t: t[:, idx],
        lambda m, t: t.index_select(2, idx),
        lambda m, t: torch.gather(t, 2, gather_idx),
        lambda m, t: torch.zeros_like(t).scatter(2, gather_idx, t[..., :2]),
        lambda m, t: t[t > 100.0].sum() * 0,
    ):
        assert counted(Call(fn), x)[0] == 0  # every op has a rule; none is a MAC
    assert counted(Call(lambda m, t: torch.roll(t, 1, 2)), x) == (0, 0)
    assert counted(Call(lambda m, t: torch.gather(t, 2, gather_idx)), x) == (0, 0)
    assert counted(Call(lambda m, t: t.index_select(2, idx)), x) == (0, 0)


def test_scatter_add_one_per_source_element():
    index = torch.zeros(N, 3, 2, dtype=torch.long)
    mod = Call(lambda m, t: torch.zeros_like(t).scatter_add(2, index, t[..., :2]))
    assert counted(mod, torch.randn(*X)) == (0, N * 3 * 2)


@pytest.mark.parametrize(
    ("mode", "shape", "per_output"),
    [
        ("nearest", (N, 3, 4, 5), 0),
        ("nearest-exact", (N, 3, 4, 5), 0),
        ("linear", (N, 3, 5), 2),
        ("bilinear", (N, 3, 4, 5), 4),
        ("bicubic", (N, 3, 4, 5), 16),
        ("trilinear", (N, 3, 2, 4, 5), 8),
    ],
)
def test_interpolation_per_output_element(mode, shape, per_output):
    mod = Call(lambda m, x: F.interpolate(x, scale_factor=2, mode=mode))
    outputs = N * 3 * prod(2 * d for d in shape[2:])
    assert counted(mod, torch.randn(*shape)) == (0, outputs * per_output)


def test_new_rules_never_count_macs():
    for name in ("eq", "where", "neg", "exp", "clamp", "linalg_vector_norm", "cumsum"):
        assert f"aten::{name}" in handles.HANDLES and f"aten::{name}" not in handles.MAC_KINDS
    for name in ("roll", "gather", "index", "index_select", "scatter", "upsample_nearest2d"):
        assert f"aten::{name}" in handles.IGNORED


def test_swin_block_counts_every_op():
    """A shifted-window block in miniature: roll, window attention with the mask built in
    forward, roll back: no op left uncounted."""

    class Window(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(4, 12)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.roll(x, shifts=(-1,), dims=(1,))
            q, k, v = self.qkv(x).chunk(3, dim=-1)
            ids = torch.tensor([0, 0, 0, 0, 1, 1])  # window regions, as Swin slices them
            mask = ids.unsqueeze(0) - ids.unsqueeze(1)
            mask = mask.float().masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
            attn = (q @ k.transpose(-2, -1) + mask).softmax(-1)
            return torch.roll(attn @ v, shifts=(1,), dims=(1,))

    macs, _ = counted(Window(), torch.randn(N, 6, 4))
    assert macs == N * 6 * 4 * 12 + 2 * N * 6 * 6 * 4
