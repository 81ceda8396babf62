"""ONNX Runtime for inference: export with ``torch.onnx``, run with ORT's CPU provider (CUDA's on
``--device cuda``), graph optimisations at their default level (all), export and session build
timed apart, and the optimised graph read back to see which BatchNorms it folded."""

from __future__ import annotations

import io
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sepprof.errors import UserError

PROVIDERS = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider"]}


def export(module: nn.Module, inputs: Sequence[torch.Tensor]) -> bytes:
    """The ONNX model of eval-mode ``module`` on ``inputs`` (named input0, input1, ...).

    The TorchScript exporter (``dynamo=False``) is tried first: on this 2-core machine it takes
    ~0.05 s a block against ~1 s (6 s the first time) for the dynamo exporter, and sepprof's
    modules trace cleanly; the dynamo exporter is the fallback. Both fold eval-mode BatchNorm.
    """
    names = [f"input{i}" for i in range(len(inputs))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            buffer = io.BytesIO()
            torch.onnx.export(
                module, tuple(inputs), buffer, dynamo=False, input_names=names,
                output_names=["output"], do_constant_folding=True,
            )  # fmt: skip
            return buffer.getvalue()
        except Exception as legacy:  # any exporter failure: try the other one
            try:
                program = torch.onnx.export(module, tuple(inputs), dynamo=True, verbose=False)
            except Exception as exc:  # both failed: say why, exit 2
                raise UserError(
                    f"--backend onnxruntime: torch.onnx cannot export this module "
                    f"({_first_line(legacy)}; dynamo exporter: {_first_line(exc)})"
                ) from None
            return program.model_proto.SerializeToString()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def _options(threads: int | None, optimized: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only (the optimised-model dump warns otherwise)
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.optimized_model_filepath = str(optimized)
    return options


def batchnorm_nodes(model: Any) -> int:
    """BatchNormalization nodes in an ONNX graph (subgraphs not searched)."""
    return sum(node.op_type == "BatchNormalization" for node in model.graph.node)


def session(model: bytes, device: str, dtype: str, threads: int | None) -> tuple[Any, int]:
    """An ORT session for ``model`` and the BatchNormalization nodes left after optimisation."""
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="sepprof-ort-") as tmp:
        optimized = Path(tmp) / "optimized.onnx"
        try:
            sess = ort.InferenceSession(
                model, _options(threads, optimized), providers=PROVIDERS[device]
            )
        except Exception as exc:  # ORT raises its own types: report, exit 2
            raise UserError(
                f"--backend onnxruntime --dtype {dtype}: ONNX Runtime cannot run this model "
                f"on {device} ({_first_line(exc)})"
            ) from None
        left = batchnorm_nodes(onnx.load(str(optimized), load_external_data=False))
    return sess, left


def ort_inference(
    module: nn.Module,
    inputs: Sequence[torch.Tensor],
    device: str,
    dtype: str,
    threads: int | None,
) -> tuple[Callable[[], Any], float, int]:
    """A callable running ``module`` under ORT on ``inputs`` (as contiguous host arrays: on
    CUDA the copies to and from the device are part of the time), the seconds export and
    session build took, and the BatchNorms the optimised graph no longer has."""
    start = time.perf_counter()
    model = export(module, inputs)
    sess, left = session(model, device, dtype, threads)
    seconds = time.perf_counter() - start
    wanted = {i.name for i in sess.get_inputs()}  # the exporter drops inputs a module ignores
    feeds = {
        f"input{i}": x.detach().cpu().contiguous().numpy()
        for i, x in enumerate(inputs)
        if f"input{i}" in wanted
    }
    bns = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())

    def run() -> Any:
        return sess.run(None, feeds)[0]

    try:
        run()
    except Exception as exc:  # ORT's own error types: report, exit 2
        raise UserError(
            f"--backend onnxruntime --dtype {dtype}: ONNX Runtime failed to run this model "
            f"on {device} ({_first_line(exc)})"
        ) from None
    return run, seconds, bns - left
