"""JSON for programs: the versioned contract of DESIGN.md, nothing else on stdout."""

from __future__ import annotations

import json
from typing import Any


def render_json(result: Any) -> str:
    """JSON text of a result, or of a list of results (one per layer of a layers file)."""
    if isinstance(result, list | tuple):
        return json.dumps([r.to_dict() for r in result], indent=2)
    return json.dumps(result.to_dict(), indent=2)
