"""Compute budgets: the budget file's spec (pure, no torch; ``spec.verdicts`` judges them).

A budget names a config (a network or a layers file, relative to the budget file) or a model
(``package.module:factory`` or ``file.py:factory``, a file relative to the budget file) and
limits on its metrics. Metrics are plain numbers keyed like ``macs``, ``params``,
``uncounted_ops``, ``latency_ms.cpu``, ``speedup.cpu`` and ``time_share.depthwise.cpu``;
``check`` measures them and ``spec.verdicts`` judges them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from sepprof.errors import SpecError, UserError, printable
from sepprof.files import check_input_file
from sepprof.spec.layer import Name, Strict, Text, field_error, unknown_key_error, validate
from sepprof.spec.yaml_reader import YamlDoc, read_yaml
from sepprof.units import parse_percent, parse_quantity

DEVICES = ("cpu", "cuda")

# Limits are finite numbers: NaN, infinity (``.inf``, ``1e400``) and negative limits are refused.
Count = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


def _per_device(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("must map a device to a number, e.g. {cpu: 60}")
    for device in value:
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r} (valid: {', '.join(DEVICES)})")
    return {d: parse_quantity(v) for d, v in value.items()}


# The layer types a time share can be limited for: the by-type tables' kinds, of a YAML network
# (``spec.ops``) and of any model (``count.model_count``).
TIME_SHARE_KINDS = (
    "standard",
    "grouped",
    "depthwise",
    "pointwise",
    "transposed",
    "fc",
    "squeeze_excite",
    "pool",
    "elementwise",
    "attention",
    "matmul",
    "other",
)
SHARE_EXAMPLE = "e.g. {depthwise: 0.4} or {depthwise: {cpu: 0.4}}"


def _kind_error(kind: str, message: str) -> PydanticCustomError:
    """An error located at ``max_time_share.<kind>``."""
    return PydanticCustomError("field_rule", "{message}", {"key": kind, "message": message})


def _fraction(kind: str, value: Any) -> float:
    """A time share limit: a number in (0, 1] (``0.4``) or a percentage string (``40%``)."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = parse_percent(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or not 0 < number <= 1:
        shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
        raise _kind_error(
            kind, f"must be a fraction of the time in (0, 1], e.g. 0.4 or 40% (got {shown})"
        )
    return number


def _time_shares(value: Any) -> Any:
    """``{kind: fraction}`` (on every device the budget times, else the CPU) or
    ``{kind: {device: fraction}}``."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise ValueError(f"must map a layer type to a fraction of the time, {SHARE_EXAMPLE}")
    out: dict[str, Any] = {}
    for kind, limit in value.items():
        if kind not in TIME_SHARE_KINDS:
            raise unknown_key_error(str(kind), TIME_SHARE_KINDS, "layer type")
        if not isinstance(limit, dict):
            out[kind] = _fraction(kind, limit)
            continue
        if not limit:
            raise _kind_error(kind, f"must map a device to a fraction, {SHARE_EXAMPLE}")
        for device in limit:
            if device not in DEVICES:
                raise _kind_error(kind, f"unknown device {device!r} (valid: {', '.join(DEVICES)})")
        out[kind] = {d: _fraction(kind, v) for d, v in limit.items()}
    return out


def _shapes(value: Any) -> Any:
    """``input:``: one shape (``1,3,224,224``, ``[1, 3, 224, 224]``) or a list of shape strings,
    as ``--input`` takes them."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return [",".join(str(v) for v in value)]
        if all(isinstance(v, str) for v in value):
            return value
    raise ValueError(
        "must be a shape such as 1,3,224,224 (an optional :dtype, e.g. 1,77:int64) or a list "
        "of them, one per input"
    )


@dataclass(frozen=True)
class Metric:
    """A metric a budget limits and ``--baseline`` compares, and which way is better. Timed
    metrics are per device: ``latency_ms.cpu``, ``speedup.cuda``."""

    key: str
    lower_is_better: bool
    per_device: bool = False


# Every metric ``check`` measures, in one place with its direction.
METRICS = {
    m.key: m
    for m in (
        Metric("macs", lower_is_better=True),
        Metric("params", lower_is_better=True),
        Metric("uncounted_ops", lower_is_better=True),
        Metric("latency_ms", lower_is_better=True, per_device=True),
        Metric("speedup", lower_is_better=False, per_device=True),
        Metric("time_share", lower_is_better=True, per_device=True),  # time_share.depthwise.cpu
    )
}


def metric_of(key: str) -> Metric:
    """The metric a metrics key names (``latency_ms.cpu`` -> ``latency_ms``)."""
    return METRICS[key.split(".", 1)[0]]


