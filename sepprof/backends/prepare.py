"""What gets timed: a module run by eager PyTorch, ``torch.compile`` (inductor) or ONNX Runtime,
for inference or for a training step (forward + backward).

``prepare`` turns a module and its inputs into one callable to time; the compile or export time
is measured apart, and the backend's output is checked once against eager's (allclose at the
dtype's tolerance) and reported when it differs. Importable without torch: the constants are read
by the options and the CLI; torch is imported where a backend is prepared.
"""

from __future__ import annotations

import importlib
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sepprof.errors import UserError

BACKENDS = ("eager", "compile", "onnxruntime")
MODES = ("inference", "train")
BACKEND_HELP = (
    "eager: PyTorch as written; compile: torch.compile (inductor, freezing on for inference, "
    "compile time reported apart); onnxruntime: exported with torch.onnx, run by ONNX Runtime "
    '(needs pip install -e ".[ort]"; inference only)'
)
MODE_HELP = "inference: forward only, no autograd; train: forward + backward (gradients of ones)"
# (rtol, atol as a fraction of the largest eager output) for the output check, per dtype
TOLERANCES = {"fp32": (1e-3, 1e-4), "fp16": (1e-2, 1e-2), "bf16": (5e-2, 5e-2)}
ORT_INSTALL = 'pip install -e ".[ort]"'
ORT_PACKAGES = ("onnx", "onnxscript", "onnxruntime")  # the ``ort`` extra of pyproject.toml


@dataclass(frozen=True)
class Check:
    """A backend's output against eager's: the largest difference and whether it is close."""

    max_abs_diff: float
    scale: float
    close: bool
    dtype: str

    def note(self, backend: str, name: str) -> str | None:
        """A line for the result's notes when the outputs differ."""
        if self.close:
            return None
        rtol, atol = TOLERANCES[self.dtype]
        return (
            f"{name}: {backend} output differs from eager by up to {self.max_abs_diff:.3g} "
            f"(largest output {self.scale:.3g}; allowed rtol {rtol:g}, atol {atol:g} x largest)"
        )


@dataclass(frozen=True)
class Prepared:
    """One callable to time and what preparing it found (``prepare``'s answer)."""

    run: Callable[[], Any]
    backend: str
    mode: str
    compile_seconds: float = 0.0
    check: Check | None = None
    batchnorms_folded: int | None = None

    def __call__(self) -> Any:
        return self.run()


def check_choice(flag: str, value: str, valid: Sequence[str]) -> None:
    if value not in valid:
        raise UserError(f"{flag}: unknown value {value!r} (valid: {', '.join(valid)})")


def check_backend(backend: str, mode: str, device: str = "cpu") -> None:
    """Refuse a backend, mode and device that cannot go together, before anything is built."""
    check_choice("--backend", backend, BACKENDS)
    check_choice("--mode", mode, MODES)
    if backend == "compile" and device == "cpu":
        require_compiler()
    if backend == "onnxruntime":
        if mode == "train":
            raise UserError(
                "--backend onnxruntime: runs inference only (ONNX Runtime's training package "
                "is separate); use --mode inference, or --backend eager|compile for --mode train"
            )
        require_ort(device)


def find_compiler() -> str | None:
    """The C++ compiler inductor would use on CPU: $CXX, else c++, g++ or clang++ on PATH."""
    if os.environ.get("CXX", "").strip():
        return shutil.which(os.environ["CXX"].split()[0])
    return next((p for c in ("c++", "g++", "clang++") if (p := shutil.which(c))), None)


def require_compiler() -> None:
    if find_compiler() is None:
        raise UserError(
            "--backend compile: no C++ compiler found ($CXX, c++, g++ or clang++ on PATH); "
            "inductor compiles CPU kernels with one: install g++ (e.g. apt-get install g++), "
            "or use --backend eager"
        )


