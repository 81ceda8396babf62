"""Issue #29: one test per one-line bug an outside audit planted and the suite missed.

Expected values are typed by hand from DESIGN.md's cost model, never computed by sepprof.
Each planted edit (one line; replay it, run this file, see it fail):

1. sepprof/commands/compare.py, in ``compare``:
   ``theory_ratio(rows[0].kind, r.kind, r.name, spec.cout, spec.k)`` -> ``..., spec.cin, spec.k)``
2. sepprof/results/rows.py, ``Row.achieved``:
   ``self.bytes / seconds / 1e9`` -> ``self.bytes / seconds / 2**30``
3. sepprof/results/rows.py, ``Row.achieved``:
   ``self.flops / seconds / 1e9`` -> ``self.macs_analytic / seconds / 1e9``
4. sepprof/count/model_count.py, ``traced_row``:
   ``weights = (scope.params + scope.norm_params) * len(scope.calls)``
   -> ``weights = scope.params * len(scope.calls)``
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import sepprof
from sepprof.commands.model_profile import profile_model
from sepprof.render.compare import compare_latency
from sepprof.render.console import to_text
from sepprof.results import Row
from sepprof.results.latency import Latency

# --- 1. the theory ratio is 1/Cout + 1/k², not 1/Cin + 1/k² -----------------------------------

# k=5, Cin=32, Cout=64, stride 2, default --size 56, 'same' padding k//2 = 2 (LayerSpec's default)
K, CIN, COUT, SIZE, STRIDE, PAD = 5, 32, 64, 56, 2, 2
HO = (SIZE + 2 * PAD - (K - 1) - 1) // STRIDE + 1  # PyTorch's conv output size: 28 = ceil(56/2)
STANDARD_MACS = HO * HO * COUT * CIN * K * K  # N·Ho·Wo·Cout·Cin·k² = 40,140,800
DEPTHWISE_MACS = HO * HO * CIN * K * K  # N·Ho·Wo·Cin·k² = 627,200
POINTWISE_MACS = HO * HO * CIN * COUT  # N·Ho·Wo·Cin·Cout = 1,605,632
THEORY = 1 / COUT + 1 / (K * K)  # 1/64 + 1/25 = 0.055625 (the bug gives 1/32 + 1/25 = 0.07125)


def _check_strided_separable(std: dict, sep: dict, comp: dict) -> None:
    assert HO == 28
    assert std["macs_analytic"] == STANDARD_MACS == 40_140_800
    assert sep["macs_analytic"] == DEPTHWISE_MACS + POINTWISE_MACS == 2_232_832
    assert std["macs_traced"] == std["macs_analytic"] and sep["macs_traced"] == sep["macs_analytic"]
    assert comp["baseline"] == "standard" and comp["variant"] == "separable"
    assert comp["theory_ratio"] == pytest.approx(0.055625, rel=1e-12)
    assert comp["theory_ratio"] == pytest.approx(THEORY, rel=1e-12)
    # 'same' padding gives both variants the same Ho, so the MAC ratio is the theory exactly:
    # (Cin·k² + Cin·Cout) / (Cout·Cin·k²) = (25 + 64) / (64·25) = 89/1600
    assert comp["macs_ratio"] == pytest.approx((DEPTHWISE_MACS + POINTWISE_MACS) / STANDARD_MACS)
    assert comp["macs_ratio"] == pytest.approx(89 / 1600, rel=1e-12)


def test_theory_ratio_uses_cout_not_cin_cli(cli):
    run = cli(
        "compare", "--k", K, "--cin", CIN, "--cout", COUT, "--stride", STRIDE, "--no-time", "--json"
    )
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["spec"]["padding"] == PAD and doc["spec"]["size"] == SIZE
    std, sep = doc["variants"]
    (comp,) = doc["comparisons"]
    _check_strided_separable(std, sep, comp)


def test_theory_ratio_uses_cout_not_cin_api():
    result = sepprof.compare(k=K, cin=CIN, cout=COUT, stride=STRIDE, variants="standard,separable")
    std, sep = (row.to_dict() for row in result.variants)
    (comp,) = (c.to_dict() for c in result.comparisons)
    _check_strided_separable(std, sep, comp)
    assert result.comparisons[0].theory_ratio == pytest.approx(THEORY, rel=1e-12)


# --- 2 and 3. achieved GB/s is bytes/s / 1e9; GFLOP/s is 2·MACs/s / 1e9 --------------------------

MACS, BYTES, MEDIAN_MS = 3_000_000, 5_000_000, 2.5
SECONDS = MEDIAN_MS / 1000
GB_S = BYTES / SECONDS / 1e9  # 2.0 GB/s (the bug, / 2**30: 1.8626...)
GFLOP_S = 2 * MACS / SECONDS / 1e9  # 2.4 GFLOP/s (the bug, MACs not FLOPs: 1.2)


def _timed_row(name: str = "standard") -> Row:
    return Row(
        name,
        "standard",
        params=100,
        norm_params=0,
        macs_analytic=MACS,
        elementwise_ops=0,
        bytes=BYTES,
        latency_ms={"cpu": Latency(median=MEDIAN_MS, iqr=0.0, runs=10, rounds=(MEDIAN_MS,))},
    )


def test_achieved_bandwidth_is_decimal_gigabytes_per_second():
    row = _timed_row()
    assert row.achieved("cpu")[1] == pytest.approx(GB_S, rel=1e-9)
    assert row.achieved("cpu")[1] == pytest.approx(2.0, rel=1e-9)
    assert row.to_dict()["achieved"]["cpu"]["gb_s"] == pytest.approx(GB_S, rel=1e-9)
    assert Row.from_dict(row.to_dict()).to_dict()["achieved"]["cpu"]["gb_s"] == pytest.approx(
        2.0, rel=1e-9
    )


def test_achieved_gflops_count_two_flops_per_mac():
    row = _timed_row()
    assert row.achieved("cpu")[0] == pytest.approx(GFLOP_S, rel=1e-9)
    assert row.achieved("cpu")[0] == pytest.approx(2.4, rel=1e-9)
    assert row.to_dict()["achieved"]["cpu"]["gflop_s"] == pytest.approx(GFLOP_S, rel=1e-9)


def test_latency_table_shows_the_same_rates():
    """The GFLOP/s and GB/s columns of ``compare``'s latency table (3 significant digits)."""
    base = sepprof.compare(k=3, cin=8, cout=16, size=8, variants="standard", trace=False)
    env = {**base.environment, "threads": 1, "memory_format": "contiguous"}
    result = replace(base, environment=env, variants=(_timed_row(),), comparisons=())
    line = next(
        ln
        for ln in to_text(compare_latency(result, "cpu", wide=True), 200).splitlines()
        if "standard" in ln
    )
    cells = line.replace("│", " ").split()
    # ... GFLOP/s, GB/s, % of roof, bound (f"{x:.3g}"; the bugs show 1.2 and 1.86)
    assert cells[-4:] == ["2.4", "2", "—", "—"]


