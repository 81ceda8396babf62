"""Any PyTorch model: import a user's factory, build the model, parse ``--kwargs``, run it.

Loading a factory runs the user's code. Every mistake a user can make (a module that does not
exist, a factory that raises, an input shape the model rejects) becomes one ``UserError`` line
that names the flag; the original exception stays as ``__cause__`` for ``--debug``.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from math import prod
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_flatten, tree_unflatten

from sepprof.environment import check_memory
from sepprof.errors import UserError
from sepprof.files import check_input_file

FORMS = "package.module:factory or path/to/file.py:factory"


def one_line(exc: BaseException) -> str:
    """``TypeName: first line of the message`` (just the name when the message is empty)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def reraise_control(exc: BaseException) -> None:
    """Let the CLI's control flow (Click/Typer ``Exit``, ``Abort``) through a catch-all that
    wraps the user's code."""
    if type(exc).__module__.split(".")[0] in ("click", "typer"):
        raise exc


def _split(spec: str, flag: str = "--model") -> tuple[str, str]:
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr:
        raise UserError(f"{flag} {spec}: expected {FORMS}")
    return where, attr


def _is_file(where: str) -> bool:
    return where.endswith(".py") or "/" in where or os.sep in where


def _import_file(spec: str, where: str, flag: str = "--model") -> Any:
    """Run a Python file as a module (its folder goes on ``sys.path`` for its own imports)."""
    path = Path(where).expanduser().resolve()
    if not path.exists():
        raise UserError(f"{flag} {spec}: no such file {where}")
    check_input_file(path, f"{flag} {spec}:")  # a regular file under the cap, never a FIFO
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = f"_sepprof_model_{path.stem}"
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise UserError(f"{flag} {spec}: {where} cannot be imported as Python")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        reraise_control(exc)
        sys.modules.pop(name, None)
        raise UserError(f"{flag} {spec}: running {where} raised {one_line(exc)}") from exc
    _by_value(module)
    return module


def _by_value(module: Any) -> None:
    """Send the classes and functions a user's own file defines to timing worker processes by
    value: a worker cannot import a module that was loaded from a file path (or from the
    working folder, which is not on a worker's path)."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(module)


def _import_module(spec: str, where: str, flag: str = "--model") -> Any:
    """Import a dotted module, looking in the working folder too (as ``python -m`` does)."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(where)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (where == missing or where.startswith(missing + ".")):
            raise UserError(f"{flag} {spec}: no module named {missing!r}") from exc
        raise UserError(f"{flag} {spec}: importing {where} raised {one_line(exc)}") from exc
    except (Exception, SystemExit) as exc:
        reraise_control(exc)
        raise UserError(f"{flag} {spec}: importing {where} raised {one_line(exc)}") from exc
    top = sys.modules.get(where.partition(".")[0])
    origin = Path(getattr(top, "__file__", None) or "/").resolve()
    installed = {"site-packages", "dist-packages"} & set(origin.parts)
    if origin.is_relative_to(Path(cwd).resolve()) and not installed and top.__name__ != "sepprof":
        _by_value(top)  # the user's own package, found in the working folder
    return module


def _attribute(spec: str, module: Any, attr: str, where: str, flag: str = "--model") -> Any:
    """``module.a.b`` for ``attr`` = ``a.b``, with a did-you-mean when a name is missing."""
    obj, owner = module, where
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"{flag} {spec}: {owner} has no attribute {part!r}{hint}")
        obj, owner = getattr(obj, part), f"{owner}:{part}"
    return obj


def load_factory(spec: str, flag: str = "--model") -> Callable[..., Any]:
    """The callable named by ``package.module:factory`` or ``path/to/file.py:factory``.

    Importing runs the user's code. A model instance (not a factory) is returned as it is.
    """
    where, attr = _split(spec, flag)
    module = (
        _import_file(spec, where, flag) if _is_file(where) else _import_module(spec, where, flag)
    )
    factory = _attribute(spec, module, attr, where, flag)
    if not callable(factory):
        raise UserError(
            f"{flag} {spec}: {attr} is a {type(factory).__name__}, not a function or class "
            "that builds a model"
            if flag == "--model"
            else "that makes inputs"
        )
    return factory


def build_model(spec: str, kwargs: dict[str, Any] | None = None) -> nn.Module:
    """Call the factory named by ``spec`` with ``kwargs``; the model is put in eval mode."""
    factory = load_factory(spec)
    kwargs = kwargs or {}
    if isinstance(factory, nn.Module):
        if kwargs:
            raise UserError(f"--kwargs: {spec} is a model instance, not a factory to call")
        return factory.eval()
    try:
        model = factory(**kwargs)
    except (Exception, SystemExit) as exc:
        reraise_control(exc)
        raise UserError(f"--model {spec}: the factory raised {one_line(exc)}") from exc
    if not isinstance(model, nn.Module):
        raise UserError(
            f"--model {spec}: the factory returned a {type(model).__name__}, not a torch.nn.Module"
        )
    return model.eval()


