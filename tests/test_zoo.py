"""Well-known networks, hand-written in ``zoo`` (torchvision's layouts), counted by ``profile
--model`` and checked against an independent count written here (forward hooks + formulas), the
published figures, and the rule that totals are sums of rows with nothing counted twice."""

from __future__ import annotations

import json
from math import prod

import pytest
import torch
import zoo
from torch import nn

from sepprof.commands.model_profile import profile_model
from sepprof.models.model import ModelInputs, parse_inputs
from sepprof.render.console import to_text
from sepprof.render.profile import profile_view

# --- the independent count ----------------------------------------------------------------------


def hooked_macs(model: nn.Module, *args: torch.Tensor, **kwargs: torch.Tensor) -> int:
    """MACs of every conv and linear *module call*, from PyTorch's own shapes: conv
    N*out_positions*Cout*(Cin/g)*k (transposed: N*in_positions*Cin*(Cout/g)*k), linear
    out_elements*in_features. Attention and weights used outside module calls are added by
    the tests from the model's configuration."""
    total = 0

    def hook(module: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.modules.conv._ConvTransposeNd):
            x = inputs[0]
            per = module.in_channels * module.out_channels // module.groups
            total += x.shape[0] * prod(x.shape[2:]) * per * prod(module.kernel_size)
        elif isinstance(module, nn.modules.conv._ConvNd):
            total += out.numel() * module.in_channels // module.groups * prod(module.kernel_size)
        elif isinstance(module, nn.Linear):
            total += out.numel() * module.in_features

    hooks = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model.eval()(*args, **kwargs)
    for h in hooks:
        h.remove()
    return total


def all_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # each tensor once, tied ones too


def profile(model: nn.Module, *args: torch.Tensor, **kwargs: torch.Tensor):
    return profile_model(model, ModelInputs.of(*args, **kwargs))


def check_sums(result) -> None:
    """Totals are sums of rows; every row counted; the tracer and torch agree where both ran."""
    rows, t = result.layers, result.totals
    assert all(r.macs_analytic is not None for r in rows), [r.name for r in rows]
    assert t.macs_analytic == sum(r.macs_analytic for r in rows) == t.macs_traced
    assert t.elementwise_ops == sum(r.elementwise_ops for r in rows)
    assert t.params + t.norm_params == sum(r.params + r.norm_params for r in rows)
    assert t.macs_flop_counter in (None, t.macs_analytic)
    assert all(r.traced_ok is not False for r in rows), [r.name for r in rows if not r.traced_ok]
    assert not any("did not run" in n for n in result.notes)


# --- ResNet-50 at 224 (published: 4.09 GMACs, 25,557,032 params, torchvision) -------------------


@pytest.fixture(scope="module")
def resnet50():
    torch.manual_seed(0)
    model = zoo.ResNet50()
    x = torch.randn(1, 3, 224, 224)
    return model, profile(model, x), hooked_macs(model, x)


def test_resnet50_matches_the_published_figures_and_the_hand_count(resnet50):
    model, result, hand = resnet50
    t = result.totals
    assert t.macs_analytic == hand == 4_089_184_256
    assert round(t.macs_analytic / 1e9, 2) == 4.09
    assert t.params + t.norm_params == all_params(model) == 25_557_032
    assert t.macs_flop_counter == t.macs_analytic and t.traced_ok
    check_sums(result)


def test_resnet50_rows(resnet50):
    _, result, _ = resnet50
    kinds = {r.kind for r in result.layers}
    assert {"standard", "pointwise", "fc", "elementwise", "pool"} <= kinds
    adds = [r for r in result.layers if r.name.endswith("(forward)")]
    assert len(adds) == 16 and all(r.kind == "elementwise" for r in adds)  # one residual each
    assert "traced ✓" in to_text(profile_view(result))


# --- MobileNetV3-Small, ShuffleNetV2 x1.0 -------------------------------------------------------


def test_mobilenet_v3_small_hardswish_and_squeeze_excite():
    """Published: 2,542,856 params and 0.06 GFLOPS (= GMACs) at 224 (torchvision's model table);
    56M MAdds (Howard et al. 2019, Table 2)."""
    model = zoo.MobileNetV3Small()
    x = torch.randn(1, 3, 224, 224)
    result = profile(model, x)
    t = result.totals
    assert t.params + t.norm_params == all_params(model) == 2_542_856
    assert t.macs_analytic == hooked_macs(model, x)
    assert round(t.macs_analytic / 1e6) in (56, 57) and round(t.macs_analytic / 1e9, 2) == 0.06
    rows = {r.name: r for r in result.layers}
    assert rows["features.0.2"].detail == "hardswish" and rows["features.0.2"].kind == "elementwise"
    gate = rows["features.1.block.1 (forward)"]  # SE: hardsigmoid(scale) * x, in forward()
    assert gate.kind == "elementwise" and gate.elementwise_ops == 16 * 56 * 56
    check_sums(result)


