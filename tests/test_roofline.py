import pytest

from sepprof.count.costs import Cost
from sepprof.results.roofline import Roofline
from sepprof.timing.roofline import roof_time


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


def calibration(peak=200e9, dram=40e9, contention="", created="2026-11-01T00:00:00+00:00"):
    from sepprof.results.calibration import Calibration

    return Calibration(
        "cpu",
        "test cpu",
        "fp32",
        2,
        "2.x",
        peak,
        "mm",
        dram,
        None,
        None,
        created=created,
        contention=contention,
    )


def test_a_contended_or_much_lower_calibration_does_not_replace_the_stored_one():
    from sepprof.timing.calibration import refusal

    stored = calibration()
    assert refusal(calibration(peak=190e9, dram=36e9), stored) == ""  # within 20%
    assert refusal(calibration(), None) == ""
    assert "measured under load (other processes kept" in refusal(
        calibration(contention="contended: other processes kept 1.2 of 2 cores busy"), None
    )
    lower = refusal(calibration(peak=97e9), stored)
    assert "peak is 52% below the stored one (measured 2026-11-01" in lower  # 1 - 97/200
    assert "DRAM bandwidth is 80% below" in refusal(calibration(dram=8e9), stored)


def test_calibrate_keeps_the_stored_roof_unless_forced(monkeypatch):
    import sepprof.timing.calibration as cal
    from sepprof.commands.calibrate import calibrate
    from sepprof.timing.options import TimingOptions

    measured = iter([calibration(), calibration(peak=97e9), calibration(peak=97e9)])
    monkeypatch.setattr(cal, "calibrate", lambda device, dtype, threads, tick=None: next(measured))
    opts = TimingOptions(threads=2)
    first = calibrate(opts, probe_seconds=0)[0]
    assert first.path is not None and "saved to" in first.message
    second = calibrate(opts, probe_seconds=0)[0]
    assert second.path is None and "not saved: its peak is 52% below" in second.message
    assert "--force" in second.message
    assert cal.load_calibration("cpu", "fp32", 2).peak_flops == 200e9  # kept
    forced = calibrate(opts, force=True, probe_seconds=0)[0]
    assert forced.path is not None
    assert cal.load_calibration("cpu", "fp32", 2).peak_flops == 97e9


def test_rates_are_the_best_round(monkeypatch):
    """Noise only slows a measurement: a calibration rate comes from its fastest round."""
    import sepprof.timing.timer as timing
    from sepprof.results import Latency
    from sepprof.timing.calibration import _rates

    def fake(items, **kw):
        return {k: Latency.from_rounds([4.0, 2.0, 8.0], 10) for k in items}

    monkeypatch.setattr(timing, "measure", fake)
    rates = _rates({"mm": (print, 1e9)}, "cpu", 1, None)
    assert rates == {"mm": pytest.approx(1e9 / 2e-3)}  # 1 GFLOP in the best round's 2 ms


def test_report_roof_is_the_stored_one_or_measured_and_not_stored(monkeypatch):
    import sepprof.timing.calibration as cal

    monkeypatch.setattr(cal, "calibrate", lambda *a, **k: calibration(contention="contended: x"))
    roof, source = cal.roof_for("cpu", "fp32", 2, quick=True)
    assert roof.contention == "contended: x"
    assert "measured for this report (quick) and not stored; contended: x" in source
    assert cal.load_calibration("cpu", "fp32", 2) is None
    cal.save_calibration(calibration())
    roof, source = cal.roof_for("cpu", "fp32", 2)
    assert roof == calibration()
    assert source == "stored calibration of 2026-11-01T00:00:00+00:00 (`sepprof calibrate`)"
