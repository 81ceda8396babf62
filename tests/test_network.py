"""Reference networks reproduce their published tables; network specs fail with located errors."""

from pathlib import Path

import pytest

from sepprof.commands.profile import by_type, label, profile
from sepprof.count.costs import plan_cost
from sepprof.errors import SpecError
from sepprof.spec.network import Options, load_network

NETWORKS = Path(__file__).resolve().parents[1] / "configs" / "networks"


def cost(name: str, **options):
    return plan_cost(load_network(NETWORKS / f"{name}.yaml").plan(Options(**options)))


# Exact parameter counts (weights + biases + BatchNorm scale/shift) are those of the reference
# implementations of the same layers; MACs against the papers' rounded figures are checked in
# tests/test_costs_independent.py (at the digits each paper printed).
@pytest.mark.parametrize(
    ("name", "params", "macs", "source"),  # papers print MACs to 2-3 significant digits
    [
        ("mobilenet_v1", 4_231_976, 569e6, "MobileNets (Howard 2017) Table 1: 569M, 4.2M"),
        (
            "mobilenet_v2",
            3_504_872,
            300e6,
            "MobileNetV2 (Sandler 2018) Table 4: 300M, 3.4M; "
            "torchvision mobilenet_v2 3,504,872 params",
        ),
        (
            "vgg16",
            138_357_544,
            15.5e9,
            "VGG (Simonyan 2015) Table 2: 138M; torchvision vgg16 138,357,544 params, 15.47 GMACs",
        ),
        (
            "efficientnet_b0",
            5_288_548,
            0.39e9,
            "EfficientNet (Tan 2019) Table 2: 5.3M, 0.39B; "
            "torchvision efficientnet_b0 5,288,548 params",
        ),
        ("xception", 22_855_952, None, "Xception (Chollet 2017) Table 3: 22,855,952 params"),
    ],
)
def test_reference_networks_reproduce_published_totals(name, params, macs, source):
    c = cost(name)
    assert c.all_params == params, source


def test_vgg16_macs_match_torchvision_exactly():
    assert cost("vgg16").macs == 15_470_264_320  # torchvision: 15.47 GFLOPS (MACs)


@pytest.mark.parametrize(
    ("width", "resolution", "macs", "params"),
    [
        (1.0, 224, 569, 4.2),
        (0.75, 224, 325, 2.6),
        (0.5, 224, 149, 1.3),
        (0.25, 224, 41, 0.5),
        (1.0, 192, 418, 4.2),
        (1.0, 160, 290, 4.2),
        (1.0, 128, 186, 4.2),
    ],
)
def test_mobilenet_v1_width_and_resolution_multipliers(width, resolution, macs, params):
    """MobileNets Table 6 (width multiplier) and Table 7 (resolution multiplier)."""
    c = cost("mobilenet_v1", width_mult=width, resolution=resolution)
    assert c.macs / 1e6 == pytest.approx(macs, abs=1)
    assert c.all_params / 1e6 == pytest.approx(params, abs=0.05)


def test_mobilenet_v1_as_standard_is_table_4_conv_mobilenet():
    """MobileNets Table 4: the same network with full convolutions, 4866M mult-adds, 29.3M."""
    c = cost("mobilenet_v1", as_="standard")
    assert c.macs / 1e6 == pytest.approx(4866, abs=2)
    assert c.all_params / 1e6 == pytest.approx(29.3, abs=0.05)


def test_mobilenet_v1_table_2_shares_by_layer_type():
    """MobileNets Table 2. The paper prints Conv 3x3 as 1.19% of mult-adds; the four shares it
    prints only add up to 100% with 1.91%, which is what the layers give (digits transposed).
    Its parameter shares leave out the FC bias (1000 of 4.2M), hence the 0.05 tolerance."""
    result = profile(load_network(NETWORKS / "mobilenet_v1.yaml"), trace=False)
    shares = {t.kind: t for t in result.by_type}
    macs = sum(t.macs for t in result.by_type)
    params = sum(t.params for t in result.by_type)
    expected = {
        "pointwise": (94.86, 74.59),
        "depthwise": (3.06, 1.06),
        "standard": (1.91, 0.02),
        "fc": (0.18, 24.33),
    }
    for kind, (mac_share, param_share) in expected.items():
        assert 100 * shares[kind].macs / macs == pytest.approx(mac_share, abs=0.01), kind
        assert 100 * shares[kind].params / params == pytest.approx(param_share, abs=0.05), kind


def test_totals_are_sums_of_leaf_rows():
    result = profile(load_network(NETWORKS / "xception.yaml"), trace=False)
    for key in ("macs_analytic", "params", "norm_params", "elementwise_ops", "bytes"):
        assert getattr(result.totals, key) == sum(getattr(r, key) for r in result.layers), key
    assert sum(t.macs for t in by_type(list(result.layers))) == result.totals.macs_analytic


def test_mobilenet_v2_width_rounds_to_multiples_of_8_and_keeps_head():
    plan = load_network(NETWORKS / "mobilenet_v2.yaml").plan(Options(width_mult=0.35))
    convs = [s for b, s in plan.stages() if label(b, s) == "conv2"]
    assert convs[0].out.c == 1280
    assert all(s.out.c % 8 == 0 for _, s in plan.stages() if s.kind == "pointwise")


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return path


def plan_error(tmp_path, text: str) -> str:
    with pytest.raises(SpecError) as exc:
        load_network(write(tmp_path, text)).plan()
    return str(exc.value)


