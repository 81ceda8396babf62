"""A training step counted by ``torch.utils.flop_counter`` (forward and backward), the peer check
of ``backward``'s rule (imports torch).

torch 2.13's formula for a conv's grad-weight ignores ``groups``: it counts a grouped conv's
grad-weight ``groups`` times over (a depthwise 3x3 on 256 channels, 256x). The count is kept as
torch gives it and the excess is reported beside it, so the check is exact both ways: torch's
grad-input and the corrected grad-weight must equal the rule. The fix was proposed upstream in
pytorch/pytorch#183405 (closed unmerged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode, conv_backward_flop

from sepprof.models.variants import build_block, build_plan, random_input
from sepprof.spec.ops import Block, Plan
from sepprof.units import flops_to_macs

# torch's formula on shapes (the registered one is wrapped to take tensors)
_CONV_BACKWARD = conv_backward_flop.__wrapped__


@dataclass(frozen=True)
class CountedStep:
    """MACs of one forward + backward as torch's counter reads them."""

    forward_macs: int
    backward_macs: int
    grad_weight_excess: int

    @property
    def backward_macs_corrected(self) -> int:
        """torch's backward count less its grouped-conv grad-weight excess."""
        return self.backward_macs - self.grad_weight_excess


def _recording_rule(excess: list[int]) -> Any:
    """torch's own conv-backward rule, also noting how much of its grad-weight term is
    over-counted (``(groups - 1) / groups`` of it)."""

    def rule(grad_out, x, w, bias, stride, padding, dilation, transposed, out_pad, groups,
             output_mask, out_shape, **kwargs):  # fmt: skip
        args = (grad_out, x, w, bias, stride, padding, dilation, transposed, out_pad, groups)
        if output_mask[1]:
            grad_weight = _CONV_BACKWARD(*args, [False, True, False], out_shape)
            excess.append(grad_weight - grad_weight // groups)
        return _CONV_BACKWARD(*args, output_mask, out_shape)

    return rule


def count_step(
    module: torch.nn.Module, inputs: Sequence[torch.Tensor], input_grad: bool = True
) -> CountedStep:
    """Forward ``module(*inputs)`` and backward from a gradient of ones, counted by
    ``FlopCounterMode``; ``input_grad``: whether the inputs need gradients (False for a
    network's image)."""
    xs = [x.detach().requires_grad_(input_grad) for x in inputs]
    excess: list[int] = []
    mapping = {torch.ops.aten.convolution_backward: _recording_rule(excess)}
    counter = FlopCounterMode(display=False, custom_mapping=mapping)
    with counter:
        out = module(*xs)
        forward = counter.get_total_flops()
        out.backward(torch.ones_like(out))
    backward = counter.get_total_flops() - forward
    module.zero_grad(set_to_none=True)
    return CountedStep(flops_to_macs(forward), flops_to_macs(backward), flops_to_macs(sum(excess)))


def block_step(block: Block, batch: int) -> CountedStep:
    """torch's count of a ``compare`` variant's training step (its input needs a gradient)."""
    return count_step(build_block(block).train(), [random_input(batch, block.inp)])


def plan_step(plan: Plan, batch: int) -> CountedStep:
    """torch's count of a network's training step (the image needs no gradient)."""
    return _step(build_plan(plan), [random_input(batch, plan.inp)])


def _step(module: torch.nn.Module, inputs: Sequence[torch.Tensor]) -> CountedStep:
    """A network's step counted in training mode, or in eval mode where training mode cannot
    run (BatchNorm on one value per channel): the MACs are the same, only BatchNorm's
    statistics differ."""
    try:
        return count_step(module.train(), inputs, input_grad=False)
    except ValueError as exc:
        if "more than 1 value per channel" not in str(exc):
            raise
        return count_step(module.eval(), inputs, input_grad=False)


def model_step(model: torch.nn.Module, args: Sequence[torch.Tensor]) -> CountedStep:
    """torch's count of a training step of a copy of ``model`` (its inputs need no gradient)."""
    import copy

    return _step(copy.deepcopy(model), list(args))
