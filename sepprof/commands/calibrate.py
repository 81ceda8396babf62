"""``sepprof calibrate``: measure and store each device's peak FLOP/s and memory bandwidth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sepprof.pipeline import Progress


def calibrate(timing: Any, progress: Progress | None = None) -> list[tuple[Any, Path]]:
    """Calibrate every device of ``timing`` (a ``TimingOptions``) and store each result;
    returns (calibration, where it was stored) per device."""
    from sepprof.calibration import calibrate as measure_roof
    from sepprof.calibration import save_calibration
    from sepprof.measure import resolve_devices

    stored = []
    for device in resolve_devices(timing.devices):
        tick = progress(f"calibrating {device}", 9) if progress else None
        cal = measure_roof(device, timing.dtype, timing.thread_count(), tick)
        stored.append((cal, save_calibration(cal)))
    return stored