def require_ort(device: str = "cpu") -> None:
    """Refuse ``onnxruntime`` when its packages are missing or lack the device's provider."""
    missing = [name for name in ORT_PACKAGES if not _importable(name)]
    if missing:
        raise UserError(
            f"--backend onnxruntime: not installed: {', '.join(missing)} (the export needs "
            f"{', '.join(ORT_PACKAGES)}): {ORT_INSTALL}"
        )
    import onnxruntime

    if device == "cuda" and "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise UserError(
            "--backend onnxruntime --device cuda: this onnxruntime has no CUDA provider "
            "(pip install onnxruntime-gpu), or use --device cpu"
        )


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def compare_outputs(got: Any, want: Any, dtype: str) -> Check:
    """allclose of every tensor in ``got`` against ``want``, atol scaled by the largest value."""
    import torch

    pairs = list(zip(_tensors(got), _tensors(want), strict=True))
    rtol, atol = TOLERANCES[dtype]
    scale = max((float(w.abs().max()) for _, w in pairs if w.numel()), default=0.0)
    diff, close = 0.0, True
    for g, w in pairs:
        g, w = torch.as_tensor(g).float().to(w.device), w.float()
        diff = max(diff, float((g - w).abs().max())) if w.numel() else diff
        close = close and torch.allclose(g, w, rtol=rtol, atol=atol * max(scale, 1e-30))
    return Check(diff, scale, close, dtype)


def _tensors(value: Any) -> list[Any]:
    """The tensors (or arrays) in an output, a gradient list or a nest of them."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return [t for v in value for t in _tensors(v)]
    return [] if value is None else [value]


def train_step(model: Callable[..., Any], params: list[Any], inputs: Sequence[Any]) -> Any:
    """One training step's timed work: forward, then backward from a gradient of ones (the
    gradients are cleared first, as ``zero_grad(set_to_none=True)`` would); returns the output
    and the gradients. Autograd is switched back on: the timer runs items in inference mode."""
    import torch

    for p in params:
        p.grad = None
    for x in inputs:
        x.grad = None
    with torch.inference_mode(False), torch.enable_grad():
        out = model(*inputs)
        outs = [t for t in _tensors(out) if isinstance(t, torch.Tensor) and t.requires_grad]
        if not outs:
            raise UserError("--mode train: the model's output needs no gradient (nothing to train)")
        torch.autograd.backward(outs, [torch.ones_like(t) for t in outs])
    grads = [x.grad for x in inputs if x.requires_grad]
    return [t.detach() for t in outs], [p.grad for p in params], grads


def train_inputs(inputs: Sequence[Any], input_grad: bool) -> list[Any]:
    """Inputs of a training step: leaf tensors needing gradients when ``input_grad`` (a layer
    inside a network), none for a network's image."""
    return [x.detach().requires_grad_(input_grad) for x in inputs]


def prepare(
    module: Any,
    inputs: Sequence[Any],
    backend: str = "eager",
    mode: str = "inference",
    device: str = "cpu",
    *,
    dtype: str = "fp32",
    threads: int | None = None,
    input_grad: bool = True,
    kwargs: dict[str, Any] | None = None,
) -> Prepared:
    """The callable to time for ``module(*inputs, **kwargs)`` on ``backend`` in ``mode``:
    compiled or exported once here (timed apart), its output checked once against eager's.

    Call an inference callable inside ``torch.inference_mode()``, as the timer does: it adds
    no context of its own (2.4 us a call here, the time of a small op), and a compiled module
    called outside it would recompile (its inputs' dispatch keys differ), unfrozen."""
    import torch

    check_backend(backend, mode, device)
    call = module
    if kwargs and backend == "eager":
        call = partial(module, **kwargs)  # no wrapper module in what is timed
    elif kwargs:
        module = call = _with_kwargs(module, kwargs)
    if mode == "train":
        return _prepare_train(module.train(), call, inputs, backend, dtype, input_grad)
    module = module.eval()
    if backend == "eager":
        return Prepared(lambda: call(*inputs), backend, mode)
    with torch.inference_mode():
        want = module(*inputs)
    if backend == "compile":
        from sepprof.backends.compiled import compile_inference

        run, seconds, folded = compile_inference(module, inputs)
    else:
        from sepprof.backends.ort import ort_inference

        run, seconds, folded = ort_inference(module, inputs, device, dtype, threads)
    with torch.inference_mode():
        check = compare_outputs(run(), want, dtype)
    return Prepared(run, backend, mode, seconds, check, folded)


