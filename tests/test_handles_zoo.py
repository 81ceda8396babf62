"""The tracer's rules for the ops torchvision's detectors, RAFT, video models and timm add
(issue #24's zoo run), one small real module or one op's arguments each, counts typed here from
the convention stated in ``handles.TRACED_OPS_PER_ELEMENT``: unary and binary math (log, sqrt,
pow, floor, minimum, ...) 1 per output element; reductions (max, argmax, any, ...) 1 per input
element; var/std 4 per input element; leaky_relu 2, softplus and elu 3 per element; sort n·⌈log₂
n⌉ per slice of n, topk ⌈log₂ k⌉ (at least 1) per input element; grid_sample 4 (bilinear), 16
(bicubic), 0 (nearest) per output element; roi_align 5 per bilinear sample; nms 3 per box,
n·⌈log₂ n⌉ to order the scores and 12 per pair of boxes. Never MACs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from test_mutants_handles import Call, counted, rule

from sepprof.count import handles

X = (2, 3, 4, 5)
ELEMENTS = 2 * 3 * 4 * 5


@pytest.mark.parametrize(
    "fn",
    [
        torch.log,
        torch.sqrt,
        torch.rsqrt,
        torch.abs,
        torch.floor,
        torch.ceil,
        torch.round,
        torch.sin,
        torch.cos,
        lambda x: x**2,
        lambda x: torch.minimum(x, x.new_zeros(5)),
        lambda x: torch.remainder(x, 3.0),
        lambda x: x // 2,
    ],
    ids=[
        "log",
        "sqrt",
        "rsqrt",
        "abs",
        "floor",
        "ceil",
        "round",
        "sin",
        "cos",
        "pow",
        "minimum",
        "rem",
        "floordiv",
    ],
)
def test_unary_and_binary_math_one_per_output_element(fn):
    assert counted(Call(lambda m, x: fn(x.abs() + 1)), torch.randn(*X)) == (0, 3 * ELEMENTS)
    # abs and + 1 are one op per element each, the op under test the third


@pytest.mark.parametrize(
    ("fn", "before"),
    [
        (lambda x: x.amax(dim=(2, 3)), 0),
        (lambda x: x.max(dim=1).values, 0),
        (lambda x: x.argmax(dim=-1), 0),
        (lambda x: x.min(), 0),
        (lambda x: (x > 0).any(dim=1), ELEMENTS),  # the comparison, then the any
    ],
    ids=["amax", "max.dim", "argmax", "min", "any"],
)
def test_reductions_one_per_input_element(fn, before):
    assert counted(Call(lambda m, x: fn(x)), torch.randn(*X)) == (0, before + ELEMENTS)


def test_variance_four_per_input_element():
    assert counted(Call(lambda m, x: x.var(dim=1)), torch.randn(*X)) == (0, 4 * ELEMENTS)
    assert counted(Call(lambda m, x: x.std(dim=-1)), torch.randn(*X)) == (0, 4 * ELEMENTS)


def test_leaky_relu_two_and_softplus_three_per_element():
    assert counted(Call(lambda m, x: F.leaky_relu(x, 0.1)), torch.randn(*X)) == (0, 2 * ELEMENTS)
    assert counted(Call(lambda m, x: F.softplus(x)), torch.randn(*X)) == (0, 3 * ELEMENTS)
    assert counted(Call(lambda m, x: F.elu(x)), torch.randn(*X)) == (0, 3 * ELEMENTS)


def test_sort_and_topk_count_their_comparisons():
    """A detector's candidate selection: 1000 scores, the top 100 kept, then sorted."""
    scores = torch.randn(2, 1000)
    # sort: per row of 1000, 1000·⌈log₂ 1000⌉ = 1000·10; topk(100): ⌈log₂ 100⌉ = 7 per element
    assert counted(Call(lambda m, x: x.sort(dim=-1).values), scores) == (0, 2 * 1000 * 10)
    assert counted(Call(lambda m, x: x.argsort(dim=0)), scores) == (0, 1000 * 2 * 1)
    assert counted(Call(lambda m, x: x.topk(100, dim=-1).values), scores) == (0, 2 * 1000 * 7)
    assert counted(Call(lambda m, x: x.topk(1).values), scores) == (0, 2 * 1000)


