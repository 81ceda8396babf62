"""count/model_count's rows worked by hand (issue #29: the module was never mutated).

A module outside the analytic model is counted by the trace; its bytes are every element its
calls took and returned plus its weights (BatchNorm's included) once per call, x 4 bytes (fp32).
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sepprof.count.model_count import count_model
from sepprof.models.model import ModelInputs


def rows(model: nn.Module, *shape: int, trace: bool = True) -> dict:
    counted = count_model(model, ModelInputs.of(torch.randn(*shape)), trace=trace)
    return {r.name: r for r in counted.rows}


class MyBN(nn.BatchNorm2d):
    """A BatchNorm the analytic model does not take (it overrides forward): traced."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)


class Twice(nn.Module):
    def __init__(self, child: nn.Module) -> None:
        super().__init__()
        self.child = child

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.child(self.child(x))


def test_a_traced_row_moves_its_calls_tensors_and_its_weights_once_per_call():
    row = rows(Twice(MyBN(4)), 2, 4, 3, 3)["child"]
    assert row.detail == "MyBN (traced)" and row.kind == "elementwise"
    assert (row.params, row.norm_params, row.macs_analytic) == (0, 8, 0)
    # each call: 72 elements in, 72 out; weight and bias 4 + 4, read on each of the 2 calls
    assert row.bytes == (2 * (72 + 72) + 2 * 8) * 4


