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


# --mode train with and without timing (#24): the backward pass is a count, so --no-time gives it

FAST = ["--rounds", "1", "--min-time", "0.001", "--processes", "1"]
SMALL_MODEL = """from torch import nn


def small():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(288, 5)
    )
"""
# by hand, batch 2 on 3x6x6: conv 3->8 3x3 (same padding) = N*Ho*Wo*Cout*Cin*k^2, fc 288 -> 5
CONV_FWD = 2 * 6 * 6 * 8 * 3 * 9  # 15,552
FC_FWD = 2 * 288 * 5  # 2,880
# backward: the conv is the first layer and its input (the image) needs no gradient, so grad-weight
# only (1x); the fc's input comes after parameters (conv, BN), so grad-input + grad-weight (2x)
CONV_BWD, FC_BWD = CONV_FWD, 2 * FC_FWD
SMALL_BACKWARD = CONV_BWD + FC_BWD  # 21,312


def _small(tmp_path) -> list[str]:
    path = tmp_path / "small.py"
    path.write_text(SMALL_MODEL)
    return ["profile", "--model", f"{path}:small", "--input", "2,3,6,6", "--mode", "train"]


def _train_counts(doc: dict) -> tuple:
    keys = ("macs_backward", "macs_backward_flop_counter", "macs_train")
    return tuple(doc["totals"][k] for k in keys), [r["macs_backward"] for r in doc["layers"]]


def test_model_train_counts_without_timing_are_the_hand_formula_and_the_timed_ones(cli, tmp_path):
    untimed = cli(*_small(tmp_path), "--no-time", "--json")
    assert untimed.code == 0, untimed.err
    totals, layers = _train_counts(untimed.json())
    assert totals == (SMALL_BACKWARD, SMALL_BACKWARD, CONV_FWD + FC_FWD + SMALL_BACKWARD)
    assert layers == [CONV_BWD, 0, 0, FC_BWD]  # conv, BN, ReLU, fc (BN/ReLU: no MACs backward)
    timed = cli(*_small(tmp_path), *FAST, "--json")
    assert timed.code == 0, timed.err
    assert _train_counts(timed.json()) == (totals, layers)
    assert timed.json()["totals"]["latency_ms"]
    shown = cli(*_small(tmp_path), "--no-time")
    assert shown.code == 0, shown.err
    assert "training step 39.74K MACs = 18.43K forward + 21.31K backward" in shown.out
    assert "torch's counter agrees" in shown.out


def test_model_inference_counts_no_backward(cli, tmp_path):
    args = [a for a in _small(tmp_path) if a not in ("--mode", "train")]
    run = cli(*args, "--no-time", "--json")
    assert run.code == 0, run.err
    assert run.json()["totals"]["macs_backward"] is None
    assert "training step" not in cli(*args, "--no-time").out


def test_model_train_counts_reach_the_markdown(tmp_path):
    from sepprof.commands.model_profile import profile_model
    from sepprof.render.markdown import types_markdown

    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(288, 5),
    )
    result = profile_model(model, (2, 3, 6, 6), train=True)
    assert result.totals.macs_backward == SMALL_BACKWARD
    assert "Training: training step 39.74K MACs = 18.43K forward + 21.31K backward" in (
        types_markdown(result)
    )
    assert profile_model(model, (2, 3, 6, 6)).totals.macs_backward is None


@pytest.mark.parametrize("mode", ["train", "inference,train"])
def test_compare_train_counts_without_timing(cli, mode):
    """The hand formulas of test_cli_compare's timed test: every layer of compare needs
    grad-input, so backward = 2x forward."""
    run = cli("compare", "--cout", "32", "--size", "8", "--mode", mode, "--no-time", "--json")
    assert run.code == 0, run.err
    std, sep = run.json()["variants"]
    hw, c, k2 = 8 * 8, 32, 9
    dw, pw = hw * c * k2, hw * c * c
    assert std["macs_backward"] == 2 * hw * c * c * k2 == std["macs_backward_flop_counter"]
    assert sep["macs_backward"] == 2 * (dw + pw) == sep["macs_backward_flop_counter"]
    assert [s["macs_backward"] for s in sep["stages"]] == [2 * dw, 2 * pw]
    shown = cli("compare", "--cout", "32", "--size", "8", "--mode", mode, "--no-time")
    assert f"separable: training step {3 * (dw + pw) / 1000:.4g}K MACs" in shown.out


def test_compare_train_counts_reach_the_markdown():
    from sepprof.commands.compare import compare
    from sepprof.render.markdown import compare_markdown

    result = compare(cout=32, size=8, trace=False, train=True)
    hw, c, k2 = 8 * 8, 32, 9
    assert result.variants[0].macs_backward == 2 * hw * c * c * k2
    assert "- standard: training step" in compare_markdown(result)
    assert "training step" not in compare_markdown(compare(cout=32, size=8, trace=False))


TINY_NET = """name: tiny
input: [3, 16, 16]
defaults: {act: relu, bn: true}
blocks:
  - conv: {name: stem, k: 3, cout: 8, stride: 2}
  - separable: {name: sep, k: 3, cout: 16}
  - pool: {name: pool, kind: avg, global: true}
  - fc: {name: fc, cout: 10}
"""
# by hand, batch 1: stem 3->8 3x3 stride 2 on 16x16 -> 8x8; depthwise 3x3 and pointwise 8->16 on
# 8x8; global pool; fc 16 -> 10. The stem reads the image (grad-weight only, 1x); every later
# conv/fc comes after parameters (2x); the pool has no MACs.
STEM, DW, PW, FC = 8 * 8 * 8 * 3 * 9, 8 * 8 * 8 * 9, 8 * 8 * 8 * 16, 16 * 10
TINY_LAYERS = [STEM, 2 * DW, 2 * PW, 0, 2 * FC]


def test_network_train_counts_without_timing_equal_the_hand_formula_and_the_timed_ones(
    cli, tmp_path
):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_NET)
    net = ["profile", str(path), "--mode", "train"]
    untimed = cli(*net, "--no-time", "--json")
    assert untimed.code == 0, untimed.err
    totals, layers = _train_counts(untimed.json())
    assert layers == TINY_LAYERS
    forward = STEM + DW + PW + FC
    assert totals == (sum(TINY_LAYERS), sum(TINY_LAYERS), forward + sum(TINY_LAYERS))
    assert "total: training step" in cli(*net, "--no-time").out
    timed = cli(*net, *FAST, "--json")
    assert timed.code == 0, timed.err
    assert _train_counts(timed.json()) == (totals, layers)


def test_network_train_counts_where_batchnorm_cannot_train_on_one_value():
    """At 32 px MobileNetV1 ends on 1x1: BatchNorm refuses training mode at batch 1, so torch's
    counter counts the step in eval mode (the same MACs) instead of failing the count."""
    from sepprof.commands.profile import profile
    from sepprof.spec.network import Options

    result = profile("configs/networks/mobilenet_v1.yaml", Options(1.0, 32, None), train=True)
    totals = result.totals
    assert totals.macs_backward == totals.macs_backward_flop_counter
    assert totals.macs_backward == sum(r.macs_backward for r in result.layers)
