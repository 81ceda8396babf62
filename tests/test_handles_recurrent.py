"""Recurrent layers (issue #24): nn.LSTM, nn.GRU and nn.RNN counted by formula, whichever kernel
runs. Per layer, direction, step and batch element: G·(in·H + H_r·H) MACs, G = 4 (LSTM), 3 (GRU),
1 (RNN), in = the input size for the first layer and dirs·H_out above it, H_r = H_out = proj_size
or H; LSTM's projection adds H·proj_size. CPU's fused LSTM kernel (``mkldnn_rnn_layer``) and
cuDNN's (``_cudnn_rnn``) must give what the op-by-op path counts, elementwise ops included.
"""

from __future__ import annotations

import pytest
import torch
from test_mutants_handles import counted
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from sepprof.commands.model_profile import profile_model
from sepprof.count import handles
from sepprof.models.model import ModelInputs

pytestmark = [
    pytest.mark.filterwarnings("ignore:LSTM with projections is not supported:UserWarning"),
    pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN:UserWarning"),
]
GATES = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1}


def formula(cls, inp: int, hidden: int, tokens: int, layers=1, dirs=1, proj=0) -> int:
    """MACs typed from the definition: each layer and direction, every step and batch element."""
    g, out = GATES[cls], proj or hidden
    total = 0
    for layer in range(layers):
        fan_in = inp if layer == 0 else dirs * out
        per_token = g * (fan_in * hidden + out * hidden) + hidden * proj
        total += dirs * tokens * per_token
    return total


def op_by_op(module: nn.Module, x) -> tuple[int, int]:
    """The same module counted with oneDNN off: the LSTM decomposes into matmuls and cells."""
    with torch.backends.mkldnn.flags(enabled=False):
        return counted(module, x)


CASES = [
    (nn.LSTM, {}, (3, 5, 8), 15),
    (nn.LSTM, {"num_layers": 2, "bidirectional": True, "batch_first": True}, (5, 3, 8), 15),
    (nn.LSTM, {"bias": False}, (3, 5, 8), 15),
    (nn.LSTM, {"proj_size": 4, "num_layers": 2}, (3, 5, 8), 15),
    (nn.GRU, {"num_layers": 2, "bidirectional": True}, (3, 5, 8), 15),
    (nn.GRU, {"bias": False}, (4, 2, 8), 8),
    (nn.RNN, {"nonlinearity": "relu", "num_layers": 3}, (3, 5, 8), 15),
]


@pytest.mark.parametrize(("cls", "kw", "shape", "tokens"), CASES, ids=str)
def test_recurrent_layers_by_formula_and_fused_equals_op_by_op(cls, kw, shape, tokens):
    torch.manual_seed(0)
    module = cls(8, 16, **kw)
    x = torch.randn(*shape)
    dirs = 2 if kw.get("bidirectional") else 1
    expected = formula(cls, 8, 16, tokens, kw.get("num_layers", 1), dirs, kw.get("proj_size", 0))
    macs, eltwise = counted(module, x)
    assert macs == expected
    assert (macs, eltwise) == op_by_op(module, x)


def test_lstm_hand_numbers():
    """LSTM(8, 16) on 3 steps x 5 sequences: 15 x 4 x (8 x 16 + 16 x 16) = 23,040 MACs; per
    unit and token 19 cell ops + 8 bias adds: 15 x 16 x 27 = 6,480."""
    assert counted(nn.LSTM(8, 16), torch.randn(3, 5, 8)) == (23_040, 6_480)
    assert counted(nn.LSTM(8, 16, bias=False), torch.randn(3, 5, 8)) == (23_040, 15 * 16 * 19)


def test_packed_sequences_count_only_the_steps_that_ran():
    lengths = [5, 4, 2]
    packed = pack_padded_sequence(torch.randn(5, 3, 8), lengths)
    assert counted(nn.LSTM(8, 16), packed)[0] == formula(nn.LSTM, 8, 16, sum(lengths))
    assert counted(nn.GRU(8, 16), packed)[0] == formula(nn.GRU, 8, 16, sum(lengths))