class Gram(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ x.transpose(-1, -2)


class Attend(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(x, x, x)


class Doubles(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


class FunctionalConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(5, 4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight)


def test_traced_kinds_are_read_from_the_macs_they_ran():
    gram = rows(nn.Sequential(Gram()), 1, 4, 6)["0"]
    assert (gram.kind, gram.macs_analytic) == ("matmul", 4 * 4 * 6)
    attend = rows(nn.Sequential(Attend()), 1, 2, 4, 6)["0"]
    assert attend.kind == "attention" and attend.macs_analytic > 0
    doubles = rows(nn.Sequential(Doubles()), 1, 4, 6)["0"]
    assert (doubles.kind, doubles.macs_analytic, doubles.elementwise_ops) == ("elementwise", 0, 24)
    conv = rows(nn.Sequential(FunctionalConv()), 1, 4, 3, 3)["0"]
    assert (conv.kind, conv.macs_analytic, conv.params) == ("other", 9 * 5 * 4, 20)
    # in: 36 elements; out 45; weight 20: one call, fp32
    assert conv.bytes == (36 + 45 + 20) * 4


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + x


def test_a_forward_row_counts_its_own_ops_and_no_bytes():
    found = rows(Residual(), 2, 4, 5, 5)
    add = found["model (forward)"]
    assert (add.kind, add.macs_analytic, add.elementwise_ops, add.bytes) == (
        "elementwise",
        0,
        2 * 4 * 5 * 5,
        0,
    )
    assert add.detail == "ops in forward()"
    conv = found["conv"]
    assert conv.macs_analytic == 2 * 5 * 5 * 4 * 4 * 9 == conv.macs_traced
    assert conv.shape == "4x5x5"


def test_a_module_called_twice_sums_its_calls_and_charges_its_params_once():
    for trace in (True, False):
        conv = rows(Twice(nn.Conv2d(3, 3, 3, padding=1)), 1, 3, 5, 5, trace=trace)["child"]
        assert conv.macs_analytic == 2 * (5 * 5 * 3 * 3 * 9), trace
        assert conv.params == 3 * 3 * 9 + 3, trace
        assert conv.detail.endswith(" ×2 calls"), trace
    once = rows(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1)), 1, 3, 5, 5)["0"]
    assert "calls" not in once.detail


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
def test_a_non_square_conv_says_its_geometry_per_side():
    conv = nn.Conv2d(16, 32, (1, 5), stride=(1, 2), padding=(0, 2), groups=2)
    row = rows(nn.Sequential(conv), 1, 16, 4, 9)["0"]
    assert row.detail == "1x5/1x2 pad 0x2 dil 1x1 g=2 16->32"
    # output 4 x 5; per output: 16/2 input channels x 5 taps
    assert row.macs_analytic == 4 * 5 * 32 * 8 * 5 == row.macs_traced
    same = nn.Conv1d(3, 6, 4, padding="same", dilation=1)
    row = rows(nn.Sequential(same), 1, 3, 10)["0"]
    assert row.detail == "4/1 pad 1.5 dil 1 3->6"  # 'same' pads 3 in all: 1.5 a side
    up = nn.ConvTranspose1d(3, 6, 2, stride=2)
    assert rows(nn.Sequential(up), 1, 3, 10)["0"].detail == "2/2 pad 0 dil 1 transposed 3->6"


def test_traced_rows_keep_the_tracers_and_torchs_counts():
    row = rows(nn.Sequential(nn.Conv2d(3, 4, 3)), 1, 3, 6, 6)["0"]
    macs = 4 * 4 * 4 * 3 * 9
    assert row.macs_analytic == row.macs_traced == row.macs_flop_counter == macs
    assert row.elementwise_traced == row.elementwise_ops == 4 * 4 * 4  # the bias adds
    assert row.uncounted_ops == {}
    untraced = rows(nn.Sequential(nn.Conv2d(3, 4, 3)), 1, 3, 6, 6, trace=False)["0"]
    assert untraced.macs_traced is None and untraced.macs_flop_counter is None


class Erf(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.erf(x)


def test_a_row_of_nothing_but_an_op_without_a_rule_is_na_not_zero():
    row = rows(nn.Sequential(Erf()), 1, 4, 6)["0"]
    assert (row.macs_analytic, row.elementwise_ops, row.kind) == (None, None, "other")
    assert row.uncounted_ops == {"aten::erf": 1} and not row.complete
    untraced = rows(nn.Sequential(Erf(), nn.ReLU()), 1, 4, 6, trace=False)
    assert untraced["0"].macs_analytic is None and untraced["0"].detail == "Erf (needs the trace)"
    assert untraced["1"].elementwise_ops == 24


def test_bytes_follow_the_element_size():
    """input + output + weights at the dtype's size: 3x6x6 in, 4x4x4 out, 4x3x3x3 weights."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False))
    for itemsize in (2, 4):
        counted = count_model(model, ModelInputs.of(torch.randn(1, 3, 6, 6)), itemsize=itemsize)
        assert counted.rows[0].bytes == (108 + 64 + 108) * itemsize
    counted = count_model(Twice(MyBN(4)), ModelInputs.of(torch.randn(2, 4, 3, 3)), itemsize=2)
    assert counted.rows[0].bytes == (2 * (72 + 72) + 2 * 8) * 2


class Tied(nn.Module):
    """Two 1x1 convs sharing one weight: the trace charges it to the first that uses it."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 3, 1, bias=False)
        self.b = nn.Conv2d(3, 3, 1, bias=False)
        self.b.weight = self.a.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


def test_a_shared_weight_is_counted_once_with_the_trace():
    counted = count_model(Tied(), ModelInputs.of(torch.randn(1, 3, 4, 4)))
    found = {r.name: r for r in counted.rows}
    assert (found["a"].params, found["b"].params, counted.totals.params) == (9, 0, 9)
    assert found["b"].macs_analytic == 4 * 4 * 3 * 3  # its MACs are its own


def test_a_traced_row_has_its_output_shape():
    assert rows(nn.Sequential(Gram()), 1, 4, 6)["0"].shape == "4x4"
    assert rows(Twice(MyBN(4)), 2, 4, 3, 3)["child"].shape == "4x3x3"


def test_modules_that_compute_nothing_get_no_row_with_or_without_the_trace():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.Identity(), nn.Dropout(), nn.Flatten(), nn.Unflatten(1, (4, 16))
    )
    for trace in (True, False):
        assert list(rows(model.eval(), 1, 3, 6, 6, trace=trace)) == ["0"], trace


class Spare(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.spare = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_parameters_nothing_used_are_an_unused_row():
    spare = rows(Spare(), 1, 3, 2, 2)["spare (did not run)"]
    assert (spare.kind, spare.params, spare.macs_analytic, spare.detail) == (
        "unused",
        4 * 2 + 2,
        0,
        "parameters only",
    )


class Transpose(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


class Pad(nn.Module):
    """Holds a parameter it only concatenates: no MACs, no elementwise ops, still a row."""

    def __init__(self) -> None:
        super().__init__()
        self.extra = nn.Parameter(torch.zeros(1, 2, 6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.extra], 1)


def test_a_traced_module_gets_a_row_only_when_it_counts_something_or_holds_parameters():
    found = rows(nn.Sequential(Transpose(), nn.Linear(4, 3)), 1, 4, 6)
    assert list(found) == ["1"]  # the transpose only moves a view
    pad = rows(nn.Sequential(Pad()), 1, 4, 6)["0"]
    assert (pad.macs_analytic, pad.elementwise_ops, pad.params, pad.norm_params) == (0, 0, 12, 0)


def test_without_the_trace_a_module_outside_the_model_is_na_and_named_in_the_notes():
    counted = count_model(
        nn.Sequential(Erf(), nn.ReLU()), ModelInputs.of(torch.randn(1, 4, 6)), trace=False
    )
    erf = counted.rows[0]
    assert (erf.kind, erf.shape, erf.bytes, erf.macs_analytic) == ("other", "4x6", 0, None)
    assert "n/a: 0 (Erf: not in the analytic model)" in " ".join(counted.notes)
