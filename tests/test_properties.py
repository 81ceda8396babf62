"""Issue #29: properties of counted layers with Cin ≠ Cout, odd and even k, stride 1 and 2,
dilation and groups, checked against formulas typed here (never computed by sepprof):

- through ``sepprof.compare`` (the public API behind ``sepprof compare``): every variant's and
  stage's analytic MACs equal the traced ones; they equal DESIGN.md's hand formulas; the theory
  ratio is 1/Cout + 1/k² (separable) and 1/g (grouped), and with 'same' geometry the MAC ratio
  equals it;
- through ``profile --model`` counting (``profile_model``): an ``nn.Conv2d`` with a rectangular
  kernel, stride, dilation and padding on a rectangular input, grouped or depthwise, whose
  output shape is checked against PyTorch's own.

``LayerSpec`` has one int ``k`` and a square input, so the non-square cases go through the
model path. Sizes stay small (channels ≤ 48, spatial ≤ 16) so the file runs in seconds.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

import sepprof
from sepprof.commands.model_profile import profile_model


def out_size(size: int, k: int, stride: int, pad_total: int, dilation: int) -> int:
    """PyTorch's conv output length: floor((size + pads - dilation·(k-1) - 1) / stride) + 1."""
    return (size + pad_total - dilation * (k - 1) - 1) // stride + 1