def test_shufflenet_v2_chunk_and_channel_shuffle():
    """Published (torchvision's model table): 2,278,604 params, 0.14 GFLOPS (= GMACs) at 224."""
    model = zoo.ShuffleNetV2()
    x = torch.randn(1, 3, 224, 224)
    result = profile(model, x)
    t = result.totals
    assert t.params + t.norm_params == all_params(model) == 2_278_604
    assert t.macs_analytic == hooked_macs(model, x)
    assert round(t.macs_analytic / 1e9, 2) == 0.14
    assert {"depthwise", "pointwise"} <= {r.kind for r in result.layers}
    check_sums(result)


# --- blocks that call their children in unusual ways --------------------------------------------


def test_module_list_iterated_in_forward_is_counted_once():
    model, x = zoo.ModuleListNet(), torch.randn(1, 3, 8, 8)
    result = profile(model, x)
    assert result.totals.macs_analytic == hooked_macs(model, x) == 50_688
    assert [r.name for r in result.layers] == ["convs.0", "convs.1"]
    check_sums(result)


def test_densenet_block_concatenating_its_features():
    model, x = zoo.DenseBlock(layers=4, cin=16, growth=8), torch.randn(2, 16, 12, 12)
    result = profile(model, x)
    assert result.totals.macs_analytic == hooked_macs(model, x)
    assert result.totals.params + result.totals.norm_params == all_params(model)
    assert {r.name for r in result.layers if r.name.endswith("(forward)")} == set()  # cat: 0 ops
    check_sums(result)


def test_convnext_block_layer_norm_gelu_layer_scale():
    dim, hw = 16, 14
    model, x = zoo.ConvNeXtBlock(dim), torch.randn(1, dim, hw, hw)
    result = profile(model, x)
    dw = hw * hw * dim * 49
    mlp = 2 * hw * hw * dim * 4 * dim
    assert result.totals.macs_analytic == hooked_macs(model, x) == dw + mlp
    rows = {r.name: r for r in result.layers}
    assert rows["dwconv"].kind == "depthwise"
    assert rows["norm"].elementwise_ops == hw * hw * dim * (5 + 2)  # LayerNorm, affine
    assert rows["act"].elementwise_ops == hw * hw * 4 * dim * 5  # GELU
    own = rows["model (forward)"]  # layer scale multiply + residual add, and the scale itself
    assert own.params == dim and own.elementwise_ops == 2 * hw * hw * dim
    assert result.totals.params == all_params(model)
    check_sums(result)


# --- transformers: nn.MultiheadAttention (fast path too), SDPA, hand-written, direct calls -------


def vit_macs(model: zoo.ViT, x: torch.Tensor, mha: bool) -> int:
    """Module-call MACs plus, per block, attention 2*B*N*N*dim and, for nn.MultiheadAttention
    (whose projections are not module calls), the q, k, v and output projections."""
    b, dim = x.shape[0], model.conv_proj.out_channels
    n = model.pos_embedding.shape[1]
    per_block = 2 * b * n * n * dim + (4 * b * n * dim * dim if mha else 0)
    return hooked_macs(model, x) + len(model.layers) * per_block


@pytest.mark.parametrize(("heads", "need_weights"), [(3, False), (3, True), (4, False), (4, True)])
def test_vit_with_multihead_attention(heads, need_weights):
    torch.manual_seed(0)
    model = zoo.ViT(dim=48, heads=heads, need_weights=need_weights)
    x = torch.randn(2, 3, 32, 32)
    result = profile(model, x)
    assert result.totals.macs_analytic == vit_macs(model, x, mha=True)
    assert result.totals.params + result.totals.norm_params == all_params(model)
    attn = next(r for r in result.layers if r.name == "layers.0.self_attention (forward)")
    assert attn.params == 4 * 48 * 48 + 4 * 48  # in_proj and out_proj, counted once, here
    assert attn.kind == "attention"
    assert any("fast path turned off" in n for n in result.notes)
    assert torch.backends.mha.get_fastpath_enabled()  # given back as it was
    check_sums(result)


@pytest.mark.parametrize("attention", ["sdpa", "hand", "direct"])
def test_vit_with_sdpa_hand_written_attention_and_direct_calls(attention):
    torch.manual_seed(0)
    model = zoo.ViT(dim=48, heads=4, attention=attention)
    x = torch.randn(2, 3, 32, 32)
    result = profile(model, x)
    assert result.totals.macs_analytic == vit_macs(model, x, mha=False)
    assert result.totals.params == all_params(model)
    names = {r.name for r in result.layers}
    assert "layers.0.attn.qkv" in names and "layers.0.attn.proj" in names
    check_sums(result)


