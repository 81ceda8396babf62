"""The cost model and the tracer, each checked against a side that shares no code with them.

The independent side is a small counter written here: it runs the real PyTorch module under a
``TorchDispatchMode`` and applies the counting rule as DESIGN.md and ``costs``' docstring state
it, retyped by hand below (BatchNorm 2 ops per element, ReLU 1, ReLU6 2, sigmoid 3, SiLU 4,
hardswish 5, bias / add / multiply 1, max pool k²-1 per output, average pool k², global pool
1 per input element; conv MACs = output elements x Cin/g x k²). It imports nothing from sepprof's
counting code, so a bug in the shared table (e.g. BatchNorm as 1 op per element) shows up as a
difference here even when the analytic and traced counts agree with each other.
"""

from __future__ import annotations

from math import prod
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from sepprof.count.costs import block_cost, plan_cost, stage_cost
from sepprof.count.trace import trace_block, trace_plan
from sepprof.models.variants import build_block, build_plan, random_input
from sepprof.spec.blocks import layer_variant
from sepprof.spec.layer import LayerSpec, parse_variant
from sepprof.spec.network import Options, load_network

NETWORKS = Path(__file__).resolve().parents[1] / "configs" / "networks"
PER_ELEMENT = {  # ops per output element, by aten op name (DESIGN.md's rule, typed by hand)
    "native_batch_norm": 2,
    "_native_batch_norm_legit_no_training": 2,
    "relu": 1,
    "relu_": 1,
    "hardtanh": 2,
    "hardtanh_": 2,
    "sigmoid": 3,
    "sigmoid_": 3,
    "silu": 4,
    "silu_": 4,
    "hardswish": 5,
    "hardswish_": 5,
    "add": 1,
    "add_": 1,
    "mul": 1,
    "mul_": 1,
}
FREE = {
    "empty",
    "view",
    "t",
    "detach",
    "clone",
    "_to_copy",
    "reshape",
    "unsqueeze",
    "squeeze",
    "expand",
}


class Counted(TorchDispatchMode):
    """MACs and elementwise ops of one forward pass, from the ops PyTorch actually ran."""

    def __init__(self) -> None:
        super().__init__()
        self.macs = self.eltwise = 0
        self.unknown: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        first = out[0] if isinstance(out, tuple) else out
        self.count(func._overloadpacket.__name__, args, first)
        return out

    def count(self, name: str, args: tuple, out: torch.Tensor) -> None:
        if name in PER_ELEMENT:
            self.eltwise += PER_ELEMENT[name] * out.numel()
        elif name == "convolution":
            weight = args[1]
            self.macs += out.numel() * prod(weight.shape[1:])  # Cout·Ho·Wo x Cin/g·k²
            self.eltwise += out.numel() if args[2] is not None else 0
        elif name == "addmm":  # a fully connected layer with bias
            self.macs += out.numel() * args[1].shape[1]
            self.eltwise += out.numel()
        elif name == "mm":
            self.macs += out.numel() * args[0].shape[1]
        elif name in ("max_pool2d", "max_pool2d_with_indices"):
            self.eltwise += (
                out.numel() * (prod(args[1]) if len(args[1]) == 2 else args[1][0] ** 2)
                - out.numel()
            )
        elif name == "avg_pool2d":
            self.eltwise += out.numel() * (prod(args[1]) if len(args[1]) == 2 else args[1][0] ** 2)
        elif name in ("mean", "_adaptive_avg_pool2d", "adaptive_avg_pool2d"):
            self.eltwise += args[0].numel()
        elif name not in FREE:
            self.unknown.add(name)


def counted(module: torch.nn.Module, x: torch.Tensor) -> Counted:
    with torch.no_grad(), Counted() as counter:
        module.eval()(x)
    return counter


VARIANTS = [
    ("standard", {}),
    ("separable", {}),
    ("grouped:4", {}),
    ("inverted:6", {}),
    ("inverted:6", {"stride": 2}),
    ("separable", {"bias": True, "act": "silu"}),
    ("inverted:4", {"act": "relu6", "k": 5}),
]


