"""``sepprof compare`` through the real entry point: tables, JSON contract, exit codes."""

import statistics

import pytest

from tests.conftest import sepprof_subprocess


def test_json_contract_worked_example(cli):
    run = cli("compare", "--k", "3", "--cout", "256", "--no-time", "--json")
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["schema"] == "sepprof.compare/1"
    assert doc["sepprof_version"]
    env = doc["environment"]
    for key in ("torch", "fvcore", "cpu", "dtype", "python"):
        assert env[key]
    assert (
        doc["spec"] | {"cin": 256, "cout": 256, "k": 3, "size": 56, "stride": 1, "batch": 1}
        == doc["spec"]
    )
    std, sep = doc["variants"]
    assert std["name"] == "standard" and sep["name"] == "separable"
    assert std["macs_analytic"] == std["macs_traced"] == std["macs_flop_counter"] == 1_849_688_064
    assert sep["macs_analytic"] == sep["macs_traced"] == 212_746_240
    assert std["flops"] == 2 * std["macs_analytic"]
    assert (std["params"], sep["params"]) == (589_824, 67_840)
    assert [s["name"] for s in sep["stages"]] == ["depthwise", "pointwise"]
    dw = sep["stages"][0]
    assert dw["macs"] == 56 * 56 * 256 * 9 and dw["params"] == 2304
    assert isinstance(std["bytes"], int) and std["intensity"] > sep["intensity"]
    (comp,) = doc["comparisons"]
    assert comp["baseline"] == "standard" and comp["variant"] == "separable"
    assert comp["macs_ratio"] == pytest.approx(0.1150, abs=1e-4)
    assert comp["theory_ratio"] == pytest.approx(1 / 256 + 1 / 9)
    assert comp["params_ratio"] == pytest.approx(67_840 / 589_824)
    assert comp["speedup"] == {}
    assert doc["environment"]["timed"] is False and doc["environment"]["traced"] is True


def test_table_shows_variants_stages_and_headline(cli):
    run = cli(
        "compare",
        "--cout",
        "64",
        "--size",
        "16",
        "--variants",
        "standard,separable,grouped:8,inverted:6",
        "--no-time",
    )
    assert run.code == 0, run.err
    for text in [
        "standard",
        "separable",
        "grouped:8",
        "inverted:6",
        "└ depthwise",
        "└ pointwise",
        "└ expand",
        "└ project",
        "└ residual",
        "✓",
        "separable vs standard:",
        "fewer MACs",
        "theory",
        "1 MAC = 2 FLOPs",
    ]:
        assert text in run.out, text
    assert "timing" not in run.out.lower() and "latency" not in run.out.lower()


def test_units_flops_doubles_the_column(cli):
    macs = cli("compare", "--cout", "256", "--analytic").out
    flops = cli("compare", "--cout", "256", "--analytic", "--units", "flops").out
    assert "1.850G" in macs and "3.699G" in flops and "FLOPs" in flops


def test_analytic_does_not_trace(cli):
    doc = cli("compare", "--analytic", "--json").json()
    assert doc["variants"][0]["macs_traced"] is None


def test_timing_fills_latency_and_speedup(cli):
    """The default: 3 worker processes, --rounds each; the speedup is the median of all the
    paired per-round ratios, with each process's own median beside it."""
    run = cli(
        "compare", "--cout", "32", "--size", "14", "--rounds", "2", "--min-time", "0.01", "--json"
    )
    assert run.code == 0, run.err
    doc = run.json()
    std, sep = doc["variants"]
    for row in (std, sep, *sep["stages"]):
        lat = row["latency_ms"]["cpu"]
        assert lat["median"] > 0 and lat["runs"] > 0 and len(lat["rounds"]) == 6
        assert lat["processes"] == [2, 2, 2]
    # paired rounds: the median of each round's standard/separable ratio
    pairs = zip(std["latency_ms"]["cpu"]["rounds"], sep["latency_ms"]["cpu"]["rounds"], strict=True)
    ratios = [a / b for a, b in pairs]
    comp = doc["comparisons"][0]
    assert comp["speedup"]["cpu"] == pytest.approx(statistics.median(ratios))
    per_process = [statistics.median(ratios[i : i + 2]) for i in (0, 2, 4)]
    assert comp["speedup_per_process"]["cpu"] == pytest.approx(per_process)
    assert comp["speedup_processes"]["cpu"] == [2, 2, 2]
    assert comp["speedup_method"]["cpu"].startswith("hierarchical bootstrap")
    assert doc["environment"]["processes"] == 3
    assert doc["environment"]["threads"] >= 1
    assert "allocator" in doc["environment"]


