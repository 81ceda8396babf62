"""Backends (#17): each one's output matches eager, refusals exit 2 with the reason, and the
elementwise column says what folding removed. ORT tests skip without onnxruntime; the one
compile test (~25 s on 2 cores) skips without a C++ compiler."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch
from torch import nn

from sepprof.backends import prepare as backends
from sepprof.backends.folding import block_folding, elementwise_note, folds
from sepprof.backends.prepare import Check, compare_outputs, prepare
from sepprof.errors import UserError
from sepprof.models.variants import build_block, random_input
from sepprof.spec.blocks import layer_variant
from sepprof.spec.layer import LayerSpec, parse_variants
from sepprof.spec.ops import module_name
from sepprof.timing.options import TimingOptions

HAS_ORT = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime"))
needs_ort = pytest.mark.skipif(
    not HAS_ORT, reason='onnxruntime not installed: pip install -e ".[ort]"'
)
HAS_CXX = backends.find_compiler() is not None


def _block(variant: str = "separable", cin: int = 8, cout: int = 12, size: int = 6):
    layer = LayerSpec(k=3, cin=cin, cout=cout, size=size)
    return layer_variant(layer, parse_variants(variant, layer)[0])


def _trained_bn(module: nn.Module) -> nn.Module:
    """Non-trivial BatchNorm statistics, so folding them has something to get wrong."""
    torch.manual_seed(1)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-1, 1)
    return module


def test_eager_inference_is_the_module_called_as_is_in_eval_mode():
    block = _block()
    module, x = build_block(block).train(), random_input(1, block.inp)
    prepared = prepare(module, [x], "eager", "inference")
    assert not module.training  # BatchNorm on its running statistics
    with torch.inference_mode():  # as the timer calls every item
        out = prepared()
    assert torch.equal(out, module(x))
    assert prepared.check is None and prepared.compile_seconds == 0


@needs_ort
@pytest.mark.parametrize("variant", ["standard", "separable", "inverted:4"])
def test_onnxruntime_matches_eager_and_folds_every_batchnorm(variant):
    block = _block(variant)
    module, x = _trained_bn(build_block(block)), random_input(2, block.inp)
    prepared = prepare(module, [x], "onnxruntime", "inference", threads=1)
    bns = {"standard": 1, "separable": 2, "inverted:4": 3}[variant]
    assert prepared.check.close, prepared.check
    assert prepared.check.max_abs_diff < 1e-4
    assert prepared.batchnorms_folded == bns
    assert prepared.compile_seconds > 0
    want = module(x).detach().numpy()
    assert abs(prepared() - want).max() < 1e-4 * max(1.0, abs(want).max())


@needs_ort
def test_onnxruntime_runs_a_stage_that_ignores_its_block_input():
    block = _block("separable")
    stage = block.stages[1]
    sub = getattr(build_block(block), module_name(stage.name))
    xs = random_input(1, stage.ops[0].inp)
    prepared = prepare(sub, [xs, random_input(1, block.inp)], "onnxruntime")
    assert prepared.check.close
    assert torch.allclose(torch.from_numpy(prepared()), sub(xs).detach(), atol=1e-5)


def test_onnxruntime_refuses_training():
    with pytest.raises(UserError, match="--backend onnxruntime: runs inference only"):
        prepare(nn.Conv2d(2, 2, 1), [torch.ones(1, 2, 2, 2)], "onnxruntime", "train")


ORT_EXTRA = ("onnx", "onnxscript", "onnxruntime")  # pyproject.toml's ``ort`` extra


def test_missing_ort_extra_names_every_missing_package_and_the_install_command(monkeypatch):
    """The whole extra hidden (as in a bare ``.[test]`` environment): the same message whether
    or not the extra is installed here."""
    for name in ORT_EXTRA:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(UserError) as err:
        prepare(nn.Conv2d(2, 2, 1), [torch.ones(1, 2, 2, 2)], "onnxruntime")
    assert str(err.value) == (
        "--backend onnxruntime: not installed: onnx, onnxscript, onnxruntime (the export needs "
        'onnx, onnxscript, onnxruntime): pip install -e ".[ort]"'
    )


def test_missing_onnxruntime_alone_is_named(monkeypatch):
    """Only onnxruntime hidden: it is named (with whatever else this environment lacks)."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(UserError, match=r"not installed: (onnx, )?(onnxscript, )?onnxruntime \("):
        prepare(nn.Conv2d(2, 2, 1), [torch.ones(1, 2, 2, 2)], "onnxruntime")


def test_the_ort_packages_are_the_ort_extra():
    from pathlib import Path

    from sepprof.backends.prepare import ORT_PACKAGES

    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extra = pyproject["project"]["optional-dependencies"]["ort"]
    assert {d.split(">")[0].split("=")[0] for d in extra} == set(ORT_PACKAGES) == set(ORT_EXTRA)


def test_compile_without_a_compiler_exits_2_with_the_reason(monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(backends.shutil, "which", lambda name: None)
    with pytest.raises(UserError, match="--backend compile: no C\\+\\+ compiler found"):
        prepare(nn.Conv2d(2, 2, 1), [torch.ones(1, 2, 2, 2)], "compile")


def test_unknown_backend_and_mode_are_refused():
    with pytest.raises(UserError, match="--backend: unknown value 'tvm'"):
        backends.check_backend("tvm", "inference")
    with pytest.raises(UserError, match="--mode: unknown value 'eval'"):
        backends.check_backend("eager", "eval")


def test_output_check_reports_a_difference_beyond_the_dtype_tolerance():
    want = torch.tensor([1.0, -2.0, 4.0])
    assert compare_outputs(want + 1e-5, want, "fp32").close  # 1e-5 < 1e-3 rel and 4e-4 abs
    bad = compare_outputs(want + torch.tensor([0, 0, 0.01]), want, "fp32")
    assert not bad.close and bad.max_abs_diff == pytest.approx(0.01, rel=1e-3)
    assert "compile output differs from eager by up to 0.01" in bad.note("compile", "separable")
    assert compare_outputs(want + torch.tensor([0, 0, 0.01]), want, "fp16").close


def test_output_check_covers_gradients_too():
    a = (torch.ones(2), [torch.ones(3), None], [])
    b = (torch.ones(2), [torch.ones(3) * 1.1, None], [])
    assert not compare_outputs(a, b, "fp32").close
    assert Check(0.0, 1.0, True, "fp32").note("compile", "x") is None


def test_folding_removes_batchnorm_ops_but_keeps_a_bias_add():
    block = _block("separable", cin=8, cout=12, size=6)
    # dw BN on 8x6x6 and pw BN on 12x6x6, batch 3: BN's 2 ops/element become 1 bias add
    assert block_folding(block, 3).batchnorms == 2
    assert block_folding(block, 3).elementwise_removed == 3 * (8 * 36 + 12 * 36) * (2 - 1)
    assert folds("onnxruntime", "inference") and folds("compile", "inference")
    assert not folds("compile", "train") and not folds("eager", "inference")
    note = elementwise_note("onnxruntime", "inference", block_folding(block, 3), 2)
    assert "2 BatchNorm(s) folded" in note and "2,160 of those ops do not run" in note
    assert "MACs unchanged" in note
    assert elementwise_note("eager", "inference", block_folding(block, 3), None) is None


@pytest.mark.skipif(not HAS_CXX, reason="torch.compile needs a C++ compiler (none on PATH)")
def test_compile_matches_eager_in_inference_THE_ONE_COMPILE_TEST():
    """The only test that compiles (inductor, ~15-25 s on 2 cores): the smallest conv + BN."""
    module = _trained_bn(
        nn.Sequential(nn.Conv2d(2, 2, 3, padding=1, bias=False), nn.BatchNorm2d(2))
    )
    x = torch.randn(1, 2, 4, 4)
    from torch._dynamo.utils import counters

    graphs = counters["stats"]["unique_graphs"]
    prepared = prepare(module, [x], "compile", "inference")
    assert prepared.check.close, prepared.check
    assert prepared.batchnorms_folded == 1
    assert prepared.compile_seconds > 0
    with torch.inference_mode():  # as the timer calls it
        assert torch.allclose(prepared(), module(x), rtol=1e-4, atol=1e-5)
    # one graph, the frozen one compiled while preparing: the timed call did not recompile
    assert counters["stats"]["unique_graphs"] == graphs + 1


def _run(backend: str, mode: str, low: float, high: float, subject: str = "worked example"):
    from sepprof.results.backends import BackendRun
    from sepprof.results.latency import Speedup

    value = (low + high) / 2
    speedup = Speedup(value, (high - low) / 2, low, high)
    latency = {"standard": 1.0, "separable": 1.0 / value}
    return BackendRun(subject, backend, mode, "cpu", latency, speedup, 0.115, None)


def test_kernels_claim_holds_only_when_a_backend_flips_eagers_verdict():
    from sepprof.commands.backend_matrix import kernels_claim
    from sepprof.results.backends import BackendMatrix
    from sepprof.results.claims import FAILS, HOLDS, INCONCLUSIVE, UNMEASURED

    eager = _run("eager", "inference", 3.0, 3.4)
    same = BackendMatrix((eager, _run("onnxruntime", "inference", 4.1, 4.9)))
    flipped = BackendMatrix((eager, _run("eager", "train", 0.6, 0.8)))
    edge = BackendMatrix((eager, _run("compile", "inference", 0.9, 1.2)))
    assert kernels_claim(same).verdict == FAILS
    assert "onnxruntime inference 4.50x (4.10x–4.90x)" in kernels_claim(same).measured
    assert kernels_claim(flipped).verdict == HOLDS
    assert kernels_claim(edge).verdict == INCONCLUSIVE
    assert kernels_claim(BackendMatrix((eager,))).verdict == UNMEASURED


def test_backend_matrix_round_trips_and_derives_speedups_over_eager():
    from sepprof.results.backends import BackendMatrix

    eager = _run("eager", "inference", 3.0, 3.4)
    ort = _run("onnxruntime", "inference", 4.1, 4.9)
    ort = type(ort)(**{**ort.__dict__, "latency_ms": {"standard": 0.5, "separable": 0.1}})
    matrix = BackendMatrix((eager, ort), {"compile train": "no compiler"})
    d = matrix.to_dict()
    assert d["runs"][1]["over_eager"] == {"standard": 2.0, "separable": pytest.approx(3.125)}
    assert d["runs"][1]["realised"] == pytest.approx(4.5 * 0.115)
    assert BackendMatrix.from_dict(d).to_dict() == d


class _Keyed(nn.Module):
    """A --model style module: a keyword argument and a dict output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1)

    def forward(self, x, scale=1.0):
        return {"y": self.conv(x) * scale}


def test_keyword_arguments_and_dict_outputs_train_and_export():
    x = torch.randn(1, 2, 3, 3)
    step = prepare(_Keyed(), [x], "eager", "train", kwargs={"scale": 2.0}, input_grad=False)
    outs, grads, _ = step()
    assert outs[0].shape == (1, 3, 3, 3)
    assert torch.allclose(grads[1], torch.full((3,), 2.0 * 9))  # bias grad: 9 positions x 2
    if HAS_ORT:
        module = _Keyed()
        ort_run = prepare(module, [x], "onnxruntime", kwargs={"scale": 2.0})
        assert ort_run.check.close
        assert torch.allclose(torch.from_numpy(ort_run()), module(x, 2.0)["y"], atol=1e-5)


def test_a_differing_output_becomes_a_note_in_the_result():
    bad = Check(0.5, 2.0, False, "fp32")
    items = {
        "separable": backends.Prepared(lambda: None, "compile", "inference", 3.0, bad, 2),
        "standard": backends.Prepared(lambda: None, "eager", "inference"),
    }
    facts = backends.backend_facts(items)
    assert list(facts) == ["separable"] and facts["separable"]["compile_seconds"] == 3.0
    env = backends.backend_env(TimingOptions(backend="compile"), [facts])
    assert env["compile_seconds"] == {"separable": 3.0}
    assert backends.backend_notes(env) == [
        "separable: compile output differs from eager by up to 0.5 "
        "(largest output 2; allowed rtol 0.001, atol 0.0001 x largest)"
    ]


@needs_ort
def test_measure_reports_compile_seconds_and_checks_of_each_item():
    from sepprof.commands.compare import compare

    opts = TimingOptions(backend="onnxruntime", rounds=1, min_time=0.001, threads=1)
    result = compare(None, "standard,separable", trace=False, timing=opts, k=3, cin=4, size=4)
    env = result.environment
    assert env["backend"] == "onnxruntime" and env["mode"] == "inference"
    items = {"standard", "separable", "separable/depthwise", "separable/pointwise"}
    assert set(env["compile_seconds"]) == items
    assert all(env["backend_checks"][i]["output_close"] for i in items)
    assert env["backend_checks"]["separable"]["batchnorms_folded"] == 2


def test_kernels_claim_gives_no_verdict_on_a_contended_speedup():
    from dataclasses import replace

    from sepprof.commands.backend_matrix import kernels_claim
    from sepprof.results.backends import BackendMatrix
    from sepprof.results.claims import INCONCLUSIVE

    eager = _run("eager", "inference", 3.0, 3.4)
    train = _run("eager", "train", 0.6, 0.8)
    train = replace(train, speedup=replace(train.speedup, trusted=False, reason="contended: x"))
    assert kernels_claim(BackendMatrix((eager, train))).verdict == INCONCLUSIVE


def test_a_failed_compilation_exits_2_with_the_compilers_reason():
    from torch._dynamo.exc import BackendCompilerFailed

    from sepprof.backends.compiled import compile_failure

    inner = RuntimeError("fatal error: Python.h: No such file or directory\ncompilation terminated")
    with pytest.raises(UserError) as err, compile_failure():
        raise BackendCompilerFailed(lambda: None, inner, None)
    assert str(err.value) == (
        "--backend compile: inductor could not compile this module (RuntimeError: fatal error: "
        "Python.h: No such file or directory); use --backend eager"
    )


def test_folding_note_reads_the_run_and_trusts_only_what_ort_showed():
    from sepprof.backends.folding import blocks_note

    blocks = [_block("standard"), _block("separable")]  # 1 + 2 BatchNorms after convs
    removed = 1 * 36 * 12 * 1 + (8 * 36 + 12 * 36) * 1  # batch 1, 6x6, BN 2 ops -> bias 1
    checks = {"standard": {"batchnorms_folded": 1}, "separable": {"batchnorms_folded": 2}}
    ort = {"backend": "onnxruntime", "mode": "inference", "backend_checks": checks}
    note = blocks_note(blocks, 1, ort)
    assert note.startswith("onnxruntime: 3 BatchNorm(s) folded into the conv before them (3 of 3 ")
    assert f"{removed:,} of those ops do not run" in note
    compiled = blocks_note(blocks, 1, {"backend": "compile", "mode": "inference"})
    assert "(inductor's freezing folds them)" in compiled
    assert blocks_note(blocks, 1, {"backend": "compile", "mode": "train"}) is None
    assert blocks_note(blocks, 1, {}) is None