def test_the_attention_variants_agree():
    x = torch.randn(1, 3, 32, 32)
    totals = {
        a: profile(zoo.ViT(attention=a), x).totals.macs_analytic for a in ("sdpa", "hand", "direct")
    }
    assert len(set(totals.values())) == 1, totals


# --- other ranks, transposed, non-square, tied weights, several inputs --------------------------


@pytest.mark.parametrize(
    ("factory", "shape"),
    [
        (zoo.Conv1dNet, (2, 4, 33)),
        (zoo.Conv3dNet, (1, 3, 6, 16, 16)),
        (zoo.Decoder, (1, 16, 5, 7)),
        (zoo.NonSquare, (1, 3, 12, 20)),
    ],
)
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_convs_of_every_rank_and_geometry_are_analytic_rows(factory, shape):
    model, x = factory(), torch.randn(*shape)
    result = profile(model, x)
    assert result.totals.macs_analytic == hooked_macs(model, x)
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.modules.conv._ConvNd)]
    rows = {r.name: r for r in result.layers}
    for name in convs:
        assert rows[name].kind in ("standard", "grouped", "transposed"), name
        assert rows[name].traced_ok, name
    check_sums(result)


def test_transposed_conv_counts_from_the_input_side():
    model, x = zoo.Decoder(), torch.randn(1, 16, 5, 7)
    rows = {r.name: r for r in profile(model, x).layers}
    assert rows["up1"].macs_analytic == 5 * 7 * 16 * 8 * 16  # N*Hin*Win*Cin*(Cout/g)*k
    assert rows["up2"].macs_analytic == 10 * 14 * 8 * 2 * 9


def test_tied_weights_are_counted_once_and_token_inputs_work():
    model = zoo.TiedLM(vocab=50, dim=16)
    inputs = parse_inputs(["2,7:int64"], None)
    result = profile_model(model, inputs)
    t = result.totals
    assert t.params == all_params(model) == 50 * 16 + 16 * 16 + 16
    assert t.macs_analytic == hooked_macs(model, *inputs.args) == 2 * 7 * (16 * 16 + 16 * 50)
    rows = {r.name: r for r in result.layers}
    assert rows["embed"].params == 50 * 16 and rows["out"].params == 0  # the shared weight
    check_sums(result)


def test_keyword_inputs():
    model = zoo.TiedLM()
    tokens = torch.zeros(1, 5, dtype=torch.long)
    plain = profile(model, tokens).totals
    scaled = profile(model, tokens, scale=torch.ones(1)).totals
    assert scaled.elementwise_ops == plain.elementwise_ops + 5 * 16  # the extra multiply


def test_parameters_nothing_used_are_counted_and_named():
    result = profile(zoo.WithSpare(), torch.randn(1, 3, 8, 8))
    assert result.layers[-1].name == "spare (did not run)" and result.layers[-1].params == 10
    assert result.totals.params == all_params(zoo.WithSpare())
    assert any("spare (did not run)" in n for n in result.notes)


class Uncountable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.erf(self.conv(x)).cumsum(1)


def test_an_op_without_a_rule_keeps_what_was_counted_and_makes_the_total_a_lower_bound():
    """forward() runs erf (no rule) and cumsum (1 per element) on the conv's 4 x 6 x 6 output:
    the row keeps cumsum's 144 ops, names erf and is incomplete; the total includes it."""
    result = profile(Uncountable(), torch.randn(1, 3, 8, 8))
    conv, own = result.layers
    assert (own.macs_analytic, own.elementwise_ops) == (0, 6 * 6 * 4)
    assert own.uncounted_ops == {"aten::erf": 1} and not own.complete
    assert result.totals.macs_analytic == conv.macs_analytic == 6 * 6 * 4 * 27
    assert result.totals.elementwise_ops == conv.elementwise_ops + 6 * 6 * 4
    assert not result.totals.complete
    doc = json.loads(json.dumps(result.to_dict()))
    assert doc["layers"][1]["macs"] == 0 and doc["layers"][1]["complete"] is False
    assert doc["totals"]["complete"] is False
    assert any("lower bound: model (forward)" in n for n in result.notes)
    text = to_text(profile_view(result))
    assert "≥ 3.888K MACs" in text and "aten::erf ×1" in text


def test_without_the_trace_attention_is_na_and_every_parameter_still_counted():
    model = zoo.ViT(dim=48, heads=4)
    result = profile_model(model, ModelInputs.of(torch.randn(1, 3, 32, 32)), trace=False)
    attn = next(r for r in result.layers if r.name == "layers.0.self_attention (forward)")
    assert attn.macs_analytic is None and attn.params == 4 * 48 * 48 + 4 * 48
    t = result.totals
    assert t.params + t.norm_params == all_params(model)
    assert t.macs_analytic == sum(r.macs_analytic or 0 for r in result.layers)