LIMITS = (
    "max_macs",
    "max_params",
    "max_latency_ms",
    "min_speedup",
    "max_regression",
    "max_uncounted_ops",
    "max_time_share",
)
CONFIG_ONLY = ("variant", "width_mult", "resolution", "batch")  # what a model's input: gives
MODEL_ONLY = ("input", "inputs", "kwargs")


class Budget(Strict):
    """One budget: a config or a model, and the limits it must hold."""

    name: Annotated[Name, Field(min_length=1)]
    config: Annotated[Text, Field(min_length=1)] | None = None
    model: Annotated[Text, Field(min_length=1)] | None = None  # package.module:factory
    input: list[Annotated[Text, Field(min_length=1)]] | None = None  # shapes, as --input
    inputs: Annotated[Text, Field(min_length=1)] | None = None  # FILE.py:make_inputs
    kwargs: dict[str, Any] | None = None  # the factory's keyword arguments
    variant: Text = "separable"
    width_mult: float = Field(1.0, gt=0, le=4, allow_inf_nan=False)
    resolution: int | None = Field(None, ge=1, le=8192)
    batch: int = Field(1, ge=1, le=65536)
    max_macs: Count | None = None
    max_params: Count | None = None
    max_latency_ms: dict[str, Positive] | None = None
    min_speedup: dict[str, Positive] | None = None
    max_regression: Count | None = None
    max_uncounted_ops: int | None = Field(None, ge=0)
    max_time_share: dict[str, float | dict[str, float]] | None = None
    level: Literal["error", "warn"] = "error"
    backend: Literal["eager", "compile", "onnxruntime"] = "eager"  # what runs it when timed
    mode: Literal["inference", "train"] = "inference"

    @field_validator("max_macs", "max_params", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> Any:
        return None if value is None else parse_quantity(value)

    @field_validator("max_latency_ms", "min_speedup", mode="before")
    @classmethod
    def _devices(cls, value: Any) -> Any:
        return _per_device(value)

    @field_validator("max_time_share", mode="before")
    @classmethod
    def _shares(cls, value: Any) -> Any:
        return _time_shares(value)

    @field_validator("input", mode="before")
    @classmethod
    def _input(cls, value: Any) -> Any:
        return _shapes(value)

    @field_validator("max_regression", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> Any:
        return None if value is None else parse_percent(value)

    @property
    def needs_trace(self) -> bool:
        return self.max_uncounted_ops is not None

    @model_validator(mode="after")
    def _limits_something(self) -> Budget:
        self._one_source()
        limits = [getattr(self, name) for name in LIMITS]
        if all(limit is None for limit in limits):
            raise field_error(
                "name",
                f"budget {self.name!r} sets no limit (give at least one of {', '.join(LIMITS)})",
            )
        if self.backend == "onnxruntime" and self.mode == "train":
            raise field_error(
                "mode", "backend onnxruntime runs inference only: use mode: inference"
            )
        if self.model is not None:
            self._model_limits()
        return self

    def _one_source(self) -> None:
        """Exactly one of config and model, and only the keys that apply to it."""
        if self.config is None and self.model is None:
            raise field_error(
                "config",
                f"budget {self.name!r} names neither a config nor a model (give config: "
                "FILE.yaml, or model: package.module:factory or FILE.py:factory)",
            )
        if self.config is not None and self.model is not None:
            raise field_error(
                "model", "give either config: or model:, not both (one budget judges one thing)"
            )
        given = self.model_fields_set
        if self.config is not None:
            for key in MODEL_ONLY:
                if key in given:
                    raise field_error(key, "applies to a model: budget, not to a config")
            return
        for key in CONFIG_ONLY:
            if key in given:
                hint = " (give the model's input shape in input:)" if key != "variant" else ""
                raise field_error(key, f"applies to a config, not to a model{hint}")
        if self.input is not None and self.inputs is not None:
            raise field_error("inputs", "give input: shapes or inputs: FILE.py:function, not both")

    def _model_limits(self) -> None:
        """Limits that have no meaning for a model (or cannot be measured on it)."""
        if self.min_speedup is not None:
            raise field_error(
                "min_speedup",
                "has no meaning for a model: a speedup compares a config's variant with the "
                "same layers as standard convolutions, and a model has no variant (limit "
                "max_latency_ms instead)",
            )
        if self.max_time_share is not None and (
            self.backend != "eager" or self.mode != "inference"
        ):
            raise field_error(
                "max_time_share",
                "a model's layers are timed alone in eager inference only: use backend: eager "
                "and mode: inference",
            )

    def time_shares(self) -> list[tuple[str, str, float]]:
        """``(kind, device, limit)`` of each time share limit: a bare fraction applies on every
        device the budget's other timed limits name, else on the CPU."""
        if not self.max_time_share:
            return []
        others = self._timed_devices() or ("cpu",)
        out = []
        for kind, limit in self.max_time_share.items():
            per_device = limit if isinstance(limit, dict) else dict.fromkeys(others, limit)
            out += [(kind, d, per_device[d]) for d in DEVICES if d in per_device]
        return out

    def _timed_devices(self) -> tuple[str, ...]:
        found = {*(self.max_latency_ms or {}), *(self.min_speedup or {})}
        for limit in (self.max_time_share or {}).values():
            found |= set(limit) if isinstance(limit, dict) else set()
        return tuple(d for d in DEVICES if d in found)

    def devices(self) -> tuple[str, ...]:
        """Devices this budget must time on (for latency, speedup or time share limits)."""
        found = {*self._timed_devices(), *(d for _, d, _ in self.time_shares())}
        return tuple(d for d in DEVICES if d in found)

    @property
    def source(self) -> str:
        """The config or the model, as the budget file names it."""
        return self.config if self.config is not None else str(self.model)


class BudgetFile(Strict):
    """A budget file: a non-empty list of budgets."""

    budgets: list[Budget] = Field(min_length=1)


@dataclass(frozen=True)
class LoadedBudgets:
    """Budgets with the config path each resolves to (None for a model budget), and the model
    and ``inputs:`` function of each model budget with a file's path made absolute (None where
    a budget has none)."""

    path: Path
    budgets: list[Budget]
    configs: list[Path | None]
    doc: YamlDoc
    models: list[str | None] = field(default_factory=list)
    inputs: list[str | None] = field(default_factory=list)

    def error(self, index: int, key: str, message: str) -> SpecError:
        """An error located at ``budgets[index].key`` of the budget file."""
        loc = ("budgets", index, key)
        return SpecError(
            message,
            source=str(self.path),
            key=f"budgets[{index}].{key}",
            line=self.doc.line_of(loc),
        )


def load_budgets(path: str | Path) -> LoadedBudgets:
    """Read a budget file; every config, and every model or inputs file, must exist (paths are
    relative to the budget file)."""
    doc: YamlDoc = read_yaml(path)
    spec = validate(BudgetFile, doc)
    names = [b.name for b in spec.budgets]
    configs: list[Path | None] = []
    models: list[str | None] = []
    inputs: list[str | None] = []
    for i, budget in enumerate(spec.budgets):
        if names.count(budget.name) > 1:
            raise SpecError(
                f"two budgets are named {budget.name!r}",
                source=str(doc.path),
                key=f"budgets[{i}].name",
                line=doc.line_of(("budgets", i, "name")),
            )
        models.append(_spec_path(doc, i, "model", budget.model))
        inputs.append(_spec_path(doc, i, "inputs", budget.inputs))
        if budget.config is None:
            configs.append(None)
            continue
        config = (doc.path.parent / budget.config).resolve()
        problem = _config_problem(config)
        if problem:
            raise SpecError(
                f"config {budget.config}: {problem}",
                source=str(doc.path),
                key=f"budgets[{i}].config",
                line=doc.line_of(("budgets", i, "config")),
            )
        configs.append(config)
    return LoadedBudgets(doc.path, spec.budgets, configs, doc, models, inputs)


def _spec_path(doc: YamlDoc, index: int, key: str, spec: str | None) -> str | None:
    """``file.py:function`` with the file made absolute (relative to the budget file) and
    checked; ``package.module:function`` as it is (imported as usual)."""
    if spec is None or (key == "inputs" and spec.strip()[:1] == "[" and spec.strip()[-1:] == "]"):
        return spec  # none, or a list of shapes (one argument: a detector's images)
    where, sep, attr = spec.rpartition(":")
    loc = ("budgets", index, key)
    if not sep or not where or not attr:
        forms = "package.module:function or path/to/file.py:function"
        raise SpecError(
            f"{spec}: expected {forms}",
            source=str(doc.path),
            key=f"budgets[{index}].{key}",
            line=doc.line_of(loc),
        )
    if not (where.endswith(".py") or "/" in where or os.sep in where):
        return spec
    file = (doc.path.parent / Path(where).expanduser()).resolve()
    problem = _config_problem(file)
    if problem:
        raise SpecError(
            f"{key} {spec}: {problem}",
            source=str(doc.path),
            key=f"budgets[{index}].{key}",
            line=doc.line_of(loc),
        )
    return f"{file}:{attr}"


def _config_problem(config: Path) -> str:
    """Why a budget's config cannot be read ("file not found (looked for ...)", "is a
    directory, not a file"), or nothing."""
    try:
        check_input_file(config)
    except UserError as exc:
        problem = str(exc).removeprefix(f"{printable(config)}: ")
        return f"{problem} (looked for {config})" if problem == "file not found" else problem
    return ""
