"""Contention: others' CPU use from /proc/stat, free cores, the thread choice, and a timing
that other processes crowded marked contended. Readings are injected, never live."""

import pytest

import sepprof.timing.contention as contention
from sepprof.timing.contention import (
    Contention,
    Sample,
    choose_threads,
    free_cores,
    others_between,
)

# Two CPUs; fields: user nice system idle iowait irq softirq steal guest guest_nice (ticks).
PROC_STAT = """cpu  900 0 100 5000 50 0 0 0 0 0
cpu0 300 0 50 2500 25 0 0 0 0 0
cpu1 600 0 50 2500 25 0 0 100 0 0
intr 12345
ctxt 678
"""


def test_busy_seconds_sum_the_allowed_cpus_with_steal(monkeypatch):
    monkeypatch.setattr(contention.os, "sysconf", lambda name: 100)
    # cpu1: user 600 + system 50 + steal 100 = 750 ticks = 7.5 s; idle and iowait are not busy
    assert contention._busy_seconds(PROC_STAT, {1}) == pytest.approx(7.5)
    assert contention._busy_seconds(PROC_STAT, {0, 1}) == pytest.approx(3.5 + 7.5)
    # no affinity known: the machine-wide line (which has no steal here): 900 + 100 ticks
    assert contention._busy_seconds(PROC_STAT, None) == pytest.approx(10.0)
    assert contention._busy_seconds(PROC_STAT, {7}) is None


def test_others_are_busy_time_minus_this_process():
    a = Sample(busy=100.0, own=10.0, at=50.0)
    b = Sample(busy=103.0, own=11.0, at=52.0)  # 3 busy CPU-seconds in 2 s, 1 of them ours
    assert others_between(a, b) == pytest.approx(1.0)
    assert others_between(a, Sample(100.5, 11.0, 52.0)) == 0.0  # accounting lag: never < 0
    assert others_between(None, b) is None
    assert others_between(b, a) is None


def test_others_cpu_reads_the_counters_twice(monkeypatch):
    samples = iter([Sample(0.0, 0.0, 0.0), Sample(0.3, 0.1, 0.2)])
    monkeypatch.setattr(contention, "sample", lambda: next(samples))
    monkeypatch.setattr(contention.time, "sleep", lambda s: None)
    monkeypatch.setattr(contention, "_last", None)
    assert contention.others_cpu(0.2) == pytest.approx(1.0)
    # a sweep's next timing reuses a reading under a second old instead of waiting again
    assert contention.others_cpu(0.2, reuse=1.0) == pytest.approx(1.0)
    with pytest.raises(StopIteration):  # an older one is read afresh
        contention.others_cpu(0.2, reuse=0.0)


@pytest.mark.parametrize(
    ("others", "cores", "free"),
    [
        (None, 2, 2),  # no reading (not Linux): every core
        (0.1, 2, 2),  # background noise under the tolerance
        (0.3, 2, 1),
        (0.9, 2, 1),  # one core busy in another process
        (1.9, 2, 1),  # never below one
        (3.0, 8, 5),
    ],
)
def test_free_cores(others, cores, free):
    assert free_cores(others, cores) == free


def test_default_threads_become_the_free_cores(monkeypatch):
    monkeypatch.setattr(contention, "default_threads", lambda: 2)
    chosen = choose_threads(None, 1.0)
    assert chosen.used == 1 and not chosen.oversubscribed
    assert chosen.to_env()["threads_requested"] == 2 and chosen.to_env()["threads_default"]
    assert "1 of 2 cores (the free ones)" in chosen.note
    quiet = choose_threads(None, 0.05)
    assert quiet.used == 2 and quiet.note == "2 threads, every core"


def test_explicit_threads_above_the_free_cores_are_honoured_and_flagged(monkeypatch):
    monkeypatch.setattr(contention, "default_threads", lambda: 2)
    chosen = choose_threads(2, 1.0)
    assert chosen.used == 2 and chosen.oversubscribed
    assert chosen.to_env()["threads_oversubscribed"] is True
    assert "above the 1 free core(s)" in chosen.note
    assert not choose_threads(1, 1.0).oversubscribed


@pytest.mark.parametrize(
    ("device", "threads", "during", "contended"),
    [
        ("cpu", 1, 1.0, False),  # the other core was busy, ours was not touched
        ("cpu", 1, 1.4, True),
        ("cpu", 2, 0.2, False),
        ("cpu", 2, 0.5, True),  # half a core taken from a 2-thread timing
        ("cuda", 8, 1.0, False),  # CUDA timing holds one CPU thread, not eight
        ("cpu", 2, None, False),  # no reading: nothing to say
    ],
)
def test_a_timing_is_contended_when_others_took_its_cores(device, threads, during, contended):
    state = Contention(device, threads, 2, before=0.0, during=during, after=0.0)
    assert bool(state.reason) is contended
    if contended:
        assert state.reason.startswith("contended: other processes kept")
        assert ("--threads 1" in state.reason) is (threads > 1)
    assert state.to_dict() == {"before": 0.0, "during": during, "after": 0.0}


def test_live_reading_is_a_plausible_number():
    """Only the shape of a live reading is checked, never its value."""
    load = contention.others_cpu(0.05)
    assert load is None or 0 <= load <= contention.default_threads() + 1
