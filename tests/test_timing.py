"""Timing as values: rounds, medians, IQR, unstable rounds, speedup uncertainty, thread count."""

import pytest
import torch

from sepprof.errors import UserError
from sepprof.results import Latency, Speedup, split
from sepprof.timing.timer import check_device, measure, tune_allocator


@pytest.mark.parametrize(
    ("rounds", "unstable"),
    [
        ([0.3, 0.31, 0.3, 3.2, 4.5], True),
        ([0.3, 0.31, 0.29, 0.3, 0.32], False),
        ([1.0, 1.05, 1.1, 1.12, 1.6], True),
        ([1.0, 1.2, 1.4, 1.6, 1.8], False),
        ([1.0, 1.1, 1.2, 1.3, 1.4], False),
        ([2.0], False),
    ],
)
def test_two_clusters_of_rounds_are_flagged(rounds, unstable):
    assert split(sorted(rounds)) is unstable


def test_speedup_uncertainty_from_iqrs():
    s = Speedup.of(Latency(10.0, 1.0, 5), Latency(2.0, 0.2, 5))
    assert s.value == pytest.approx(5.0)
    assert s.error == pytest.approx(5.0 * ((0.05**2 + 0.05**2) ** 0.5))


def test_measure_in_rounds_with_explicit_threads():
    seen = []
    x = torch.randn(64, 64)

    def probe():
        seen.append(torch.get_num_threads())
        return x @ x

    ticks = []
    result = measure(
        {"mm": probe, "add": lambda: x + x},
        device="cpu",
        n_threads=1,
        rounds=3,
        min_time=0.005,
        on_round=lambda: ticks.append(1),
    )
    assert set(result) == {"mm", "add"}
    assert len(result["mm"].rounds) == 3 and len(ticks) == 3
    assert result["mm"].runs >= 3 and result["mm"].median > 0
    assert set(seen) == {1}  # Timer ran with the thread count asked for, not its default


def test_allocator_tuning_is_recorded():
    import platform

    state = tune_allocator()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert state == "glibc, mmap threshold 32 MiB, trim threshold 1 GiB"
    else:
        assert state.startswith("system (not glibc")
    assert tune_allocator() == state  # set once per process


def test_unknown_device_is_refused():
    with pytest.raises(UserError, match="unknown device"):
        check_device("tpu", "fp32")


def test_timer_block_runner_exists():
    """timing.run_block relies on Timer._timeit (the block runner Timer's own autorange methods
    use); a torch release that drops it must fail here, not time silently wrong."""
    from torch.utils.benchmark import Timer

    from sepprof.timing.timer import run_block

    assert run_block(Timer("pass"), 10) > 0


def test_measure_gives_up_after_its_timeout(monkeypatch):
    import sepprof.timing.timer as timing

    monkeypatch.setattr(timing, "TIMEOUT", 0.0)
    with pytest.raises(UserError, match="timing stopped after 0 s"):
        measure({"x": lambda: None}, device="cpu", n_threads=1, rounds=3, min_time=0.001)


def test_all_timing_of_a_command_shares_one_cap(monkeypatch):
    import sepprof.timing.options as options

    monkeypatch.setattr(options, "_deadline", None)
    options.start_timing_clock(0.0)  # the CLI starts this clock once per command
    with pytest.raises(UserError, match="timing stopped after 0 s"):
        measure({"x": lambda: None}, device="cpu", n_threads=1, rounds=3, min_time=0.001)


def test_rounds_alternate_direction_so_pairs_stay_adjacent():
    from sepprof.timing.rounds import paired_order
    from sepprof.timing.timer import round_order

    items = {"standard": 1, "separable": 2, "separable/depthwise": 3, "grouped:4": 4}
    order = list(paired_order(items))
    assert order == ["standard", "separable", "grouped:4", "separable/depthwise"]
    assert round_order(order, 0) == order
    assert round_order(order, 1) == ["separable/depthwise", "grouped:4", "separable", "standard"]