@pytest.mark.parametrize(
    ("cls", "kw", "mode"),
    [
        (nn.LSTM, {"num_layers": 2, "bidirectional": True}, 2),
        (nn.LSTM, {"proj_size": 4, "bias": False}, 2),
        (nn.GRU, {"num_layers": 2}, 3),
        (nn.RNN, {"bidirectional": True}, 1),
        (nn.RNN, {"nonlinearity": "relu", "bias": False}, 0),
    ],
    ids=str,
)
def test_cudnn_rule_gives_the_op_by_op_count(cls, kw, mode):
    """``_cudnn_rnn``'s arguments as nn.RNNBase passes them (the CPU has no cuDNN to run)."""
    module = cls(8, 16, **kw)
    x = torch.randn(3, 5, 8)
    dirs = 2 if kw.get("bidirectional") else 1
    args = [x, module._flat_weights, 0, None, None, None, mode, 16, kw.get("proj_size", 0)]
    args += [kw.get("num_layers", 1), False, 0.0, False, dirs == 2, [], None]
    got = handles.cudnn_rnn(args, [])
    assert (got[handles.MACS], got[handles.ELTWISE]) == op_by_op(module, x)


class ConvLSTMHead(nn.Module):
    """A conv feature extractor and an LSTM over its columns: the pattern the issue measured."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.lstm = nn.LSTM(8 * 6, 32, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)  # N x 8 x 6 x 10
        seq = y.permute(0, 3, 1, 2).flatten(2)  # N x 10 steps x 48
        return self.lstm(seq)[0]


def test_conv_lstm_head_keeps_the_lstm_macs():
    result = profile_model(ConvLSTMHead(), ModelInputs.of(torch.randn(2, 1, 6, 10)))
    rows = {r.name: r for r in result.layers}
    lstm = rows["lstm"]
    assert lstm.macs_analytic == formula(nn.LSTM, 48, 32, 2 * 10, dirs=2) == 2 * 20 * 4 * 80 * 32
    assert lstm.complete and lstm.kind == "matmul"
    conv = 2 * 6 * 10 * 8 * 9
    assert result.totals.macs_analytic == conv + lstm.macs_analytic and result.totals.complete


class CRNN(nn.Module):
    """#24's conv + LSTM head, built here as a CRNN text recogniser: a 3x32x128 word image,
    three 3x3 convs (64, 96, 128 channels) with a 2x2 max pool after the first two, the 8x32 map
    read left to right as 32 steps of 128·8 = 1024 features by one LSTM of 128 units, and 37
    classes per step (36 characters and a CTC blank). The issue did not publish its layout;
    this one is chosen so that its hand count is the issue's 111,038,464 MACs."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 96, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(96, 128, 3, padding=1),
            nn.ReLU(),
        )
        self.lstm = nn.LSTM(128 * 8, 128, batch_first=True)
        self.classifier = nn.Linear(128, 37)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.features(x)  # N x 128 x 8 x 32
        steps = maps.permute(0, 3, 1, 2).flatten(2)  # N x 32 steps x 1024
        return self.classifier(self.lstm(steps)[0])


def test_conv_lstm_head_counts_111_038_464_macs():
    convs = (
        32 * 128 * 64 * 3 * 9  # conv1: 32x128 positions, 64 out, 3 in, 3x3     =  7,077,888
        + 16 * 64 * 96 * 64 * 9  # conv2: 16x64 positions, 96 out, 64 in          = 56,623,104
        + 8 * 32 * 128 * 96 * 9  # conv3: 8x32 positions, 128 out, 96 in         = 28,311,552
    )
    lstm = 32 * 4 * (1024 * 128 + 128 * 128)  # steps · G · (in·H + H·H)      = 18,874,368
    classifier = 32 * 128 * 37  # steps · H · classes                          =    151,552
    assert convs + lstm + classifier == 111_038_464
    result = profile_model(CRNN(), ModelInputs.of(torch.randn(1, 3, 32, 128)))
    rows = {r.name: r for r in result.layers}
    assert rows["lstm"].macs_analytic == lstm == formula(nn.LSTM, 1024, 128, 32)
    assert rows["classifier"].macs_analytic == classifier
    assert result.totals.macs_analytic == 111_038_464 and result.totals.complete
    assert result.totals.macs_traced == 111_038_464