@pytest.mark.parametrize(("variant", "layer"), VARIANTS)
def test_block_counts_match_an_independent_dispatch_count(variant, layer):
    block = layer_variant(LayerSpec(cout=16, size=10, **{"k": 3, **layer}), parse_variant(variant))
    ours = counted(build_block(block), random_input(2, block.inp))
    assert not ours.unknown
    analytic = block_cost(block, batch=2)
    traced, _ = trace_block(block, 2)
    assert (analytic.macs, analytic.eltwise) == (ours.macs, ours.eltwise)
    assert (traced[""].macs, traced[""].eltwise) == (ours.macs, ours.eltwise)


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "efficientnet_b0"])
def test_network_counts_match_an_independent_dispatch_count(name):
    plan = load_network(NETWORKS / f"{name}.yaml").plan(Options(resolution=64))
    ours = counted(build_plan(plan), random_input(1, plan.inp))
    assert not ours.unknown
    analytic = plan_cost(plan)
    traced, _ = trace_plan(plan, 1)
    assert (analytic.macs, analytic.eltwise) == (ours.macs, ours.eltwise)
    assert (traced[""].macs, traced[""].eltwise) == (ours.macs, ours.eltwise)


def test_separable_block_by_hand():
    """k=3, Cin=Cout=8, 8x8, BN + ReLU after each conv (MobileNetV1's block), batch 1."""
    block = layer_variant(LayerSpec(k=3, cout=8, size=8), parse_variant("separable"))
    hw = 8 * 8
    depthwise, pointwise = hw * 8 * 9, hw * 8 * 8
    per_stage_eltwise = 2 * 8 * hw + 8 * hw  # BatchNorm 2 per element, ReLU 1
    assert block_cost(block).macs == depthwise + pointwise == 8704
    assert block_cost(block).eltwise == 2 * per_stage_eltwise == 3072
    assert block_cost(block).params == 8 * 9 + 8 * 8
    assert block_cost(block).norm_params == 2 * (2 * 8)


def test_stage_costs_by_hand_sum_to_the_block():
    """Inverted residual t=4, k=5, Cin=48 -> Cout=96, 28x28, stride 2: each stage from its own
    formula, then the block as their sum (replaces summing the same ops twice)."""
    block = layer_variant(
        LayerSpec(k=5, cout=96, cin=48, size=28, stride=2), parse_variant("inverted:4")
    )
    hidden, hw_in, hw_out = 48 * 4, 28 * 28, 14 * 14
    expand = (hw_in * 48 * hidden, 48 * hidden, 3 * hidden * hw_in)  # MACs, params, BN+ReLU
    depthwise = (hw_out * hidden * 25, hidden * 25, 3 * hidden * hw_out)
    project = (hw_out * hidden * 96, hidden * 96, 2 * 96 * hw_out)  # linear: BN only
    by_hand = [expand, depthwise, project]
    assert [s.name for s in block.stages] == ["expand", "depthwise", "project"]
    for stage, (macs, params, eltwise) in zip(block.stages, by_hand, strict=True):
        cost = stage_cost(stage)
        assert (cost.macs, cost.params, cost.eltwise) == (macs, params, eltwise), stage.name
    whole = block_cost(block)
    assert whole.macs == sum(h[0] for h in by_hand)
    assert whole.params == sum(h[1] for h in by_hand)
    assert whole.eltwise == sum(h[2] for h in by_hand)


@pytest.mark.parametrize(
    ("name", "published", "digits", "source"),
    [
        ("mobilenet_v1", 569e6, 3, "MobileNets (Howard et al. 2017), Table 1: 569 million"),
        ("mobilenet_v2", 300e6, 2, "MobileNetV2 (Sandler et al. 2018), Table 4: 300M"),
        ("vgg16", 15.5e9, 3, "VGG (Simonyan & Zisserman 2015), 15.5 G mult-adds"),
        ("efficientnet_b0", 0.39e9, 2, "EfficientNet (Tan & Le 2019), Table 2: 0.39B"),
    ],
)
def test_macs_round_to_the_published_figure(name, published, digits, source):
    """The count, rounded to the significant digits the paper printed, is the paper's figure
    (a tolerance of half a unit in the last printed digit, not a blanket percentage)."""
    macs = plan_cost(load_network(NETWORKS / f"{name}.yaml").plan()).macs
    assert float(f"{macs:.{digits}g}") == published, source


def test_elementwise_ops_cost_no_macs_or_params_and_counts_are_integers():
    """Per DESIGN.md: pools and gates are elementwise only; counts are integers (JSON)."""
    from sepprof.count.costs import op_cost
    from sepprof.spec.ops import Add, Linear, Mul, Pool, Shape

    x = Shape(8, 4, 4)  # 128 elements
    cases = [
        (Pool(x, "max", 2, 2), 8 * 2 * 2 * (4 - 1)),  # k²-1 comparisons per output
        (Pool(x, "avg", 2, 2), 8 * 2 * 2 * 4),  # k² adds per output
        (Pool(x, "avg", global_=True), 128),  # one add per input element
        (Mul(x), 128),
        (Add(x), 128),
        (Linear(x, 10, bias=False), 0),
        (Linear(x, 10), 10),
    ]
    for op, eltwise in cases:
        cost = op_cost(op)
        assert cost.eltwise == eltwise, op
        assert all(type(v) is int for v in (cost.macs, cost.params, cost.eltwise, cost.bytes))
        if not isinstance(op, Linear):
            assert (cost.macs, cost.params) == (0, 0), op
    assert op_cost(Linear(x, 10, bias=False)).params == 128 * 10


