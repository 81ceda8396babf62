"""The roofline, in tables and in the chart, is min(peak, intensity x bandwidth), worked by hand.

Added for issue #18: the chart once drew its own roof inline, so a bug there went unseen.
"""

import pytest

from sepprof.count.costs import Cost
from sepprof.render import plots
from sepprof.results import Latency, Row
from sepprof.results.calibration import Calibration
from sepprof.results.roofline import Roofline
from sepprof.timing.roofline import op_times, roof_time

PEAK, DRAM, CACHE = 200e9, 40e9, 100e9  # ridge 5 FLOP/byte on DRAM, 2 on cache


def test_attainable_below_at_and_above_the_ridge():
    roof = Roofline(PEAK, DRAM)
    assert roof.attainable(1.0) == 40e9
    assert roof.attainable(5.0) == 200e9
    assert roof.attainable(10.0) == 200e9
    assert roof.ridge == 5.0
    assert roof.bandwidth_level == "DRAM"


def test_curve_is_log_spaced_and_takes_the_min():
    xs, ys = Roofline(PEAK, DRAM).curve(0.1, 1000.0, 5)
    assert xs == pytest.approx([0.1, 1.0, 10.0, 100.0, 1000.0])
    assert ys == pytest.approx([4e9, 40e9, 200e9, 200e9, 200e9])
    assert len(Roofline(PEAK, DRAM).curve(1.0, 2.0)[0]) == 101


def test_op_times_are_flops_over_peak_and_bytes_over_bandwidth():
    compute, memory = op_times(Cost(macs=50, bytes=8), Roofline(100.0, 2.0))
    assert (compute, memory) == (1.0, 4.0)  # 100 FLOPs / 100 FLOP/s; 8 B / 2 B/s


def test_roof_time_counts_each_op_on_its_own_bound():
    roof = Roofline(100.0, 2.0)
    memory_op = Cost(macs=50, bytes=8)  # compute 1 s, memory 4 s
    compute_op = Cost(macs=500, bytes=2)  # compute 10 s, memory 1 s
    tie = Cost(macs=100, bytes=4)  # 2 s either way: counted once
    assert roof_time([memory_op], roof) == (4.0, "memory")
    assert roof_time([compute_op], roof) == (10.0, "compute")
    assert roof_time([compute_op, compute_op], roof) == (20.0, "compute")
    assert roof_time([memory_op, compute_op], roof) == (14.0, "compute")
    assert roof_time([memory_op, memory_op, compute_op], roof) == (18.0, "compute")
    assert roof_time([memory_op, memory_op, memory_op, compute_op], roof) == (22.0, "memory")
    assert roof_time([tie], roof) == (2.0, "compute")
    assert roof_time([], roof) == (0.0, "compute")


def _chart_lines(monkeypatch, tmp_path, cache):
    drawn = {}

    def keep(fig, folder, stem):
        drawn["fig"] = fig
        return f"{stem}.png"

    monkeypatch.setattr(plots, "_save", keep)
    cal = Calibration("cpu", "test cpu", "fp32", 2, "2.13", PEAK, "mm", DRAM, cache, None)
    row = Row("depthwise", "depthwise", 2304, 0, 1_806_336, 0, 1_000_000)
    row = Row(**{**row.__dict__, "latency_ms": {"cpu": Latency(0.5, 0.01, 10)}})
    plots.roofline_chart([("dw", row)], cal, "cpu", tmp_path)
    return [line for line in drawn["fig"].axes[0].get_lines() if len(line.get_xdata()) > 2]


def test_chart_draws_min_of_peak_and_bandwidth_times_intensity(monkeypatch, tmp_path):
    lines = _chart_lines(monkeypatch, tmp_path, CACHE)
    assert len(lines) == 2
    for line, bandwidth in zip(lines, (DRAM, CACHE), strict=True):
        xs, ys = line.get_xdata(), line.get_ydata()
        assert min(xs) < 1 and max(xs) >= 1000  # spans both sides of the ridge
        hand = [min(PEAK, x * bandwidth) / 1e9 for x in xs]  # GFLOP/s
        assert list(ys) == pytest.approx(hand)
        assert max(ys) == pytest.approx(200.0)


def test_chart_without_cache_bandwidth_draws_one_roof(monkeypatch, tmp_path):
    assert len(_chart_lines(monkeypatch, tmp_path, None)) == 1
