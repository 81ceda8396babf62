"""Row's derived numbers worked by hand (issue #29: results/rows.py was never mutated).

Every expected value is typed from its formula: FLOPs = 2 x MACs, intensity = FLOPs / bytes,
achieved GFLOP/s = FLOPs / seconds / 1e9 and GB/s = bytes / seconds / 1e9 (decimal giga).
"""

import pytest

from sepprof.results import Latency, Row


def row(macs=1_000_000, bytes_=4_000_000, params=300, **kw) -> Row:
    return Row("r", "pointwise", params, 12, macs, 50, bytes_, **kw)


def timed(ms: float) -> dict:
    return {"cpu": Latency(ms, 0.1, 10)}


def test_flops_are_two_per_mac_and_none_stays_none():
    assert row(macs=1_234_567).flops == 2_469_134
    assert row(macs=None).flops is None


def test_macs_train_is_forward_plus_backward_only_when_both_are_known():
    assert row(macs=1000, macs_backward=2500).macs_train == 3500
    assert row(macs=1000).macs_train is None
    assert row(macs=None, macs_backward=2500).macs_train is None


def test_intensity_is_flops_per_byte():
    assert row(macs=3000, bytes_=4000).intensity == 1.5  # 6000 FLOPs / 4000 B
    assert row(macs=3000, bytes_=0).intensity == 0.0
    assert row(macs=None, bytes_=4000).intensity == 0.0


def test_achieved_rates_are_decimal_giga_per_second_of_flops_and_bytes():
    # 1e6 MACs = 2e6 FLOPs and 4e6 bytes in 2 ms: 1 GFLOP/s and 2 GB/s (not 2**30)
    gflops, gbs = row(latency_ms=timed(2.0)).achieved("cpu")
    assert gflops == pytest.approx(1.0, rel=1e-12)
    assert gbs == pytest.approx(2.0, rel=1e-12)
    assert row(latency_ms=timed(2.0)).achieved("cuda") is None  # not timed there
    assert row(latency_ms=timed(0.0)).achieved("cpu") is None  # a zero median
    assert row(macs=None, latency_ms=timed(2.0)).achieved("cpu") is None


def test_achieved_is_in_the_json():
    d = row(macs=3_000_000, bytes_=1_500_000, latency_ms=timed(3.0)).to_dict()
    # 6e6 FLOPs / 3e-3 s = 2e9 FLOP/s; 1.5e6 B / 3e-3 s = 0.5e9 B/s
    assert d["achieved"]["cpu"]["gflop_s"] == pytest.approx(2.0)
    assert d["achieved"]["cpu"]["gb_s"] == pytest.approx(0.5)
    assert d["flops"] == 6_000_000 and d["intensity"] == 4.0


@pytest.mark.parametrize(
    ("fields", "ok"),
    [
        ({}, None),  # not traced
        ({"macs_traced": 100}, True),
        ({"macs_traced": 99}, False),
        ({"macs_traced": 100, "macs_flop_counter": 100, "macs_fvcore": 100}, True),
        ({"macs_traced": 100, "macs_flop_counter": 101}, False),
        ({"macs_traced": 100, "macs_fvcore": 99}, False),
        ({"macs_traced": 100, "params_traced": 300}, True),
        ({"macs_traced": 100, "params_traced": 301}, False),
    ],
)
def test_traced_ok_needs_every_counter_that_ran_to_agree(fields, ok):
    assert row(macs=100, **fields).traced_ok is ok


def test_traced_ok_is_none_when_the_analytic_count_is_na():
    assert row(macs=None, macs_traced=100).traced_ok is None


def test_part_and_stage_shares():
    a = row(macs=300, params=10, latency_ms=timed(1.0))
    b = row(macs=100, params=30, latency_ms=timed(3.0))
    assert a.part() == (300, 10, {"cpu": 1.0})
    whole = row(stages=(a, b))
    shares = whole.stage_shares
    assert [(s.macs, s.params, s.time) for s in shares] == [
        (0.75, 0.25, {"cpu": 0.25}),
        (0.25, 0.75, {"cpu": 0.75}),
    ]
    assert [s["share"]["macs"] for s in whole.to_dict()["stages"]] == [0.75, 0.25]


def test_counts_read_back_as_ints_and_na_stays_na():
    d = row(macs=None).to_dict()
    back = Row.from_dict({**d, "elementwise_ops": 50.0})
    assert back.macs_analytic is None
    assert back.elementwise_ops == 50 and type(back.elementwise_ops) is int
    assert Row.from_dict({**d, "macs_analytic": 7.0}).macs_analytic == 7
    assert type(Row.from_dict({**d, "macs_analytic": 7.0}).macs_analytic) is int


def test_a_row_without_shape_or_op_shows_neither():
    d = Row("r", "other", 1, 0, 1, 0, 0).to_dict()
    assert (d["output_shape"], d["op"]) == ("", "")
