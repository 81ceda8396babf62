"""sepprof: what depthwise-separable convolutions really save, counted, traced and timed.

The library API mirrors the commands; names are imported lazily so that ``import sepprof``
(and ``sepprof --help``) never imports torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_API = {
    "compare": "sepprof.commands.compare",
    "profile": "sepprof.commands.profile",
    "profile_model": "sepprof.model_profile",
    "sepify": "sepprof.commands.sepify",
    "convert": "sepprof.commands.sepify",
    "sweep": "sepprof.commands.sweep",
    "check": "sepprof.commands.check",
    "build_report": "sepprof.commands.report",
    "write_report": "sepprof.commands.report",
    "merge": "sepprof.commands.merge",
    "calibrate": "sepprof.commands.calibrate",
    "load_network": "sepprof.network",
    "load_layers": "sepprof.spec",
    "LayerSpec": "sepprof.spec",
    "parse_variants": "sepprof.spec",
    "TimingOptions": "sepprof.options",
    "Grid": "sepprof.commands.sweep",
    "Options": "sepprof.network",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'sepprof' has no attribute {name!r}")