def parse_kwargs(text: str | None) -> dict[str, Any]:
    """``--kwargs '{"num_classes": 10}'``: a JSON object of keyword arguments for the factory."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"--kwargs: not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(value, dict):
        raise UserError("--kwargs: must be a JSON object, e.g. '{\"num_classes\": 10}'")
    return value


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode (BatchNorm running stats untouched) and no autograd, then the mode as it was."""
    was_training = model.training
    flip = any(m.training for m in model.modules())  # already eval: nothing to set or restore
    if flip:
        model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        if flip:
            model.train(was_training)


def run_forward(model: nn.Module, inputs: ModelInputs) -> Any:
    """One inference forward pass; a model that rejects its inputs is a ``UserError`` naming
    the flag that gave them."""
    with evaluating(model):
        try:
            return model(*inputs.args, **inputs.kwargs)
        except (Exception, SystemExit) as exc:
            reraise_control(exc)
            raise UserError(f"{inputs.flag}: the model's forward() raised {one_line(exc)}") from exc


DTYPE_NAMES = {
    "fp32": "float32",
    "float": "float32",
    "float32": "float32",
    "fp16": "float16",
    "half": "float16",
    "float16": "float16",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp64": "float64",
    "float64": "float64",
    "double": "float64",
    "int64": "int64",
    "long": "int64",
    "int32": "int32",
    "int": "int32",
    "int16": "int16",
    "int8": "int8",
    "uint8": "uint8",
    "bool": "bool",
}
DEFAULT_INPUT = "1,3,224,224"