def _with_kwargs(module: Any, kwargs: dict[str, Any]) -> Any:
    """``module`` with its keyword arguments bound, so every backend sees positional inputs."""
    from torch import nn

    class WithKwargs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, *args: Any) -> Any:
            return self.inner(*args, **kwargs)

    return WithKwargs()


def _first_step(module: Any, params: list[Any], xs: list[Any]) -> Any:
    """One eager training step (the reference output), refusing what training cannot run."""
    try:
        return train_step(module, params, xs)
    except ValueError as exc:
        if "more than 1 value per channel" not in str(exc):
            raise
        raise UserError(
            "--mode train: BatchNorm in training mode needs more than one value per channel "
            "(batch x height x width > 1 at every BatchNorm); use a larger --batch or "
            "input size"
        ) from None


def _prepare_train(
    module: Any,
    call: Callable[..., Any],
    inputs: Sequence[Any],
    backend: str,
    dtype: str,
    input_grad: bool,
) -> Prepared:
    """A training step of ``module`` (called as ``call``, its keyword arguments bound)."""
    xs = train_inputs(inputs, input_grad)
    params = [p for p in module.parameters() if p.requires_grad]
    want = _first_step(call, params, xs)
    if backend == "eager":
        return Prepared(lambda: train_step(call, params, xs), backend, "train")
    import torch

    from sepprof.backends.compiled import compile_failure

    compiled = torch.compile(module, dynamic=False)
    start = time.perf_counter()
    with compile_failure():
        got = train_step(compiled, params, xs)
    seconds = time.perf_counter() - start
    check = compare_outputs(got, want, dtype)
    return Prepared(lambda: train_step(compiled, params, xs), backend, "train", seconds, check)


def timed_item(
    module: Any,
    inputs: Sequence[Any],
    device: str,
    opts: Any,
    input_grad: bool = True,
    kwargs: dict[str, Any] | None = None,
) -> Prepared:
    """What ``measure`` times for ``module(*inputs)`` under ``opts`` (a ``TimingOptions``):
    ``prepare`` with the options' backend, mode and dtype, called with torch's thread count
    already set to the timing's (inductor builds it into its kernels; ORT sessions take it).
    The timer calls items in inference mode (no autograd), as ``prepare`` asks."""
    return prepare(
        module,
        inputs,
        getattr(opts, "backend", "eager"),
        getattr(opts, "mode", "inference"),
        device,
        dtype=opts.dtype,
        input_grad=input_grad,
        kwargs=kwargs,
    )


def backend_facts(items: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per timed item that was compiled or exported: its compile seconds, the output check
    (and its note when the output differs from eager's) and the BatchNorms folded."""
    return {
        name: {
            "compile_seconds": item.compile_seconds,
            "output_close": item.check.close if item.check else None,
            "output_max_abs_diff": item.check.max_abs_diff if item.check else None,
            "output_note": item.check.note(item.backend, name) if item.check else None,
            "batchnorms_folded": item.batchnorms_folded,
        }
        for name, item in items.items()
        if isinstance(item, Prepared) and item.backend != "eager"
    }


def backend_env(opts: Any, facts: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The environment block's backend facts: backend, mode, and per item (first process,
    every device) compile seconds, output checks and BatchNorms folded."""
    merged = {name: fact for per_device in facts for name, fact in per_device.items()}
    return {
        "backend": getattr(opts, "backend", "eager"),
        "mode": getattr(opts, "mode", "inference"),
        "compile_seconds": {n: f["compile_seconds"] for n, f in merged.items()},
        "backend_checks": merged,
    }


def backend_notes(env: dict[str, Any]) -> list[str]:
    """A note per item whose backend output differs from eager's."""
    checks = env.get("backend_checks", {})
    return [f["output_note"] for f in checks.values() if f.get("output_note")]