def test_layer_flags_with_config_are_refused(cli, tmp_path):
    path = tmp_path / "layers.yaml"
    path.write_text("- {k: 3, cout: 8, size: 8}\n")
    run = cli("compare", "--config", path, "--cout", "16", "--k", "5", "--analytic")
    assert run.code == 2
    assert "--config: --k, --cout cannot be used with a layers file" in run.err


def test_layers_config(cli, tmp_path):
    path = tmp_path / "layers.yaml"
    path.write_text(
        "variants: [standard, separable, grouped:2]\n"
        "layers:\n  - {name: first, k: 3, cout: 16, size: 8}\n"
        "  - {name: second, k: 5, cout: 32, size: 8}\n"
    )
    doc = cli("compare", "--config", path, "--no-time", "--json").json()
    assert doc["schema"] == "sepprof.compare-set/1" and doc["source"] == str(path)
    docs = doc["results"]
    assert [d["spec"]["name"] for d in docs] == ["first", "second"]
    assert all(d["schema"] == "sepprof.compare/1" for d in docs)
    assert [v["name"] for v in docs[1]["variants"]] == ["standard", "separable", "grouped:2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--k", "0"], "--k: must be >= 1 (got 0)"),
        (["--cout", "0"], "--cout: must be >= 1"),
        (["--k", "9", "--size", "4", "--padding", "0"], "--k: a 9x9 kernel"),
        (
            ["--variants", "standard,seperable"],
            "--variants: unknown variant 'seperable'; did you "
            "mean 'separable'? (valid: standard, separable, grouped:G (groups), inverted:T",
        ),
        (["--variants", "grouped:3"], "--variants: grouped:3: groups must divide cin=256"),
        (["--k", "abc"], "Invalid value for '--k'"),
        (["--threads", "0"], "--threads: must be a whole number from 1 to"),
        (["--dtype", "fp64"], "--dtype: unknown value 'fp64' (valid: fp32, fp16, bf16)"),
        (["--device", "tpu"], "--device: unknown value 'tpu' (valid: cpu, cuda, all)"),
        (["--units", "gops"], "--units: unknown value 'gops' (valid: macs, flops)"),
        (["--config", "/nonexistent/layers.yaml"], "/nonexistent/layers.yaml: file not found"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli, args, message):
    run = cli("compare", "--no-time", *args)
    assert run.code == 2
    assert message in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert "Traceback" not in run.err and run.out == ""


def test_cuda_without_gpu_exits_2(cli):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    run = cli("compare", "--device", "cuda", "--cout", "16", "--size", "8")
    assert run.code == 2 and "no CUDA device is available" in run.err


def test_huge_layer_is_refused_before_allocating(cli):
    run = cli("compare", "--cout", "8192", "--size", "4096", "--no-time")
    assert run.code == 2
    assert "refusing to allocate more than half of free memory" in run.err


def test_console_script_and_module_entry_point():
    run = sepprof_subprocess("compare", "--k", "3", "--cout", "256", "--no-time")
    assert run.code == 0, run.err
    assert "separable vs standard: 8.69x fewer MACs (theory: 8.69x fewer)" in run.out
    bad = sepprof_subprocess("compare", "--k", "-1")
    assert bad.code == 2 and bad.err.strip() == "error: --k: must be >= 1 (got -1)"


def test_help_never_imports_torch():
    code = (
        "import sys\nfrom sepprof.cli import main\n"
        "for args in (['--help'], ['compare', '--help'], ['compare', '--analytic']):\n"
        "    main(args)\n"
        "assert 'torch' not in sys.modules and 'fvcore' not in sys.modules, 'torch imported'\n"
    )
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "--variants" in proc.stdout and "Counting rule" in proc.stdout