HEAD = "name: t\ninput: [3, 32, 32]\nblocks:\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "  - conv: {k: 3, cout: 8}\n  - separable: {k: 3, cout: 16, cin: 4}\n",
            "net.yaml:5: blocks[1].separable.cin: block sep2: cin=4 but the previous block outputs 8 "
            "channels (8x32x32)",
        ),
        (
            "  - conv: {k: 3, cuot: 8}\n",
            "net.yaml:4: blocks[0].conv.cuot: unknown key 'cuot'; did you mean 'cout'?",
        ),
        (
            "  - convolution: {k: 3, cout: 8}\n",
            "net.yaml:4: blocks[0].convolution: unknown block type 'convolution'; did you mean 'conv'?",
        ),
        (
            "  - conv: {k: 3, cout: eight}\n",
            "net.yaml:4: blocks[0].conv.cout: must be an integer (got 'eight')",
        ),
        (
            "  - conv: {k: 3, cout: 8, stride: 4}\n  - conv: {k: 11, cout: 8, padding: 0}\n",
            "blocks[1].conv.k: block conv2: a 11x11 window does not fit its 8x8x8 input",
        ),
        ("  - conv: {k: 99, cout: 8}\n", "blocks[0].conv.k: must be <= 64 (got 99)"),
        (
            "  - conv: {k: 3, cout: 8, groups: 3}\n",
            "groups=3 must divide the input (3) and output (8)",
        ),
        (
            "  - residual:\n      body:\n        - conv: {k: 3, cout: 8, stride: 2}\n",
            "block res1: the body outputs 8x16x16 but the shortcut gives 3x32x32",
        ),
        (
            "  - conv: {name: a, k: 3, cout: 8}\n  - conv: {name: a, k: 3, cout: 8}\n",
            "two blocks are named 'a'",
        ),
        ("  - act: gelu\n", "blocks[0].act: must be relu, relu6, silu or swish (got 'gelu')"),
        ("  - [1, 2]\n", "blocks[0]: must be a mapping of keys to values (got list)"),
        (
            "  - {conv: {k: 3, cout: 8}, fc: {cout: 2}}\n",
            "blocks[0]: each block must be a mapping with one key, its type",
        ),
        ("  - pool: {k: 64}\n", "a 64x64 window does not fit its 3x32x32 input"),
    ],
)
def test_network_errors_name_file_key_and_line(tmp_path, body, message):
    assert message in plan_error(tmp_path, HEAD + body)


def test_network_file_level_errors(tmp_path):
    with pytest.raises(SpecError, match="input: must be three positive sizes"):
        load_network(write(tmp_path, "input: [3, 0, 32]\nblocks: [{fc: {cout: 2}}]\n"))
    with pytest.raises(SpecError, match="blocks: is required"):
        load_network(write(tmp_path, "input: [3, 8, 8]\n"))
    with pytest.raises(SpecError, match="inptu.*did you mean 'input'"):
        load_network(write(tmp_path, "inptu: [3, 8, 8]\nblocks: [{fc: {cout: 2}}]\n"))
    with pytest.raises(SpecError, match="file not found"):
        load_network(tmp_path / "missing.yaml")


def test_swish_is_silu(tmp_path):
    path = write(tmp_path, HEAD + "  - conv: {k: 3, cout: 8, act: swish}\n  - act: swish\n")
    plan = load_network(path).plan()
    acts = [op.fn for _, s in plan.stages() for op in s.ops if hasattr(op, "fn")]
    assert acts == ["silu", "silu"]


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("conv: {k: true, cout: 8}", "blocks[0].conv.k: must be an integer (got True)"),
        ('conv: {k: 3, cout: "10"}', "blocks[0].conv.cout: must be an integer (got '10')"),
        ("conv: {k: 3.0, cout: 8}", "blocks[0].conv.k: must be an integer (got 3.0)"),
        ("conv: {k: 3, cout: 8, bias: 1}", "blocks[0].conv.bias: must be true or false (got 1)"),
    ],
)
def test_wrong_types_are_errors_not_conversions(tmp_path, block, message):
    assert message in plan_error(tmp_path, HEAD + f"  - {block}\n")


def test_blocks_after_a_fully_connected_layer_build_and_trace(tmp_path):
    path = write(
        tmp_path, HEAD + "  - fc: {cout: 10}\n  - conv: {k: 3, cout: 4}\n  - fc: {cout: 2}\n"
    )
    result = profile(load_network(path), trace=True)
    assert [r.kind for r in result.layers] == ["fc", "standard", "fc"]
    assert all(r.traced_ok for r in result.layers)


def test_inverted_residual_with_an_even_kernel_has_no_residual(tmp_path):
    path = write(tmp_path, "input: [8, 8, 8]\nblocks:\n  - inverted_residual: {t: 2, c: 8, k: 4}\n")
    result = profile(load_network(path), trace=True)
    assert result.layers[-1].name.endswith("project") and result.totals.traced_ok


def test_block_names_print_as_written_never_as_markup(cli, tmp_path):
    path = tmp_path / "named.yaml"
    path.write_text(
        'input: [3, 16, 16]\nblocks:\n  - conv: {name: "[reverse]x[/reverse]", k: 3, cout: 8}\n'
    )
    run = cli("profile", path, "--analytic", "--wide")
    assert run.code == 0, run.err
    assert "[reverse]x[/reverse]" in run.out


def test_block_names_that_would_act_on_a_terminal_are_refused(tmp_path):
    path = tmp_path / "esc.yaml"
    path.write_text('input: [3, 16, 16]\nblocks:\n  - conv: {name: "\\e[2J", k: 3, cout: 8}\n')
    with pytest.raises(SpecError) as exc:
        load_network(path).plan()
    assert str(exc.value) == (
        f"{path}:3: blocks[0].conv.name: must be printable text on one line (got '\\x1b[2J')"
    )
