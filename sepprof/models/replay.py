"""Replay: each layer of a model timed alone, on the inputs it really got inside the model.

``record`` runs the model once with hooks that keep a copy of what each chosen module was called
with (the actual tensors: shapes, dtypes, memory format, values) and what it returned. ``plan``
then checks that each module, called alone on those inputs, returns what it returned inside the
model; a module that cannot be replayed is timed as part of its nearest parent that can be:

- in place on its input: an activation with an ``inplace`` switch (ReLU, SiLU, Hardswish...) is
  replayed as a copy with the switch off, which writes the same bytes to a new tensor (the row
  says so); any other in-place module cannot be replayed (each call would see a changed input);
- stateful (a buffer changed during the call) or random or data-dependent (returns something else
  when replayed);
- returns something that is not tensors.

A module called several times is one timed item that makes all of its recorded calls. Pure
PyTorch; nothing here times anything (``commands.model_profile`` does, in paired rounds).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_flatten, tree_map

from sepprof.models.model import ModelInputs, evaluating


@dataclass(frozen=True)
class Call:
    """One recorded call: its inputs, its output, and what the call did to them."""

    inputs: ModelInputs
    output: Any
    in_place: bool  # an input tensor was written during the call
    stateful: bool  # a buffer of the module was written during the call


@dataclass(frozen=True)
class Unit:
    """What one timed item replays: the module at ``path`` on its recorded calls, standing for
    the rows named in ``rows``; ``note`` says how it was replayed or why it is a group."""

    path: str
    module: nn.Module
    calls: tuple[Call, ...]
    rows: tuple[str, ...]
    note: str = ""


@dataclass
class Plan:
    """The timed items, the rows that no item could time, and why."""

    units: list[Unit] = field(default_factory=list)
    untimed: dict[str, str] = field(default_factory=dict)


def _clone(value: Any) -> Any:
    """A copy of every tensor in ``value``; tensors that were one object stay one object (so
    ``attn(x, x, x)`` is replayed as self-attention, on the kernels the model ran)."""
    copies: dict[int, torch.Tensor] = {}

    def copy_of(v: Any) -> Any:
        if not isinstance(v, torch.Tensor):
            return v
        if id(v) not in copies:
            copies[id(v)] = v.detach().clone()
        return copies[id(v)]

    return tree_map(copy_of, value)


def _versions(value: Any) -> list[int]:
    """Version counters of the tensors in ``value`` (inference tensors have none, and cannot be
    written in place outside inference mode anyway)."""
    leaves = tree_flatten(value)[0]
    return [t._version for t in leaves if isinstance(t, torch.Tensor) and not t.is_inference()]


def record(model: nn.Module, inputs: ModelInputs, paths: Iterable[str]) -> dict[str, list[Call]]:
    """Run ``model`` once (eval mode, no autograd) and return every call of the modules at
    ``paths`` ("" is the model itself), in order."""
    wanted = set(paths)
    calls: dict[str, list[Call]] = {p: [] for p in wanted}
    handles = []
    for path, module in model.named_modules(remove_duplicate=False):
        if path not in wanted or any(h[0] is module for h in handles):
            continue
        pending: list[tuple[ModelInputs, list[int], list[int]]] = []

        def pre(mod: nn.Module, args: tuple, kwargs: dict, pending: list = pending) -> None:
            state = list(mod.buffers())
            pending.append(
                (ModelInputs(_clone(args), _clone(kwargs)), _versions((args, kwargs)),
                 _versions(state))
            )  # fmt: skip

        def post(
            mod: nn.Module, args: tuple, kwargs: dict, out: Any, path: str = path,
            pending: list = pending,
        ) -> None:  # fmt: skip
            taken, before, buffers = pending.pop()
            in_place = _versions((args, kwargs)) != before
            stateful = _versions(list(mod.buffers())) != buffers
            calls[path].append(Call(taken, _clone(out), in_place, stateful))

        handles.append((module, module.register_forward_pre_hook(pre, with_kwargs=True)))
        handles.append((module, module.register_forward_hook(post, with_kwargs=True)))
    try:
        with evaluating(model), torch.no_grad():
            model(*inputs.args, **inputs.kwargs)
    finally:
        for _, h in handles:
            h.remove()
    return calls


def _tensors_only(value: Any) -> bool:
    leaves = tree_flatten(value)[0]
    return bool(leaves) and all(isinstance(v, torch.Tensor) or v is None for v in leaves)


def _same(got: Any, want: Any) -> bool:
    g, g_spec = tree_flatten(got)
    w, w_spec = tree_flatten(want)
    if g_spec != w_spec:
        return False
    for a, b in zip(g, w, strict=True):
        if isinstance(b, torch.Tensor):
            if not isinstance(a, torch.Tensor) or a.shape != b.shape or a.dtype != b.dtype:
                return False
            if not torch.allclose(a.float(), b.float(), rtol=1e-4, atol=1e-5, equal_nan=True):
                return False
        elif a != b:
            return False
    return True


def replayable(module: nn.Module, calls: list[Call]) -> tuple[nn.Module | None, str]:
    """The module to time for these calls (a copy with ``inplace`` off for an in-place
    activation) and a note, or None and why it cannot be replayed."""
    if not calls:
        return None, "did not run"
    if any(c.stateful for c in calls):
        return None, "changes its own buffers when called (stateful)"
    if not all(_tensors_only(c.output) for c in calls):
        return None, "returns something other than tensors"
    note = ""
    if any(c.in_place for c in calls):
        if not isinstance(getattr(module, "inplace", None), bool):
            return None, "writes its input in place"
        module = copy.copy(module)  # shallow: the same weights, its own ``inplace``
        module.inplace = False
        note = "in-place in the model, timed out of place (the same bytes, a new output)"
    with evaluating(module), torch.no_grad():
        for c in calls:
            fresh = _clone((c.inputs.args, c.inputs.kwargs))
            before = _versions(fresh)
            try:
                got = module(*fresh[0], **fresh[1])
            except Exception as exc:  # any failure means it cannot run alone
                return None, f"fails when called alone ({type(exc).__name__})"
            if _versions(fresh) != before:  # still in place, ``inplace`` off or not
                return None, "writes its input in place"
            if not _same(got, c.output):
                return None, "returns something else when called again (random or data-dependent)"
    return module, note


def _parent(path: str) -> str | None:
    return None if path == "" else path.rpartition(".")[0]


def _under(path: str, ancestor: str) -> bool:
    return ancestor == "" or path == ancestor or path.startswith(ancestor + ".")


def plan(model: nn.Module, inputs: ModelInputs, targets: list[str]) -> Plan:
    """One timed item per target module (a row's module path), each checked to replay what it
    did in the model; a target that cannot be replayed is timed inside its nearest replayable
    parent, which then stands for every target below it (the whole model, "", is never a
    group: it is timed whole anyway)."""
    modules = dict(model.named_modules())
    recorded = record(model, inputs, targets)
    own: dict[str, tuple[nn.Module, str]] = {}
    bad: dict[str, str] = {}
    for path in targets:
        module, why = replayable(modules[path], recorded[path])
        if module is None:
            bad[path] = why
        else:
            own[path] = (module, why)
    groups = _groups(model, inputs, modules, bad) if bad else {}
    out = Plan()
    grouped = set()
    for path, (module, calls, why) in groups.items():
        members = tuple(t for t in targets if _under(t, path))
        grouped.update(members)
        out.units.append(Unit(path, module, calls, members, why))
    for path in targets:
        if path in own:
            if path not in grouped:
                module, note = own[path]
                out.units.append(Unit(path, module, tuple(recorded[path]), (path,), note))
        elif path not in grouped:
            out.untimed[path] = f"{bad[path]}, and no parent below the whole model can be replayed"
    return out


def _groups(
    model: nn.Module, inputs: ModelInputs, modules: dict[str, nn.Module], bad: dict[str, str]
) -> dict[str, tuple[nn.Module, tuple[Call, ...], str]]:
    """For each target that cannot be replayed, its nearest parent that can (the outermost
    where such parents nest): group path -> (module to time, its calls, why it is a group)."""
    chains = {p: [a for a in _ancestors(p) if a] for p in bad}
    recorded = record(model, inputs, {a for c in chains.values() for a in c})
    found: dict[str, tuple[nn.Module, tuple[Call, ...], list[str]]] = {}
    checked: dict[str, nn.Module | None] = {}  # an ancestor is replayed once, however many leaves
    for path, chain in chains.items():
        for ancestor in chain:
            if ancestor not in checked:
                checked[ancestor] = replayable(modules[ancestor], recorded[ancestor])[0]
            module = checked[ancestor]
            if module is not None:
                entry = found.setdefault(ancestor, (module, tuple(recorded[ancestor]), []))
                entry[2].append(f"{path} {bad[path]}")
                break
    outer = {g for g in found if not any(_under(g, o) and g != o for o in found)}
    return {
        g: (m, c, "timed as one: " + "; ".join(w for o, (_, _, ws) in found.items()
                                                    if _under(o, g) for w in ws))
        for g, (m, c, _) in found.items()
        if g in outer
    }  # fmt: skip


def _ancestors(path: str) -> list[str]:
    out = []
    parent = _parent(path)
    while parent is not None:
        out.append(parent)
        parent = _parent(parent)
    return out