def test_achieved_rates_of_a_timed_cli_run(cli):
    """Whatever the clock gave, each timed row's rates follow from its own bytes, MACs and
    median in the same JSON document."""
    run = cli(
        "compare", "--cin", "8", "--cout", "16", "--size", "8", "--rounds", "1",
        "--min-time", "0.001", "--threads", "1", "--json",
    )  # fmt: skip
    assert run.code == 0, run.err
    rows = [r for v in run.json()["variants"] for r in (v, *v.get("stages", ()))]
    assert rows
    for row in rows:
        seconds = row["latency_ms"]["cpu"]["median"] / 1000
        rates = row["achieved"]["cpu"]
        assert rates["gb_s"] == pytest.approx(row["bytes"] / seconds / 1e9, rel=1e-9)
        assert rates["gflop_s"] == pytest.approx(2 * row["macs_analytic"] / seconds / 1e9, rel=1e-9)


# --- 4. a BatchNorm subclass that overrides forward keeps its parameters in its bytes -----------


class MyBN(nn.BatchNorm2d):
    """Counted by the trace (it overrides forward), not by the analytic model."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)


class FunctionalBN(nn.BatchNorm2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
        )


N, C_IN, C, H, W = 2, 3, 8, 10, 12


def _bn_row(norm: type[nn.BatchNorm2d]) -> Row:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(C_IN, C, 3, padding=1, bias=False), norm(C), nn.ReLU())
    _conv, bn, _relu = profile_model(model, (N, C_IN, H, W)).layers
    assert bn.name == "1"
    return bn


@pytest.mark.parametrize("norm", [nn.BatchNorm2d, MyBN, FunctionalBN])
def test_batchnorm_bytes_include_its_scale_and_shift(norm):
    # DESIGN.md: bytes = input + output + weights at 4 bytes (fp32). BatchNorm's weights are its
    # scale and shift (2·C, ``norm_params``); the running statistics are buffers, not counted.
    elements = N * C * H * W  # input = output = 1920 elements
    expected = (elements + elements + 2 * C) * 4  # (1920 + 1920 + 16) · 4 = 15,424
    row = _bn_row(norm)
    assert (row.params, row.norm_params) == (0, 2 * C)
    assert row.bytes == expected == 15_424
    assert row.elementwise_ops == 2 * elements == row.elementwise_traced  # 2 ops per element


def test_batchnorm_subclass_row_reads_like_a_plain_one():
    plain, mine = _bn_row(nn.BatchNorm2d), _bn_row(MyBN)
    assert "traced" in mine.detail  # the subclass went through the trace-only path
    assert (mine.bytes, mine.norm_params, mine.params) == (plain.bytes, plain.norm_params, 0)