def test_grid_sample_per_output_element_by_mode():
    """RAFT's correlation lookup: bilinear grid_sample of a 2x4x6x6 map at a 2x3x5 grid."""
    image, grid = torch.randn(2, 4, 6, 6), torch.rand(2, 3, 5, 2) * 2 - 1
    out = 2 * 4 * 3 * 5
    for mode, per in (("bilinear", 4), ("nearest", 0), ("bicubic", 16)):
        mod = Call(lambda m, x, mode=mode: F.grid_sample(x, m.grid, mode, align_corners=False))
        mod.register_buffer("grid", grid)
        assert counted(mod, image) == (0, out * per)


def test_roi_align_five_per_bilinear_sample():
    """torchvision::roi_align's arguments (Faster R-CNN's box head: 7x7 bins, 2x2 samples each,
    256 channels): 3 rois · 256 · 49 bins · 4 samples · (4 + 1)."""
    features, rois = torch.randn(1, 256, 50, 50), torch.tensor([[0, 0, 0, 20, 20.0]] * 3)
    out = torch.empty(3, 256, 7, 7)
    got = rule(handles.roi_align, [features, rois, 0.25, 7, 7, 2, False], [out])
    assert got == {handles.ELTWISE: 3 * 256 * 49 * 4 * 5}


def test_roi_align_adaptive_samples_follow_each_roi():
    """sampling_ratio 0: ⌈roi_h/7⌉·⌈roi_w/7⌉ samples per bin; rois 28x14 and 7x70 at scale 1
    (aligned): 4·2 and 1·10 samples per bin."""
    rois = torch.tensor([[0, 0, 0, 14, 28.0], [0, 0, 0, 70, 7.0]])
    out = torch.empty(2, 8, 7, 7)
    got = rule(handles.roi_align, [torch.randn(1, 8, 80, 80), rois, 1.0, 7, 7, 0, True], [out])
    assert got == {handles.ELTWISE: (4 * 2 + 1 * 10) * 8 * 49 * 5}


def test_nms_areas_ordering_and_every_pair():
    boxes, scores = torch.rand(100, 4), torch.rand(100)
    got = rule(handles.nms, [boxes, scores, 0.5], [torch.arange(10)])
    # 100 areas (3 each), 100·⌈log₂ 100⌉ = 700 to order, 100·99/2 pairs of 12
    assert got == {handles.ELTWISE: 100 * 3 + 700 + 4950 * 12}


def test_zoo_rules_never_count_macs():
    zoo = (handles.nms, handles.roi_align, handles.grid_sample, handles.sort, handles.topk)
    names = [n for n, h in handles.HANDLES.items() if h in zoo or "per_larger" in repr(h)]
    assert len(names) > 60 and not set(names) & set(handles.MAC_KINDS)


def test_unique_sorts_then_compares_neighbours():
    """torch.unique over 64 class labels (a detector's batched NMS): 64·⌈log₂ 64⌉ + 64."""
    labels = torch.randint(0, 5, (64,)).float()
    assert counted(Call(lambda m, x: torch.unique(x)), labels) == (0, 64 * 6 + 64)


def test_linspace_and_unfold_move_data_only():
    """RAFT's coordinate grid (linspace) and convex upsampling's patches (F.unfold -> im2col)."""

    def grid_and_patches(m, x):
        return F.unfold(x, 3, padding=1), torch.linspace(0, 1, 7)

    assert counted(Call(grid_and_patches), torch.randn(1, 2, 5, 5)) == (0, 0)