def test_measure_pairs_rounds_of_every_item(monkeypatch):
    """Round i of every item comes from the same pass: a b, then b a, so the pair is adjacent
    in every round and a drift falls on each side alike."""
    import sepprof.timing.timer as timing

    seen, rounds = [], []

    def fake_round(timer, number, min_time, max_time, threshold=0.1):
        timing.run_block(timer, 1)
        rounds.append(seen[-1])
        return [1e-3]

    monkeypatch.setattr(timing, "timed_round", fake_round)
    items = {"a": lambda: seen.append("a"), "b": lambda: seen.append("b")}
    result = measure(items, device="cpu", n_threads=1, rounds=4, min_time=0.001)
    assert rounds == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert result["a"].rounds == result["b"].rounds == (1.0, 1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("fields", "flag"),
    [
        ({"min_time": float("nan")}, "--min-time"),
        ({"min_time": float("inf")}, "--min-time"),
        ({"min_time": 1e9}, "--min-time"),
        ({"min_time": 0.0}, "--min-time"),
        ({"rounds": 0}, "--rounds"),
        ({"rounds": 1001}, "--rounds"),
        ({"threads": 0}, "--threads"),
        ({"threads": 10_000}, "--threads"),
        ({"processes": 0}, "--processes"),
        ({"processes": 51}, "--processes"),
        ({"dtype": "fp64"}, "--dtype"),
        ({"devices": ("tpu",)}, "--device"),
    ],
)
def test_nonsense_timing_options_are_refused_naming_the_flag(fields, flag):
    from sepprof.timing.options import TimingOptions

    with pytest.raises(UserError, match=f"^{flag}: "):
        TimingOptions(**fields)


def test_sane_timing_options_are_accepted():
    from sepprof.timing.options import MAX_MIN_TIME, TimingOptions, machine_cpus

    opts = TimingOptions(min_time=MAX_MIN_TIME, rounds=1000, threads=machine_cpus(), processes=3)
    assert opts.thread_count() == machine_cpus()


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--min-time", "nan"),
        ("--min-time", "inf"),
        ("--min-time", "1e9"),
        ("--rounds", "0"),
        ("--rounds", "1001"),
        ("--threads", "0"),
        ("--threads", "10000"),
        ("--processes", "0"),
    ],
)
def test_cli_refuses_nonsense_timing_flags_with_exit_2(cli, flag, value):
    run = cli("compare", "--cout", "8", "--size", "8", flag, value)
    assert run.code == 2 and flag in run.err and "Traceback" not in run.err


def test_processes_pool_rounds_from_fresh_worker_processes(tmp_path):
    """--processes 2: the rounds of two other processes (not this one), pooled in order, with
    how many rounds each timed; every measurement forks fresh ones."""
    import os
    import sys

    import cloudpickle

    from sepprof.timing.measure import time_all
    from sepprof.timing.options import TimingOptions

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    log = tmp_path / "pids"

    def make_items(device):
        def probe():
            with open(log, "a") as f:
                f.write(f"{os.getpid()}\n")

        return {"probe": probe}

    ticks = []
    opts = TimingOptions(rounds=2, min_time=0.001, processes=2, threads=1)
    t = time_all(make_items, opts, lambda label, total: lambda: ticks.append(label))
    pids = set(log.read_text().split())
    assert len(pids) == 2 and str(os.getpid()) not in pids
    assert len(t.latency["cpu"]["probe"].rounds) == 4
    assert ticks == ["timing on cpu, process 1 of 2"] * 2 + ["timing on cpu, process 2 of 2"] * 2
    assert t.env["processes"] == 2
    assert t.latency["cpu"]["probe"].processes == (2, 2)
    time_all(make_items, opts)
    again = set(log.read_text().split()) - pids
    assert len(again) == 2 and str(os.getpid()) not in again