@st.composite
def layers(draw):
    """Cin ≠ Cout, both multiples of a group count g > 1 (so ``grouped:g`` is valid)."""
    g = draw(st.sampled_from([2, 3, 4]))
    cin = g * draw(st.integers(1, 48 // g))
    cout = g * draw(st.integers(1, 48 // g))
    assume(cin != cout)
    k = draw(st.integers(1, 6))  # odd and even kernels
    dilation = draw(st.integers(1, 2))
    size = draw(st.integers(4, 16))
    padding = draw(st.one_of(st.none(), st.integers(0, 3)))  # None: the tool's 'same' default
    pad = (k // 2) * dilation if padding is None else padding  # LayerSpec's default, by hand
    assume(size + 2 * pad >= dilation * (k - 1) + 1)
    return (
        dict(
            k=k,
            cin=cin,
            cout=cout,
            size=size,
            stride=draw(st.integers(1, 2)),
            padding=padding,
            dilation=dilation,
            batch=draw(st.integers(1, 2)),
        ),
        g,
        pad,
    )


def _traced_agrees(row) -> None:
    assert row.macs_analytic == row.macs_traced, row.name
    for peer in (row.macs_flop_counter, row.macs_fvcore):
        assert peer in (None, row.macs_analytic), row.name


@settings(max_examples=20, deadline=None)
@given(drawn=layers())
def test_compare_counts_equal_the_trace_and_the_hand_formulas(drawn):
    layer, g, pad = drawn
    n, cin, cout, k = layer["batch"], layer["cin"], layer["cout"], layer["k"]
    ho = out_size(layer["size"], k, layer["stride"], 2 * pad, layer["dilation"])
    result = sepprof.compare(layer, ["standard", "separable", f"grouped:{g}"])
    std, sep, grouped = result.variants

    for row in result.variants:  # (a) analytic == traced, every variant and stage
        _traced_agrees(row)
        for stage in row.stages:
            _traced_agrees(stage)

    # (b) DESIGN.md's cost model, N·Ho·Wo·...
    assert std.macs_analytic == n * ho * ho * cout * cin * k * k
    assert grouped.macs_analytic == n * ho * ho * cout * (cin // g) * k * k
    depthwise, pointwise = sep.stages
    assert (depthwise.name, pointwise.name) == ("depthwise", "pointwise")
    assert depthwise.macs_analytic == n * ho * ho * cin * k * k
    assert pointwise.macs_analytic == n * ho * ho * cin * cout
    assert sep.macs_analytic == depthwise.macs_analytic + pointwise.macs_analytic
    assert std.params == cout * cin * k * k and sep.params == cin * k * k + cin * cout

    # (c) theory ratios; every variant has the same Ho, so the MAC ratios are the theory exactly
    comps = {c.variant: c for c in result.comparisons}
    theory_sep = 1 / cout + 1 / (k * k)
    theory_grouped = 1 / g
    assert comps["separable"].theory_ratio == pytest.approx(theory_sep, rel=1e-12)
    assert comps[f"grouped:{g}"].theory_ratio == pytest.approx(theory_grouped, rel=1e-12)
    assert comps["separable"].macs_ratio == pytest.approx(theory_sep, rel=1e-12)
    assert comps[f"grouped:{g}"].macs_ratio == pytest.approx(theory_grouped, rel=1e-12)


@st.composite
def convs(draw):
    """An nn.Conv2d's arguments: rectangular kernel, stride, dilation and input; groups 1, g, or
    depthwise (g = Cin, Cout a multiple of it); explicit or 'same' padding (stride 1 only)."""
    cin = draw(st.integers(1, 12))
    kind = draw(st.sampled_from(["standard", "grouped", "depthwise"]))
    if kind == "depthwise":
        g, cout = cin, cin * draw(st.integers(1, 3))
    elif kind == "grouped":
        g = draw(st.sampled_from([d for d in range(1, cin + 1) if cin % d == 0]))
        cout = g * draw(st.integers(1, 4))
    else:
        g, cout = 1, draw(st.integers(1, 12))
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if stride == (1, 1) and draw(st.booleans()):
        padding = "same"
        pads = tuple(d * (kk - 1) for d, kk in zip(dilation, k, strict=True))  # both sides
    else:
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        pads = tuple(2 * p for p in padding)
    hw = (draw(st.integers(3, 16)), draw(st.integers(3, 16)))
    for size, kk, p, d in zip(hw, k, pads, dilation, strict=True):
        assume(size + p >= d * (kk - 1) + 1)
    return dict(
        cin=cin,
        cout=cout,
        k=k,
        stride=stride,
        padding=padding,
        pads=pads,
        dilation=dilation,
        groups=g,
        hw=hw,
        batch=draw(st.integers(1, 2)),
        bias=draw(st.booleans()),
    )


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@settings(max_examples=40, deadline=None)
@given(c=convs())
def test_any_conv2d_in_a_model_counts_by_the_formula(c):
    conv = nn.Conv2d(
        c["cin"],
        c["cout"],
        c["k"],
        c["stride"],
        c["padding"],
        c["dilation"],
        groups=c["groups"],
        bias=c["bias"],
    )
    n, (h, w), (kh, kw) = c["batch"], c["hw"], c["k"]
    ho = out_size(h, kh, c["stride"][0], c["pads"][0], c["dilation"][0])
    wo = out_size(w, kw, c["stride"][1], c["pads"][1], c["dilation"][1])
    with torch.no_grad():  # the formula's shape is PyTorch's
        assert tuple(conv(torch.zeros(n, c["cin"], h, w)).shape) == (n, c["cout"], ho, wo)

    (row,) = profile_model(nn.Sequential(conv), (n, c["cin"], h, w)).layers
    macs = n * ho * wo * c["cout"] * (c["cin"] // c["groups"]) * kh * kw
    if c["groups"] == c["cin"] == c["cout"]:  # depthwise, DESIGN.md's form: N·Ho·Wo·Cin·k²
        assert macs == n * ho * wo * c["cin"] * kh * kw
    if c["groups"] == 1 and (kh, kw) == (1, 1):  # pointwise: N·Ho·Wo·Cin·Cout
        assert macs == n * ho * wo * c["cin"] * c["cout"]
    assert row.macs_analytic == macs == row.macs_traced
    assert row.macs_flop_counter in (None, macs)
    weights = c["cout"] * (c["cin"] // c["groups"]) * kh * kw
    assert row.params == weights + (c["cout"] if c["bias"] else 0)
    assert row.elementwise_ops == (n * ho * wo * c["cout"] if c["bias"] else 0)
    assert row.shape == f"{c['cout']}x{ho}x{wo}"
