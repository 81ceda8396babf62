"""Timing under recorded conditions: the thread choice, contention marked on every latency, the
conditions in compare's JSON, verdicts withheld, and check's timed budgets inconclusive. Rounds
and contention readings are injected, never live."""

import pytest

from sepprof.results import Latency, Speedup
from tests.next_run import next_run


class FakeMeter:
    """Stands in for contention.Meter: others' CPU during timing, as recorded."""

    def __init__(self, during):
        self.during = during

    def start(self):
        return self

    def stop(self):
        return self.during


STANDARD = [10.0, 12.0, 11.0, 10.0, 9.0]
SEPARABLE = [2.0, 2.5, 2.0, 2.0, 1.8]  # per-round ratios 5.0, 4.8, 5.5, 5.0, 5.0


@pytest.fixture
def recorded(monkeypatch):
    """Replay recorded rounds and contention readings through ``time_all``; returns the
    (items, threads) each measurement was asked for."""
    import sepprof.timing.contention as contention
    import sepprof.timing.measure as m
    import sepprof.timing.rounds as rounds

    monkeypatch.setattr(contention, "default_threads", lambda: 2)
    calls = []

    def setup(before, during):
        monkeypatch.setattr(m, "others_cpu", lambda window=0.2, reuse=0.0: before)
        monkeypatch.setattr(rounds, "Meter", lambda: FakeMeter(during))

    def fake_measure(items, *, device, n_threads, rounds, min_time, on_round=None):
        calls.append((list(items), n_threads))
        rounds_of = {"standard": STANDARD, "separable": SEPARABLE}
        return {k: Latency.from_rounds(rounds_of.get(k, [1.0] * 5), 50) for k in items}

    monkeypatch.setattr(rounds, "measure", fake_measure)
    return setup, calls


def items(device):
    return {"standard": print, "separable/depthwise": print, "separable": print}


def test_quiet_machine_times_on_every_core_and_trusts_the_speedup(recorded):
    from sepprof.timing.measure import time_all
    from sepprof.timing.options import TimingOptions

    setup, calls = recorded
    setup(before=0.05, during=0.1)
    t = time_all(items, TimingOptions())
    assert calls == [(["standard", "separable", "separable/depthwise"], 2)]  # pairs first
    assert t.env["threads"] == 2 and t.env["threads_requested"] == 2 and t.env["threads_default"]
    assert t.env["other_cpu_cores"] == {"before": 0.05, "during": 0.1, "after": 0.05}
    assert t.env["contention"] == "" and not t.env["threads_oversubscribed"]
    lat = t.latency["cpu"]
    assert Speedup.of(lat["standard"], lat["separable"]).trusted


def test_busy_core_lowers_the_default_threads_and_says_so(recorded):
    from sepprof.timing.measure import time_all
    from sepprof.timing.options import TimingOptions

    setup, calls = recorded
    setup(before=1.0, during=1.0)  # one core busy elsewhere, before and during
    t = time_all(items, TimingOptions())
    assert calls[0][1] == 1
    assert (t.env["threads"], t.env["threads_requested"]) == (1, 2)
    assert "1 of 2 cores (the free ones)" in t.env["threads_note"]
    assert any(n.startswith("threads: 1 of 2 cores") for n in t.notes)
    lat = t.latency["cpu"]
    assert t.env["contention"] == "" and Speedup.of(lat["standard"], lat["separable"]).trusted


def test_contended_timing_withholds_the_verdict(recorded):
    from sepprof.timing.measure import time_all
    from sepprof.timing.options import TimingOptions

    setup, _ = recorded
    setup(before=1.0, during=1.6)  # the load grew while timing at 1 thread
    t = time_all(items, TimingOptions())
    reason = t.env["contention"]
    assert reason.startswith("contended: other processes kept 1.6 of 2 cores busy")
    assert all(lat.contention == reason for lat in t.latency["cpu"].values())
    assert f"cpu: {reason}" in t.notes
    s = Speedup.of(t.latency["cpu"]["standard"], t.latency["cpu"]["separable"])
    assert not s.trusted and s.doubt == "contended" and s.value == pytest.approx(5.0)


