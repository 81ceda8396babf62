"""Plain result data: what renderers, budgets, reports and ``merge`` read; serialises to JSON.

The only home of result types and of every number derived from measurements (ratios, shares,
deviations, spreads): renderers format these and compute nothing. Counts are integers, times are
milliseconds, ratios are plain floats. JSON keys are the contract in DESIGN.md: they are only ever
added, never renamed.
"""

from sepprof.results.check import CheckResult, Verdict
from sepprof.results.compare import CompareResult, CompareSet, Comparison
from sepprof.results.latency import Latency, Speedup, split
from sepprof.results.merge import MergedRow, MergeResult
from sepprof.results.profile import ProfileResult, TypeShare
from sepprof.results.rows import Roof, Row
from sepprof.results.schemas import (
    CALIBRATION_SCHEMA,
    CHECK_SCHEMA,
    COMPARE_SCHEMA,
    COMPARE_SET_SCHEMA,
    MERGE_SCHEMA,
    PROFILE_SCHEMA,
    REPORT_SCHEMA,
    SEPIFY_SCHEMA,
    SWEEP_SCHEMA,
)
from sepprof.results.sweep import SweepResult

__all__ = [
    "CALIBRATION_SCHEMA",
    "CHECK_SCHEMA",
    "COMPARE_SCHEMA",
    "COMPARE_SET_SCHEMA",
    "MERGE_SCHEMA",
    "PROFILE_SCHEMA",
    "REPORT_SCHEMA",
    "SEPIFY_SCHEMA",
    "SWEEP_SCHEMA",
    "CheckResult",
    "CompareResult",
    "CompareSet",
    "Comparison",
    "Latency",
    "MergeResult",
    "MergedRow",
    "ProfileResult",
    "Roof",
    "Row",
    "Speedup",
    "SweepResult",
    "TypeShare",
    "Verdict",
    "split",
]
