"""JSON for programs: the versioned contract of DESIGN.md, nothing else on stdout.

Strict JSON only: a NaN or an infinity (which ``json.dumps`` would write as the bare, invalid
``NaN``/``Infinity``) is written as ``null`` and named in a note on stderr.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any


def finite(data: Any, path: str = "", found: list[str] | None = None) -> Any:
    """``data`` with every non-finite float replaced by None; their key paths go to ``found``."""
    if isinstance(data, float) and not math.isfinite(data):
        if found is not None:
            found.append(path or "(document)")
        return None
    if isinstance(data, dict):
        return {k: finite(v, f"{path}.{k}" if path else str(k), found) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v, f"{path}[{i}]", found) for i, v in enumerate(data)]
    return data


def render_json(result: Any) -> str:
    """JSON text of a result, or of a list of results (one per layer of a layers file)."""
    if isinstance(result, list | tuple):
        data: Any = [r.to_dict() for r in result]
    else:
        data = result.to_dict()
    found: list[str] = []
    text = json.dumps(finite(data, "", found), indent=2, allow_nan=False)
    if found:
        shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        print(f"note: not a finite number, written as null: {shown}", file=sys.stderr)
    return text
