"""``torch.compile`` (inductor) for inference: BatchNorm folded by freezing, compile timed apart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
import torch._inductor.config as inductor_config
from torch import nn

from sepprof.errors import UserError


@contextmanager
def compile_failure() -> Iterator[None]:
    """A failed compilation (no Python headers, an unsupported op) as exit 2 with the reason."""
    from torch._dynamo.exc import BackendCompilerFailed

    try:
        yield
    except BackendCompilerFailed as exc:
        inner = getattr(exc, "inner_exception", None) or exc
        lines = str(inner).strip().splitlines()
        reason = f"{type(inner).__name__}: {lines[0] if lines else ''}"
        raise UserError(
            f"--backend compile: inductor could not compile this module ({reason}); "
            "use --backend eager"
        ) from None


def foldable_batchnorms(module: nn.Module) -> int:
    """BatchNorms registered right after a conv (as sepprof's stages hold them): the ones
    inductor's freezing folds into the conv's weights."""
    count, previous = 0, None
    for sub in module.modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm) and isinstance(
            previous, nn.modules.conv._ConvNd
        ):
            count += 1
        previous = sub
    return count


def compile_inference(
    module: nn.Module, inputs: Sequence[torch.Tensor]
) -> tuple[Callable[[], Any], float, int]:
    """A compiled eval-mode ``module`` to call in inference mode, as the timer does (a call
    outside it recompiles, unfrozen); the seconds its first call (the compilation) took; the
    BatchNorms freezing folds. Freezing treats the weights as constants, as a deployed
    inference graph does (``TORCHINDUCTOR_FREEZING=1``)."""
    compiled = torch.compile(module, dynamic=False)

    def run() -> Any:
        return compiled(*inputs)

    start = time.perf_counter()
    with torch.inference_mode(), inductor_config.patch(freezing=True), compile_failure():
        run()
    return run, time.perf_counter() - start, foldable_batchnorms(module)
