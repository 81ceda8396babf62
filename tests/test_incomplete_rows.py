"""An op the tracer cannot count never erases what is known (DESIGN.md, issue #24): its row keeps
every MAC counted, is incomplete with the op's name and call count, and the total is a lower
bound, said so in the console, JSON and markdown. n/a only where nothing is known."""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F
from torch import nn

from sepprof.commands.model_profile import profile_model
from sepprof.count import handles
from sepprof.models.model import ModelInputs
from sepprof.render.console import to_text
from sepprof.render.markdown import types_markdown
from sepprof.render.profile import profile_view
from sepprof.results import ProfileResult, Row

CONV_MACS = 6 * 6 * 4 * 3 * 3 * 3  # 3->4 channels, 3x3 taps, 6x6 outputs of an 8x8 input
OUT = 4 * 6 * 6


class ConvThen(nn.Module):
    """One leaf module whose forward runs a conv (functional, its own weight) then ``fn``: the
    tracer counts its row, the conv and ``fn`` in the same row."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 3, 3, 3))
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(F.conv2d(x, self.weight))


def profile(model: nn.Module) -> ProfileResult:
    return profile_model(model, ModelInputs.of(torch.randn(1, 3, 8, 8)))


def test_a_row_keeps_its_conv_macs_and_names_the_uncounted_op_with_its_calls():
    result = profile(ConvThen(lambda y: torch.erf(torch.erf(y)) * 2))
    (row,) = result.layers
    assert row.macs_analytic == CONV_MACS == row.macs_traced
    assert row.elementwise_ops == OUT  # the multiply by 2
    assert row.uncounted_ops == {"aten::erf": 2} and not row.complete
    totals = result.totals
    assert (totals.macs_analytic, totals.elementwise_ops) == (CONV_MACS, OUT)
    assert not totals.complete and totals.uncounted_ops == {"aten::erf": 2}


def test_a_rule_taken_out_of_the_table_makes_the_row_incomplete_not_na(monkeypatch):
    monkeypatch.delitem(handles.HANDLES, "aten::exp")
    result = profile(ConvThen(torch.exp))
    (row,) = result.layers
    assert (row.macs_analytic, row.elementwise_ops) == (CONV_MACS, 0)
    assert row.uncounted_ops == {"aten::exp": 1} and not row.complete
    monkeypatch.undo()
    whole = profile(ConvThen(torch.exp))
    assert whole.layers[0].complete and whole.totals.complete
    assert whole.totals.elementwise_ops == OUT  # exp: 1 per element once it has its rule


def test_the_lower_bound_is_said_in_json_console_and_markdown():
    result = profile(ConvThen(torch.erf))
    doc = json.loads(json.dumps(result.to_dict()))
    assert doc["layers"][0]["macs"] == CONV_MACS and doc["layers"][0]["complete"] is False
    assert doc["totals"]["macs"] == CONV_MACS and doc["totals"]["complete"] is False
    assert doc["totals"]["uncounted_ops"] == {"aten::erf": 1}
    back = ProfileResult.from_dict(doc)
    assert not back.totals.complete and back.totals.macs_analytic == CONV_MACS
    text = to_text(profile_view(result))
    assert "total: ≥ 3.888K MACs (a lower bound" in text
    assert "aten::erf ×1" in text
    page = types_markdown(result)
    assert "Total: ≥ 3.888K MACs (a lower bound; not counted: aten::erf ×1)" in page


def test_complete_results_say_nothing_of_bounds():
    result = profile(ConvThen(torch.relu))
    assert result.totals.complete and result.to_dict()["totals"]["complete"] is True
    text = to_text(profile_view(result)).split("MACs = multiply-adds")[0]  # the rule says ≥
    assert "total: 3.888K MACs," in text
    assert "≥" not in text and "could not count" not in text
    assert "≥" not in types_markdown(result)


def test_rows_read_back_from_older_json_are_complete_unless_na():
    row = Row("a", "other", 0, 0, 5, 1, 0)
    doc = row.to_dict()
    del doc["complete"]
    assert Row.from_dict(doc).complete
    doc["macs"] = doc["macs_analytic"] = None
    assert not Row.from_dict(doc).complete