@dataclass(frozen=True)
class ModelInputs:
    """What a model is called with: positional and keyword arguments, and how the user gave
    them (``text`` to print, ``flag`` to name in errors)."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    flag: str = "--input"

    @classmethod
    def of(cls, *args: Any, **kwargs: Any) -> ModelInputs:
        """Inputs from tensors in hand (the Python API); a list argument (a detector's images)
        is written ``[3,480,640 3,512,512]``."""
        inputs = cls(args, kwargs)
        return replace(inputs, text=" ".join(_value_text(v) for v in (*args, *kwargs.values())))

    @property
    def tensors(self) -> list[torch.Tensor]:
        return [t for t in tree_flatten((self.args, self.kwargs))[0] if isinstance(t, torch.Tensor)]

    @property
    def batch(self) -> int:
        """The first dimension of the first tensor (1 when there is none); the length of a
        first argument that is a list of tensors (a detector's images, one per list item)."""
        first = self.args[0] if self.args else None
        if isinstance(first, list | tuple) and first and all(_is_tensor(t) for t in first):
            return len(first)
        tensors = self.tensors
        return int(tensors[0].shape[0]) if tensors and tensors[0].dim() else 1

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": self.text, "shapes": [list(t.shape) for t in self.tensors]}

    def to(self, device: str, dtype: torch.dtype, channels_last: bool = False) -> ModelInputs:
        """A copy on ``device`` with floating-point tensors in ``dtype`` (4-D ones channels-last
        when asked); integer and boolean tensors keep their dtype."""

        def move(value: Any) -> Any:
            if not isinstance(value, torch.Tensor):
                return value
            if not value.is_floating_point():
                return value.to(device)
            fmt = torch.channels_last if channels_last and value.dim() == 4 else None
            out = value.to(device=device, dtype=dtype)
            return out.contiguous(memory_format=fmt) if fmt else out

        args, spec = tree_flatten((self.args, self.kwargs))
        moved_args, moved_kwargs = tree_unflatten([move(a) for a in args], spec)
        return replace(self, args=tuple(moved_args), kwargs=dict(moved_kwargs))


def _is_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor)


def _shape_text(t: torch.Tensor) -> str:
    dtype = str(t.dtype).removeprefix("torch.")
    shape = ",".join(str(d) for d in t.shape)
    return shape if dtype == "float32" else f"{shape}:{dtype}"


def _value_text(value: Any) -> str:
    """A tensor's shape (``_shape_text``); a list of tensors as ``[3,480,640 3,512,512]``."""
    if _is_tensor(value):
        return _shape_text(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(_shape_text(t) for t in value if _is_tensor(t)) + "]"
    return ""


def parse_shape(text: str, flag: str = "--input") -> tuple[tuple[int, ...], str]:
    """``1,3,224,224`` or ``1,77:int64`` -> (shape, torch dtype name); any rank."""
    shape_part, _, dtype_part = str(text).partition(":")
    parts = [p.strip() for p in shape_part.split(",")]
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise UserError(
            f"{flag} {text}: expected a shape of positive integers with an optional dtype, "
            "e.g. 1,3,224,224 or 1,77:int64"
        )
    dtype = DTYPE_NAMES.get(dtype_part.strip().lower() or "float32")
    if dtype is None:
        raise UserError(
            f"{flag} {text}: unknown dtype {dtype_part.strip()!r} "
            f"(valid: {', '.join(sorted(set(DTYPE_NAMES)))})"
        )
    return tuple(int(p) for p in parts), dtype


def make_tensor(text: str, flag: str = "--input") -> torch.Tensor:
    """A tensor for one ``--input``: random normal when floating point, zeros (valid token ids
    and an empty mask for any model) otherwise; refused when it would take half of free memory."""
    shape, name = parse_shape(text, flag)
    dtype = getattr(torch, name)
    size = prod(shape) * torch.empty((), dtype=dtype).element_size()
    check_memory(f"{flag} {text}", size, "cpu", f"use a smaller {flag}")
    if dtype.is_floating_point:
        return torch.randn(*shape, dtype=dtype)
    return torch.zeros(*shape, dtype=dtype)


LIST_EXAMPLE = "[3,800,800 3,600,800]"


def _list_argument(text: str) -> ModelInputs:
    """``--inputs '[3,480,640 3,512,512]'``: one positional argument that is a list of tensors
    (a torchvision detector's images, each 3-D), shapes written as for ``--input`` (any rank,
    optional dtype) and separated by spaces or semicolons."""
    flag = f"--inputs {text}"
    shapes = [s for s in re.split(r"[\s;]+", text.strip()[1:-1]) if s]
    if not shapes:
        raise UserError(f"{flag}: an empty list; expected shapes, e.g. {LIST_EXAMPLE}")
    tensors = [make_tensor(s, "--inputs") for s in shapes]
    return ModelInputs((tensors,), {}, "[" + " ".join(shapes) + "]", flag)


def _from_function(spec: str) -> ModelInputs:
    """Call ``FILE.py:make_inputs``: it returns a tensor, args (a tuple), kwargs (a dict),
    (args, kwargs), or a list, which is one argument (a detector's list of images)."""
    flag = f"--inputs {spec}"
    make = load_factory(spec, "--inputs")
    try:
        value = make()
    except (Exception, SystemExit) as exc:
        reraise_control(exc)
        raise UserError(f"{flag}: the function raised {one_line(exc)}") from exc
    if isinstance(value, torch.Tensor):
        return ModelInputs((value,), {}, spec, flag)
    if isinstance(value, dict):
        return ModelInputs((), value, spec, flag)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
        args = value[0] if isinstance(value[0], tuple | list) else (value[0],)
        return ModelInputs(tuple(args), dict(value[1]), spec, flag)
    if isinstance(value, tuple):
        return ModelInputs(value, {}, spec, flag)
    if isinstance(value, list):
        return ModelInputs((value,), {}, spec, flag)
    raise UserError(
        f"{flag}: returned a {type(value).__name__}; expected a tensor, a tuple of args, "
        "a dict of kwargs, (args, kwargs) or a list (one argument: a detector's images)"
    )


def parse_inputs(shapes: list[str] | tuple[str, ...], inputs: str | None) -> ModelInputs:
    """The model's inputs from ``--input`` (repeatable; any rank, optional dtype), from
    ``--inputs FILE.py:make_inputs``, or from ``--inputs '[3,800,800 3,600,800]'`` (one
    argument, a list of tensors: a detector's images); 1,3,224,224 when none is given."""
    shapes = [s for s in shapes or () if s is not None]
    if inputs and shapes:
        raise UserError("--inputs: give --input shapes or --inputs FILE.py:function, not both")
    if inputs and inputs.strip().startswith("[") and inputs.strip().endswith("]"):
        return _list_argument(inputs)
    if inputs:
        return _from_function(inputs)
    shapes = shapes or [DEFAULT_INPUT]
    tensors = tuple(make_tensor(s) for s in shapes)
    text = " ".join(s.strip() for s in shapes)
    return ModelInputs(tensors, {}, text, f"--input {text}")


def as_inputs(value: ModelInputs | tuple[int, ...] | list[int]) -> ModelInputs:
    """``ModelInputs`` as they are; a shape (the older API) as one random fp32 input."""
    if isinstance(value, ModelInputs):
        return value
    shape = tuple(value)
    if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
        raise UserError(f"--input {shape}: expected a shape of positive integers")
    return parse_inputs([",".join(map(str, shape))], None)
