"""``sepprof merge``: results from several machines (CPU, GPU) in one comparison.

Reads compare results (``sepprof compare --json``) and reports (``report.json``), groups them
by layer, and lines up every machine and device that timed it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sepprof.errors import UserError
from sepprof.files import distinct_inputs
from sepprof.results import (
    COMPARE_SCHEMA,
    COMPARE_SET_SCHEMA,
    REPORT_SCHEMA,
    CompareResult,
    MergedRow,
    MergeResult,
)
from sepprof.spec import json_inputs


def read_results(path: str | Path) -> list[CompareResult]:
    """The compare results held by a results file (compare JSON, a list of them, or a report)."""
    docs = json_inputs.read_results(path)  # bounded, schema-checked (sepprof.spec.json_inputs)
    out = []
    for doc in docs:
        schema = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        try:
            if schema == COMPARE_SCHEMA:
                out.append(CompareResult.from_dict(doc))
            elif schema == COMPARE_SET_SCHEMA:
                out += [CompareResult.from_dict(d) for d in doc["results"]]
            elif schema == REPORT_SCHEMA:
                out += [CompareResult.from_dict(d) for d in (doc["main"], *doc["layers"])]
            else:
                raise UserError(
                    f"{path}: expected {COMPARE_SCHEMA}, {COMPARE_SET_SCHEMA} or {REPORT_SCHEMA} "
                    f"results, got {schema!r}"
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(
                f"{path}: malformed {schema} results ({type(exc).__name__}: {exc})"
            ) from None
    return out


def machine_name(env: dict[str, Any]) -> str:
    """How a machine is named in merged tables: host and processor."""
    return f"{env.get('hostname', '?')} ({env.get('cpu', '?')})"


def setup(env: dict[str, Any]) -> str:
    """What else changes a timing on the same machine: memory format and allocator."""
    allocator = "system malloc" if str(env.get("allocator", "")).startswith("system") else ""
    return ", ".join(p for p in (env.get("memory_format", "—"), allocator) if p)


def merge(paths: list[str | Path]) -> MergeResult:
    """Line up the variants of every layer across the given results files (``compare --json``
    output, ``compare --config --json`` output or a report's report.json), one row per machine,
    device and variant.

    >>> r = merge(["reports/cpu-setups/contiguous.json", "reports/cpu-setups/threads1.json"])
    >>> len(r.sources)
    2
    """
    if len(paths) < 1:
        raise UserError("merge: give at least one results file")
    distinct_inputs(paths)  # the same file twice would count its machine twice
    groups: dict[str, tuple[dict[str, Any], list[MergedRow]]] = {}
    for path in paths:
        for result in read_results(path):
            spec = {k: v for k, v in result.spec.items() if k != "name"}
            key = json.dumps(spec, sort_keys=True)
            groups.setdefault(key, (result.spec, []))[1].extend(_rows(result, str(path)))
    return MergeResult(
        tuple((spec, tuple(rows)) for spec, rows in groups.values()), tuple(str(p) for p in paths)
    )


def write_markdown(result: MergeResult, out: str | Path) -> Path:
    """Write the merged table as a markdown page (atomically)."""
    from sepprof.files import write_atomic
    from sepprof.render.merge import merge_markdown

    return write_atomic(out, merge_markdown(result))


def _rows(result: CompareResult, source: str) -> list[MergedRow]:
    env = result.environment
    comps = {c.variant: c for c in result.comparisons}
    base = result.variants[0]
    out = []
    for variant in result.variants:
        comp = comps.get(variant.name)
        devices = list(variant.latency_ms) or ["—"]
        for device in devices:
            lat = variant.latency_ms.get(device)
            speed = comp.speedup.get(device) if comp else None
            out.append(
                MergedRow(
                    machine=machine_name(env) if device != "cuda" else env.get("gpu", "cuda"),
                    device=device,
                    setup=setup(env),
                    dtype=env.get("dtype", "fp32"),
                    threads=env.get("threads"),
                    variant=variant.name,
                    macs=variant.macs_analytic,
                    macs_ratio=variant.macs_analytic / base.macs_analytic,
                    median_ms=lat.median if lat else None,
                    iqr_ms=lat.iqr if lat else None,
                    speedup=speed.value if speed else (1.0 if lat and variant is base else None),
                    speedup_error=speed.error if speed else None,
                    source=source,
                    trusted=speed.trusted if speed else True,
                )
            )
    return out
