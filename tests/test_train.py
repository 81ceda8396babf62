"""--mode train counts: the backward rule against hand formulas, torch's counter against both,
and the timed training step doing the work the counts say (#17)."""

from __future__ import annotations

import pytest
import torch

from sepprof.backends.prepare import prepare
from sepprof.count.backward import block_backward, op_backward, plan_backward, plan_stage_needs
from sepprof.count.backward_trace import count_step
from sepprof.models.variants import build_block, build_plan, random_input
from sepprof.spec.blocks import layer_variant
from sepprof.spec.layer import LayerSpec, parse_variants
from sepprof.spec.ops import Act, BatchNorm, Block, Conv, Linear, Plan, Pool, Shape, Stage

N, CIN, COUT, K, SIZE, STRIDE = 2, 16, 24, 3, 10, 2
HO = (SIZE + 2 * 1 - K) // STRIDE + 1  # 5


def conv_macs(cin: int, cout: int, k: int, groups: int, ho: int, n: int = N) -> int:
    """DESIGN.md's conv formula, written again here: N*Ho*Wo*Cout*(Cin/g)*k^2."""
    return n * ho * ho * cout * (cin // groups) * k * k


# forward MACs per conv of each variant (stride 2, same padding), by hand
FORWARD = {
    "standard": [conv_macs(CIN, COUT, K, 1, HO)],
    "separable": [conv_macs(CIN, CIN, K, CIN, HO), conv_macs(CIN, COUT, 1, 1, HO)],
    "grouped:4": [conv_macs(CIN, COUT, K, 4, HO)],
    "inverted:6": [
        conv_macs(CIN, 6 * CIN, 1, 1, SIZE),
        conv_macs(6 * CIN, 6 * CIN, K, 6 * CIN, HO),
        conv_macs(6 * CIN, COUT, 1, 1, HO),
    ],
}
GROUPS = {"standard": [1], "separable": [CIN, 1], "grouped:4": [4], "inverted:6": [1, 96, 1]}


def _blocks() -> dict[str, Block]:
    layer = LayerSpec(k=K, cin=CIN, cout=COUT, size=SIZE, stride=STRIDE)
    return {str(v): layer_variant(layer, v) for v in parse_variants(list(FORWARD), layer)}


@pytest.mark.parametrize("variant", list(FORWARD))
def test_backward_of_a_layer_is_twice_its_forward(variant):
    cost = block_backward(_blocks()[variant], N)
    assert cost.grad_input == cost.grad_weight == sum(FORWARD[variant])
    assert cost.macs == 2 * sum(FORWARD[variant])


@pytest.mark.parametrize("variant", list(FORWARD))
def test_torch_counter_agrees_once_its_grouped_grad_weight_is_corrected(variant):
    block = _blocks()[variant]
    step = count_step(build_block(block).train(), [random_input(N, block.inp)])
    forward = sum(FORWARD[variant])
    # torch 2.13 counts a conv's grad-weight `groups` times over (pytorch/pytorch#183405)
    excess = sum(m * (g - 1) for m, g in zip(FORWARD[variant], GROUPS[variant], strict=True))
    assert step.forward_macs == forward
    assert step.grad_weight_excess == excess
    assert step.backward_macs == 2 * forward + excess
    assert step.backward_macs_corrected == block_backward(block, N).macs


def _tiny_net() -> Plan:
    """image 3x8x8 -> maxpool -> conv 3->8 + BN + ReLU -> depthwise 3x3 -> fc 8*4*4 -> 5."""
    img = Shape(3, 8, 8)
    pool = Pool(img, "max", 2, 2)
    c1 = Conv(pool.out, 8, 3, padding=1)
    dw = Conv(c1.out, 8, 3, padding=1, groups=8)
    fc = Linear(dw.out, 5)
    stem = Block("stem", "stem", img, (Stage("pool", (pool,)),))
    body = Block(
        "body",
        "conv",
        pool.out,
        (
            Stage("conv", (c1, BatchNorm(c1.out), Act(c1.out, "relu"))),
            Stage("dw", (dw,)),
        ),
    )
    head = Block("head", "fc", dw.out, (Stage("fc", (fc,)),))
    return Plan("tiny", img, (stem, body, head))


def test_a_network_computes_no_grad_input_for_its_first_conv():
    plan = _tiny_net()
    first = 8 * 4 * 4 * 3 * 9  # conv 3->8 on 4x4 (after the pool), batch 1
    dw = 8 * 4 * 4 * 9
    fc = 8 * 4 * 4 * 5
    cost = plan_backward(plan, 1)
    assert cost.grad_weight == first + dw + fc
    assert cost.grad_input == dw + fc  # the first conv's input is the (pooled) image
    needs = [(s.name, g) for _, s, g, _ in plan_stage_needs(plan)]
    assert needs == [("pool", False), ("conv", False), ("dw", True), ("fc", True)]


def test_torch_counter_agrees_on_a_network_whose_image_needs_no_gradient():
    plan = _tiny_net()
    step = count_step(build_plan(plan).train(), [random_input(1, plan.inp)], input_grad=False)
    dw = 8 * 4 * 4 * 9
    assert step.grad_weight_excess == dw * 7  # depthwise, groups 8
    assert step.backward_macs_corrected == plan_backward(plan, 1).macs


def test_op_backward_skips_grad_input_only_when_asked():
    fc = Linear(Shape(4, 1, 1), 3)
    assert op_backward(fc, 2).macs == 2 * (2 * 4 * 3)
    assert op_backward(fc, 2, input_grad=False).macs == 2 * 4 * 3
    assert op_backward(BatchNorm(Shape(4, 2, 2)), 2).macs == 0


def test_the_timed_training_step_computes_every_gradient_the_count_includes():
    block = _blocks()["separable"]
    module = build_block(block)
    x = random_input(N, block.inp)
    step = prepare(module, [x], "eager", "train")
    _, params, inputs = step()
    assert module.training  # BatchNorm uses the batch's statistics, as training does
    assert all(g is not None for g in params) and len(params) == 6  # 2 convs, 2 BN x2
    assert len(inputs) == 1 and inputs[0].shape == x.shape  # grad-input of the first conv
    image = prepare(build_block(block), [x], "eager", "train", input_grad=False)
    assert image()[2] == []


def test_training_step_gradients_are_fresh_each_call():
    torch.manual_seed(0)
    block = _blocks()["standard"]
    module = build_block(block)
    step = prepare(module, [random_input(N, block.inp)], "eager", "train")
    first = step()[1][0].clone()
    second = step()[1][0]
    assert torch.allclose(first, second)  # not accumulated into 2x


def test_rows_per_stage_sum_to_the_whole_and_name_stages_as_timed():
    from sepprof.count.backward import block_rows, plan_rows

    rows = plan_rows(_tiny_net(), "tiny", 1)
    assert list(rows) == ["tiny", "stem.pool", "body.conv", "body.dw", "head.fc"]
    assert rows["body.conv"].macs == 8 * 4 * 4 * 3 * 9  # grad-weight only
    assert rows["head.fc"].macs == 2 * 8 * 4 * 4 * 5
    assert sum(r.macs for k, r in rows.items() if k != "tiny") == rows["tiny"].macs
    sep = block_rows(_blocks()["separable"], N)
    assert sep["separable/depthwise"].macs == 2 * FORWARD["separable"][0]
    assert sep["separable/pointwise"].macs == 2 * FORWARD["separable"][1]
    assert sep["separable"].macs == 2 * sum(FORWARD["separable"])


def test_training_a_batchnorm_on_one_value_per_channel_exits_2_with_the_fix():
    from sepprof.errors import UserError

    module = torch.nn.Sequential(torch.nn.Conv2d(2, 2, 1), torch.nn.BatchNorm2d(2))
    with pytest.raises(UserError, match="use a larger --batch or input size"):
        prepare(module, [torch.ones(1, 2, 1, 1)], "eager", "train")
