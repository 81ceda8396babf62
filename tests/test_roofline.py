import pytest

from sepprof.costs import Cost
from sepprof.roofline import Roofline, roof_time


def test_attainable_is_min_of_peak_and_bandwidth_times_intensity():
    roof = Roofline(peak_flops=200e9, bandwidth=40e9)
    assert roof.ridge == pytest.approx(5.0)
    assert roof.attainable(2.2) == pytest.approx(88e9)
    assert roof.attainable(60) == pytest.approx(200e9)


def test_roof_time_sums_ops_and_names_the_bound():
    roof = Roofline(peak_flops=100e9, bandwidth=10e9)
    memory_op = Cost(macs=1_000_000, bytes=10_000_000)  # 2 MFLOP vs 10 MB: 1 ms memory
    compute_op = Cost(macs=500_000_000, bytes=1_000_000)  # 1 GFLOP: 10 ms compute
    seconds, bound = roof_time([memory_op], roof)
    assert seconds == pytest.approx(1e-3) and bound == "memory"
    seconds, bound = roof_time([memory_op, compute_op], roof)
    assert seconds == pytest.approx(11e-3) and bound == "compute"
