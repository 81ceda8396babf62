"""CUDA: timed on a GPU when one is present; skipped with a reason everywhere else (the
no-GPU behaviour itself, exit 2 with a clear message, is tested in test_cli_compare)."""

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
@pytest.mark.parametrize("memory_format", ["contiguous", "channels_last"])
def test_compare_times_on_cuda(cli, dtype, memory_format):
    run = cli(
        "compare",
        "--cout",
        "64",
        "--size",
        "28",
        "--device",
        "cuda",
        "--dtype",
        dtype,
        "--memory-format",
        memory_format,
        "--rounds",
        "2",
        "--min-time",
        "0.005",
        "--json",
    )
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["environment"]["gpu"] and doc["environment"]["dtype"] == dtype
    assert doc["variants"][1]["latency_ms"]["cuda"]["median"] > 0
    assert doc["comparisons"][0]["speedup"]["cuda"] > 0
    assert doc["environment"]["memory_format"] == memory_format
    assert doc["comparisons"][0]["speedup_trusted"]["cuda"] is False  # 2 rounds: no verdict
    reason = doc["comparisons"][0]["speedup_reason"]["cuda"]
    assert reason.startswith(("unstable: only 2 paired round(s)", "contended:"))
    fp32 = cli("compare", "--cout", "64", "--size", "28", "--analytic", "--json").json()
    fp32_bytes = fp32["variants"][0]["bytes"]
    assert doc["variants"][0]["bytes"] == (fp32_bytes if dtype == "fp32" else fp32_bytes // 2)


def test_device_all_times_cpu_and_cuda(cli):
    doc = cli(
        "compare",
        "--cout",
        "32",
        "--size",
        "14",
        "--device",
        "all",
        "--rounds",
        "2",
        "--min-time",
        "0.005",
        "--json",
    ).json()
    assert set(doc["comparisons"][0]["speedup"]) == {"cpu", "cuda"}


def test_calibrate_cuda(cli):
    run = cli("calibrate", "--device", "cuda", "--json")
    assert run.code == 0, run.err
    assert run.json()["peak_flops"] > 1e12


def test_cuda_timing_waits_for_the_kernel():
    """A kernel that spins the GPU for about a millisecond must time as long as it runs: without
    synchronisation only its microsecond launch would be timed."""
    from sepprof.timing.timer import measure

    cycles = 2_000_000  # >= 1 ms at any clock up to 2 GHz
    lat = measure(
        {"spin": lambda: torch.cuda._sleep(cycles)},
        device="cuda",
        n_threads=1,
        rounds=3,
        min_time=0.01,
    )
    assert lat["spin"].median > 0.3  # ms; a launch alone takes ~0.005


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_half_precision_modules_and_inputs_are_half_on_cuda(dtype):
    from sepprof.spec.blocks import layer_variant
    from sepprof.spec.layer import LayerSpec, parse_variants
    from sepprof.timing.measure import block_items
    from sepprof.timing.options import TimingOptions

    layer = LayerSpec(k=3, cin=16, cout=16, size=8)
    block = layer_variant(layer, parse_variants(["separable"], layer)[0])
    opts = TimingOptions(devices=("cuda",), dtype=dtype, memory_format="channels_last")
    out = block_items(block, 1, "cuda", opts)["separable"]()
    expected = {"fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    assert out.dtype == expected and out.is_cuda
    assert out.is_contiguous(memory_format=torch.channels_last)
