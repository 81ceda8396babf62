"""sepprof: what depthwise-separable convolutions really save, counted, traced and timed.

The library API mirrors the commands (``sepprof.compare``, ``sepprof.profile``, ...), and every
result is a frozen dataclass with ``to_dict()`` (the JSON contract). Names are imported lazily,
so ``import sepprof`` (and ``sepprof --help``) never imports torch.

>>> import sepprof
>>> r = sepprof.compare(k=3, cin=256, cout=256, variants=["standard", "separable"], trace=False)
>>> r.comparisons[0].macs_ratio == 1 / 256 + 1 / 9
True
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_FUNCTIONS = {
    "compare": "sepprof.commands.compare",
    "compare_file": "sepprof.commands.compare",
    "profile": "sepprof.commands.profile",
    "profile_model": "sepprof.commands.model_profile",
    "sepify": "sepprof.commands.sepify",
    "convert": "sepprof.commands.sepify",
    "sweep": "sepprof.commands.sweep",
    "check": "sepprof.commands.check",
    "history": "sepprof.commands.history",
    "build_report": "sepprof.commands.report",
    "write_report": "sepprof.commands.report",
    "merge": "sepprof.commands.merge",
    "calibrate": "sepprof.commands.calibrate",
    "load_network": "sepprof.spec.network",
    "load_layers": "sepprof.spec.layer",
    "load_budgets": "sepprof.spec.budgets",
    "build_model": "sepprof.models.model",
    "parse_inputs": "sepprof.models.model",
    "parse_variants": "sepprof.spec.layer",
}
_SPECS = {
    "LayerSpec": "sepprof.spec.layer",
    "VariantSpec": "sepprof.spec.layer",
    "Options": "sepprof.spec.network",
    "Network": "sepprof.spec.network",
    "Grid": "sepprof.commands.sweep",
    "TimingOptions": "sepprof.timing.options",
    "ModelInputs": "sepprof.models.model",
}
_RESULTS = {
    name: "sepprof.results"
    for name in (
        "CompareResult",
        "CompareSet",
        "Comparison",
        "ProfileResult",
        "SweepResult",
        "CheckResult",
        "Verdict",
        "MergeResult",
        "Row",
        "Latency",
        "Speedup",
    )
}
_RESULTS |= {"Report": "sepprof.results.report", "SepifyReport": "sepprof.results.sepify"}
_API = {**_FUNCTIONS, **_SPECS, **_RESULTS}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'sepprof' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