def test_bytes_default_to_fp32_at_every_level():
    plan = load_network(NETWORKS / "mobilenet_v1.yaml").plan(Options(resolution=32))
    block = plan.blocks[1]
    stage = block.stages[0]
    for cost in (plan_cost, block_cost, stage_cost):
        part = {plan_cost: plan, block_cost: block, stage_cost: stage}[cost]
        assert cost(part).bytes == 2 * cost(part, 1, 2).bytes  # fp32 is twice fp16
        assert cost(part, 2).macs == 2 * cost(part).macs


def test_convnd_by_hand():
    """1-D grouped conv and a 2-D transposed conv (MACs from the input side, as fvcore and
    torch's counter count them), worked by hand."""
    from sepprof.count.costs import op_cost
    from sepprof.spec.ops import ConvNd, Dims

    one_d = ConvNd(Dims(8, (16,)), 12, (3,), (1,), (2,), (1,), groups=4)
    cost = op_cost(one_d)  # 16 + 2 - 2 - 1 + 1 = 16 outputs of 12 channels, 8/4 x 3 weights
    assert (cost.macs, cost.params, cost.eltwise) == (12 * 16 * 2 * 3, 12 * 2 * 3, 0)
    biased = op_cost(ConvNd(Dims(8, (16,)), 12, (3,), (1,), (2,), (1,), groups=4, bias=True))
    assert (biased.params, biased.eltwise) == (12 * 2 * 3 + 12, 12 * 16)
    up = op_cost(ConvNd(Dims(8, (5, 5)), 6, (3, 3), (2, 2), (2, 2), (1, 1), 2, transposed=True))
    assert (up.macs, up.params, up.eltwise) == (8 * 25 * 3 * 9, 8 * 3 * 9, 0)
    for c in (cost, biased, up):
        assert all(type(v) is int for v in (c.macs, c.params, c.eltwise, c.bytes))


def test_conv_counts_are_integers():
    from sepprof.count.costs import op_cost
    from sepprof.spec.ops import Conv, Shape

    cost = op_cost(Conv(Shape(8, 6, 6), 12, 3, padding=1, groups=4, bias=True))
    assert (cost.macs, cost.params, cost.eltwise) == (12 * 36 * 2 * 9, 12 * 2 * 9 + 12, 12 * 36)
    assert all(type(v) is int for v in (cost.macs, cost.params, cost.eltwise, cost.bytes))


def test_bytes_of_elementwise_ops_by_hand():
    """An add reads two tensors and writes one; a gate reads x and one scale per channel and
    writes one; BatchNorm reads and writes x plus its scale and shift (fp32: 4 bytes)."""
    from sepprof.count.costs import op_cost, total
    from sepprof.spec.ops import Add, BatchNorm, Mul, Shape

    x = Shape(8, 4, 4)  # 128 elements, 8 channels
    assert op_cost(Add(x)).bytes == 3 * 128 * 4
    assert op_cost(Mul(x)).bytes == (2 * 128 + 8) * 4
    assert op_cost(BatchNorm(x)).bytes == (2 * 128 + 2 * 8) * 4
    both = total([Add(x), BatchNorm(x)])
    assert (both.bytes, both.eltwise) == ((3 * 128 + 2 * 128 + 2 * 8) * 4, 128 + 2 * 128)
    assert total([Add(x)], 2, 2).bytes == 3 * 256 * 2


@pytest.mark.parametrize("name", ["mobilenet_v1", "xception"])
def test_pools_and_classifiers_match_an_independent_dispatch_count(name):
    """Small inputs, so this stays fast: global average pooling and the classifier (addmm) of
    MobileNetV1, Xception's strided max pools and residual adds."""
    plan = load_network(NETWORKS / f"{name}.yaml").plan(Options(resolution=32))
    ours = counted(build_plan(plan), random_input(1, plan.inp))
    assert not ours.unknown
    traced, _ = trace_plan(plan, 1)
    assert (plan_cost(plan).macs, plan_cost(plan).eltwise) == (ours.macs, ours.eltwise)
    assert (traced[""].macs, traced[""].eltwise) == (ours.macs, ours.eltwise)