def test_explicit_threads_above_the_free_cores_are_honoured_and_flagged(recorded):
    from sepprof.timing.measure import time_all
    from sepprof.timing.options import TimingOptions

    setup, calls = recorded
    setup(before=1.0, during=1.0)
    t = time_all(items, TimingOptions(threads=2))
    assert calls[0][1] == 2 and t.env["threads_oversubscribed"]
    assert (t.env["threads"], t.env["threads_requested"], t.env["threads_default"]) == (2, 2, False)
    assert t.env["contention"]  # 1 core of others against no spare core


def test_compare_json_carries_the_conditions_and_the_trust(recorded):
    import sepprof
    from sepprof.timing.options import TimingOptions

    setup, _ = recorded
    setup(before=1.0, during=1.6)
    doc = sepprof.compare(
        k=3, cin=8, cout=8, size=8, trace=False, timing=TimingOptions(rounds=5)
    ).to_dict()
    env = doc["environment"]
    assert env["threads"] == 1 and env["threads_requested"] == 2
    assert env["other_cpu_cores"]["during"] == 1.6
    comp = doc["comparisons"][0]
    assert comp["speedup_trusted"] == {"cpu": False}
    assert comp["speedup_reason"]["cpu"].startswith("contended:")
    assert comp["speedup"]["cpu"] == pytest.approx(5.0)
    printed = (comp["speedup_low"]["cpu"], comp["speedup_high"]["cpu"])
    assert printed == pytest.approx(next_run(5.0, 4.8, 5.5))


LAYERS = """\
variants: [standard, separable]
layers:
  - {name: a, k: 3, cin: 8, cout: 8, size: 8}
"""
BUDGETS = """\
budgets:
  - name: timed
    config: layers.yaml
    max_latency_ms: {cpu: 100}
    min_speedup: {cpu: 0.5}
"""


def test_check_calls_contended_timed_budgets_inconclusive(cli, recorded, tmp_path):
    setup, _ = recorded
    setup(before=1.0, during=1.6)
    (tmp_path / "layers.yaml").write_text(LAYERS)
    path = tmp_path / "budgets.yaml"
    path.write_text(BUDGETS)
    run = cli("check", path, "--repeat", "1", "--json")
    assert run.code == 0, run.err
    verdicts = {v["metric"]: v for v in run.json()["verdicts"]}
    for metric in ("latency_ms.cpu", "speedup.cpu"):
        assert verdicts[metric]["status"] == "inconclusive"
        assert "contended: other processes kept 1.6 of 2 cores" in verdicts[metric]["note"]
    strict = cli("check", path, "--repeat", "1", "--strict-timing")
    assert strict.code == 1


def test_quiet_check_judges_timed_budgets(cli, recorded, tmp_path):
    setup, _ = recorded
    setup(before=0.0, during=0.0)
    (tmp_path / "layers.yaml").write_text(LAYERS)
    path = tmp_path / "budgets.yaml"
    path.write_text(BUDGETS)
    run = cli("check", path, "--repeat", "1", "--strict-timing", "--json")
    assert run.code == 0, run.err
    assert {v["status"] for v in run.json()["verdicts"]} == {"pass"}


def test_stage_rows_carry_no_latency_unless_stages_were_timed(recorded):
    import sepprof
    from sepprof.timing.options import TimingOptions

    setup, _ = recorded
    setup(before=0.0, during=0.0)
    result = sepprof.compare(
        k=3, cin=8, cout=8, size=8, trace=False, timing=TimingOptions(), stages=False
    )
    separable = result.variants[1]
    assert separable.latency_ms and all(not s.latency_ms for s in separable.stages)
    timed = sepprof.compare(k=3, cin=8, cout=8, size=8, trace=False, timing=TimingOptions())
    assert all(s.latency_ms for s in timed.variants[1].stages)
