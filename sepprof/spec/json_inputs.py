"""The JSON files sepprof reads back (results for ``merge``, baselines for ``check``): their
schemas as pydantic models, and one reader that bounds size and depth and refuses NaN and
infinities, so a bad file is one located exit-2 line, never a crash.

The schemas type the keys sepprof reads and allow any other key (the contract only ever adds
keys). Errors name the file and the key path: ``old.json: variants[0].params: must be an
integer (got '10')``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sepprof.errors import UserError, printable
from sepprof.files import read_input_text
from sepprof.results.schemas import (
    CHECK_SCHEMA,
    COMPARE_SCHEMA,
    COMPARE_SET_SCHEMA,
    REPORT_SCHEMA,
)
from sepprof.spec.layer import describe_error, key_path

MAX_JSON_DEPTH = 64
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_PAIRS = re.compile(r"\[\]|\{\}")


class Doc(BaseModel):
    """Base of the JSON schemas: strict types, unknown keys kept, finite numbers only."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False, frozen=True)


class LatencyDoc(Doc):
    median: float = Field(ge=0)
    iqr: float = Field(ge=0)
    runs: int = Field(ge=0)
    rounds: list[float] = []
    unstable: bool = False


class SpeedupDoc(Doc):
    value: float
    error: float = 0.0


class RoofDoc(Doc):
    attainable_ms: float
    percent: float
    bound: str


class RowDoc(Doc):
    name: str
    kind: str = ""
    params: int = Field(ge=0)
    params_batchnorm: int = Field(0, ge=0)
    macs_analytic: int = Field(ge=0)
    elementwise_ops: int = Field(0, ge=0)
    bytes: int = Field(0, ge=0)
    output_shape: str = ""
    op: str = ""
    macs_traced: int | None = None
    macs_flop_counter: int | None = None
    macs_fvcore: int | None = None
    params_traced: int | None = None
    elementwise_ops_traced: int | None = None
    uncounted_ops: dict[str, int] = {}
    latency_ms: dict[str, LatencyDoc] = {}
    roofline: dict[str, RoofDoc] = {}
    stages: list[RowDoc] = []


class ComparisonDoc(Doc):
    baseline: str
    variant: str
    macs_ratio: float
    theory_ratio: float | None = None
    params_ratio: float
    macs_ratio_traced: float | None = None
    speedup: dict[str, float | SpeedupDoc] = {}
    speedup_error: dict[str, float] = {}


class EnvironmentDoc(Doc):
    hostname: str = "?"
    cpu: str = "?"
    dtype: str = "fp32"
    threads: int | None = None


class CompareDoc(Doc):
    """``sepprof compare --json``: one layer's variants."""

    schema_: Literal["sepprof.compare/1"] = Field(alias="schema")
    environment: EnvironmentDoc
    spec: dict[str, int | float | str | bool | None]
    variants: list[RowDoc] = Field(min_length=1)
    comparisons: list[ComparisonDoc]
    notes: list[str] = []


class ReportDoc(Doc):
    """A report's ``report.json``: the worked example and every layer it compared."""

    schema_: Literal["sepprof.report/1"] = Field(alias="schema")
    main: CompareDoc
    layers: list[CompareDoc]


class CompareSetDoc(Doc):
    """``sepprof compare --config --json``: one compare document per layer."""

    schema_: Literal["sepprof.compare-set/1"] = Field(alias="schema")
    results: list[CompareDoc]


class BaselineDoc(Doc):
    """A ``check --update-baseline`` file: each budget's metrics."""

    schema_: Literal["sepprof.check/1"] = Field(alias="schema")
    metrics: dict[str, dict[str, float]]


RESULTS = {COMPARE_SCHEMA: CompareDoc, COMPARE_SET_SCHEMA: CompareSetDoc, REPORT_SCHEMA: ReportDoc}


def load_json(path: str | Path, what: str = "JSON file", flag: str | None = None) -> Any:
    """Parse a JSON input: a regular file under the size cap, nested at most MAX_JSON_DEPTH
    deep, with no NaN or infinity anywhere."""
    where = printable(f"{flag} {path}" if flag else str(path))
    text = read_input_text(path, flag)
    if _depth(text) > MAX_JSON_DEPTH:
        raise UserError(f"{where}: nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UserError(f"{where}: not a {what} ({printable(exc)})") from None
    bad = _non_finite(data)
    if bad is not None:
        raise UserError(f"{where}: {printable(bad)}: must be a finite number (got NaN/Infinity)")
    return data


def _depth(text: str) -> int:
    """How deep ``[`` and ``{`` nest outside strings, counted without recursion: innermost
    pairs are peeled off a layer at a time (each pass in C), stopping past MAX_JSON_DEPTH."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub('""', text))
    for depth in range(MAX_JSON_DEPTH + 1):
        if not brackets:
            return depth
        peeled = _PAIRS.sub("", brackets)
        if peeled == brackets:  # unbalanced: not JSON; count openings to find how deep
            return depth + _open_run(brackets)
        brackets = peeled
    return MAX_JSON_DEPTH + 1


def _open_run(brackets: str) -> int:
    """The most brackets open at once in a (possibly unbalanced) bracket string."""
    depth = deepest = 0
    for char in brackets:
        depth += 1 if char in "[{" else -1
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break
    return deepest


def _non_finite(data: Any, loc: tuple = ()) -> str | None:
    """The key path of the first NaN or infinity in parsed JSON, or None."""
    if isinstance(data, float) and not math.isfinite(data):
        return key_path(loc) or "(document)"
    if isinstance(data, dict | list):
        for key, value in data.items() if isinstance(data, dict) else enumerate(data):
            found = _non_finite(value, (*loc, key))
            if found:
                return found
    return None


def validated(model: type[Doc], data: Any, where: str, prefix: tuple = ()) -> Doc:
    """``data`` checked against ``model``; the first error names the key path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc, message = describe_error(exc.errors()[0])
        key = key_path((*prefix, *loc)) or "(document)"
        raise UserError(f"{where}: {printable(key)}: {printable(message)}") from None


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The documents of a results file (compare JSON, a list of them, or a report), each
    checked against its schema."""
    data = load_json(path, "JSON results file")
    docs = data if isinstance(data, list) else [data]
    for i, doc in enumerate(docs):
        schema = doc.get("schema") if isinstance(doc, dict) else None
        if schema not in RESULTS:
            raise UserError(
                f"{printable(path)}: expected {COMPARE_SCHEMA}, {COMPARE_SET_SCHEMA} or "
                f"{REPORT_SCHEMA} results, "
                f"got {printable(schema_of(doc))}"
            )
        where = f"{printable(path)}: malformed {schema} results"
        validated(RESULTS[schema], doc, where, (i,) if isinstance(data, list) else ())
    return docs


def read_baseline(path: str | Path) -> dict[str, dict[str, float]]:
    """The metrics of a baseline file written by ``check --update-baseline``."""
    try:
        data = load_json(path, "readable JSON baseline")
    except UserError as exc:
        hint = " (create it with --update-baseline)" if str(exc).endswith("not found") else ""
        raise UserError(f"{exc}{hint}") from None
    if not isinstance(data, dict) or data.get("schema") != CHECK_SCHEMA:
        raise UserError(
            f"{printable(path)}: expected a {CHECK_SCHEMA} baseline, "
            f"got {printable(schema_of(data))}"
        )
    return validated(BaselineDoc, data, printable(path)).metrics


def schema_of(data: Any) -> str:
    """The ``schema`` a document declares, or what it is instead."""
    if isinstance(data, dict):
        return repr(data.get("schema"))
    return f"a JSON {type(data).__name__}"