def test_networks_come_before_their_stages_so_compared_networks_are_adjacent():
    from pathlib import Path

    from sepprof.spec.network import Options, load_network
    from sepprof.timing.measure import plan_items
    from sepprof.timing.options import TimingOptions
    from sepprof.timing.rounds import paired_order

    net = load_network(Path(__file__).resolve().parents[1] / "configs/networks/mobilenet_v1.yaml")
    plans = {
        "as written": net.plan(Options(0.25, 32)),
        "as standard": net.plan(Options(0.25, 32, "standard")),
    }
    keys = list(paired_order(plan_items(plans, 1, "cpu", TimingOptions(), "as written")))
    assert keys[:2] == ["as written", "as standard"] and len(keys) > 2


def test_work_a_worker_cannot_load_is_a_user_error(tmp_path):
    """Work that pickles here but cannot be rebuilt in the worker (its module is not importable
    there) ends in one line naming --processes, not a traceback."""
    from sepprof.timing.options import TimingOptions
    from sepprof.timing.workers import _run_one

    work = b"cno_such_module\nfactory\n."  # a pickle of the global no_such_module.factory
    opts = TimingOptions(processes=1, rounds=1, min_time=0.001, threads=1)
    with pytest.raises(UserError, match="^--processes: a worker process cannot load this work"):
        _run_one(work, opts, "process 1 of 1", None)


def test_no_cuda_runtime_notice_is_dropped_and_nothing_else():
    """torch's CUDA build logs "No CUDA runtime is found" when Timer's module imports
    cpp_extension on a machine without a GPU; only that record is filtered."""
    import logging

    from sepprof.timing.timer import _NoCudaRuntimeNotice

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("torch.utils.cpp_extension", 30, "x", 1, msg, None, None)

    quiet = _NoCudaRuntimeNotice()
    assert not quiet.filter(record("No CUDA runtime is found, using CUDA_HOME='/usr/local'"))
    assert quiet.filter(record("Error checking compiler version for c++"))
    assert logging.getLogger("torch.utils.cpp_extension").filters == []  # removed after import


def test_fvcore_imports_without_its_jit_script_warning_and_keeps_others(tmp_path):
    """Importing fvcore.nn warns that torch.jit.script is deprecated (FutureWarning on torch
    2.14, DeprecationWarning before); sepprof's import silences exactly that, in a fresh process
    where every warning is an error."""
    import subprocess
    import sys

    flags = ["-W", "error::DeprecationWarning", "-W", "error::FutureWarning"]
    ours = "from sepprof.count.peer import _fvcore_nn; _fvcore_nn(); print('ok')"
    proc = subprocess.run([sys.executable, *flags, "-c", ours], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "ok\n" and proc.stderr == "", proc.stderr
    plain = subprocess.run(
        [sys.executable, *flags, "-c", "import fvcore.nn"], capture_output=True, text=True
    )
    assert plain.returncode != 0 and "torch.jit.script" in plain.stderr
    later = (
        "import warnings; from sepprof.count.peer import _fvcore_nn; _fvcore_nn();"
        "warnings.warn('`torch.jit.script` is deprecated', FutureWarning)"
    )
    proc = subprocess.run([sys.executable, *flags, "-c", later], capture_output=True, text=True)
    assert proc.returncode != 0  # the filter did not outlive the import


def test_a_worker_runs_this_sepprof_even_where_it_is_not_installed(tmp_path):
    """A copy of the package, importable only through this process's sys.path (not installed,
    not on PYTHONPATH): the workers import the same copy."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "sepprof", tmp_path / "sepprof", ignore=shutil.ignore_patterns("*.pyc"))
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "import sepprof.timing.workers as w, sepprof.timing.options as o\n"
        "def items(device):\n"
        "    import sepprof\n"
        "    return {'x': lambda: print(sepprof.__file__, file=sys.stderr)}\n"
        "import cloudpickle, __main__; cloudpickle.register_pickle_by_value(__main__)\n"
        "w.run_workers(items, o.TimingOptions(processes=1, rounds=1, min_time=0.001), ('cpu',), 1)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    printed = {line for line in proc.stderr.split("\n") if line.endswith("__init__.py")}
    assert printed == {str(tmp_path / "sepprof" / "__init__.py")}