def test_strict_exits_1_and_shows_the_traced_number_on_a_mismatch(cli, monkeypatch):
    """A tracer that disagrees with the analytic count is shown, never hidden, and --strict
    turns it into exit 1. (Simulated: fvcore's conv rule is made to count one MAC too many.)"""
    from collections import Counter

    import sepprof.count.trace as trace

    honest = trace.HANDLES["aten::convolution"]

    def off_by_one(inputs, outputs):
        return honest(inputs, outputs) + Counter({trace.MACS: 1})

    monkeypatch.setitem(trace.HANDLES, "aten::convolution", off_by_one)
    run = cli("compare", "--cout", "16", "--size", "8", "--no-time", "--strict")
    assert run.code == 1
    assert "✗ 147.5K" in run.out  # the traced number (analytic 147,456 + 1), in the row
    relaxed = cli("compare", "--cout", "16", "--size", "8", "--no-time", "--json")
    assert relaxed.code == 0
    std = relaxed.json()["variants"][0]
    assert std["macs_traced"] == std["macs_analytic"] + 1


def test_a_disagreeing_fvcore_is_shown_and_fails_strict(cli, monkeypatch):
    """fvcore is an independent peer: if its count differs, the row shows its number, named."""
    from collections import Counter

    import sepprof.count.peer as peer

    honest = peer._handles

    def off_by_one():
        handles = honest()
        conv = handles["aten::_convolution"]
        handles["aten::_convolution"] = lambda i, o: conv(i, o) + Counter(conv=1)
        return handles

    monkeypatch.setattr(peer, "_handles", off_by_one)
    run = cli("compare", "--cout", "16", "--size", "8", "--no-time", "--strict")
    assert run.code == 1
    assert "✗ fvcore 147.5K" in run.out  # analytic 16·16·9·8·8 = 147,456, fvcore one more


def test_train_mode_counts_the_backward_pass(cli):
    """--mode train: backward = grad-input + grad-weight = 2x the forward MACs (hand formula),
    and torch's counter agrees once its grouped grad-weight excess ((g-1) x the true term) is
    taken off."""
    args = ["--cout", "32", "--size", "8", "--rounds", "1", "--min-time", "0.002", "--json"]
    run = cli("compare", "--mode", "train", *args)
    assert run.code == 0, run.err
    std, sep = run.json()["variants"]
    hw, c, k2 = 8 * 8, 32, 9
    assert std["macs_backward"] == 2 * hw * c * c * k2 == std["macs_backward_flop_counter"]
    dw, pw = hw * c * k2, hw * c * c
    assert sep["macs_backward"] == 2 * (dw + pw) == sep["macs_backward_flop_counter"]
    assert sep["macs_backward_flop_counter_excess"] == (c - 1) * dw  # grad-weight of depthwise
    assert sep["macs_train"] == 3 * (dw + pw)
    assert [s["macs_backward"] for s in sep["stages"]] == [2 * dw, 2 * pw]
    assert run.json()["environment"]["mode"] == "train"


def test_inference_and_training_side_by_side(cli, monkeypatch):
    """--mode inference,train times the layer in both modes; JSON is one compare-set, and the
    summary line gives both verdicts (recorded rounds: 5x in inference, 2x in training)."""
    import sepprof.timing.measure as m
    import sepprof.timing.rounds as rounds
    from sepprof.results import Latency

    def recorded(items, **_):
        train = any("train" in str(getattr(v, "mode", "")) for v in items.values())
        fast = [2.0, 2.5, 2.0, 2.0, 1.8] if not train else [5.0, 6.0, 5.5, 5.0, 4.5]
        std = [10.0, 12.0, 11.0, 10.0, 9.0]
        return {k: Latency.from_rounds(std if "standard" in k else fast, 50) for k in items}

    class Quiet:
        def start(self):
            return self

        def stop(self):
            return 0.0  # nobody else used the cores while timing

    monkeypatch.setattr(rounds, "measure", recorded)
    monkeypatch.setattr(m, "others_cpu", lambda window=0.2, reuse=0.0: 0.0)
    monkeypatch.setattr(rounds, "Meter", Quiet)
    args = ["--cout", "16", "--size", "8", "--threads", "1", "--mode", "inference,train"]
    args += ["--processes", "1"]  # the recorded rounds replace this process's clock
    doc = cli("compare", *args, "--json").json()
    assert doc["schema"] == "sepprof.compare-set/1"
    assert [r["environment"]["mode"] for r in doc["results"]] == ["inference", "train"]
    text = cli("compare", *args).out
    assert "separable vs standard on cpu: inference 5.00x" in text and "training step 2.00x" in text
