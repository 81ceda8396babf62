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
