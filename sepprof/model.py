"""Any PyTorch model: import a user's factory, build the model, parse ``--input`` and ``--kwargs``.

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
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from math import prod
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sepprof.errors import UserError
from sepprof.guards import check_memory

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


def _split(spec: str) -> tuple[str, str]:
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr:
        raise UserError(f"--model {spec}: expected {FORMS}")
    return where, attr


def _is_file(where: str) -> bool:
    return where.endswith(".py") or "/" in where or os.sep in where


def _import_file(spec: str, where: str) -> Any:
    """Run a Python file as a module (its folder goes on ``sys.path`` for its own imports)."""
    path = Path(where).expanduser().resolve()
    if not path.is_file():
        raise UserError(f"--model {spec}: no such file {where}")
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = f"_sepprof_model_{path.stem}"
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise UserError(f"--model {spec}: {where} cannot be imported as Python")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        reraise_control(exc)
        sys.modules.pop(name, None)
        raise UserError(f"--model {spec}: running {where} raised {one_line(exc)}") from exc
    return module


def _import_module(spec: str, where: str) -> Any:
    """Import a dotted module, looking in the working folder too (as ``python -m`` does)."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (where == missing or where.startswith(missing + ".")):
            raise UserError(f"--model {spec}: no module named {missing!r}") from exc
        raise UserError(f"--model {spec}: importing {where} raised {one_line(exc)}") from exc
    except (Exception, SystemExit) as exc:
        reraise_control(exc)
        raise UserError(f"--model {spec}: importing {where} raised {one_line(exc)}") from exc


def _attribute(spec: str, module: Any, attr: str, where: str) -> Any:
    """``module.a.b`` for ``attr`` = ``a.b``, with a did-you-mean when a name is missing."""
    obj, owner = module, where
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"--model {spec}: {owner} has no attribute {part!r}{hint}")
        obj, owner = getattr(obj, part), f"{owner}:{part}"
    return obj


def load_factory(spec: str) -> Callable[..., Any]:
    """The callable named by ``package.module:factory`` or ``path/to/file.py:factory``.

    Importing runs the user's code. A model instance (not a factory) is returned as it is.
    """
    where, attr = _split(spec)
    module = _import_file(spec, where) if _is_file(where) else _import_module(spec, where)
    factory = _attribute(spec, module, attr, where)
    if not callable(factory):
        raise UserError(
            f"--model {spec}: {attr} is a {type(factory).__name__}, not a function or class "
            "that builds a model"
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


def parse_input(text: str) -> tuple[int, ...]:
    """``1,3,224,224`` -> ``(1, 3, 224, 224)``: batch, channels, height, width."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 4 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise UserError(
            f"--input {text}: expected N,C,H,W as 4 positive integers, e.g. 1,3,224,224"
        )
    return tuple(int(p) for p in parts)


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


def shape_text(shape: tuple[int, ...]) -> str:
    return ",".join(str(d) for d in shape)


def random_input(shape: tuple[int, ...]) -> torch.Tensor:
    """A random fp32 input of ``shape``, refused when it alone would take half of free memory."""
    check_memory(f"--input {shape_text(shape)}", prod(shape) * 4, "cpu", "use a smaller --input")
    return torch.randn(*shape)


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode (BatchNorm running stats untouched) and no autograd, then the mode as it was."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def run_forward(model: nn.Module, x: torch.Tensor) -> Any:
    """One inference forward pass; a model that rejects ``x`` is a ``UserError`` on --input."""
    with evaluating(model):
        try:
            return model(x)
        except (Exception, SystemExit) as exc:
            reraise_control(exc)
            raise UserError(
                f"--input {shape_text(tuple(x.shape))}: the model's forward() raised "
                f"{one_line(exc)}"
            ) from exc
