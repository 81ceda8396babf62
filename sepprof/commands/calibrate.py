"""``sepprof calibrate``: measure and store each device's peak FLOP/s and memory bandwidth.

A calibration taken under load, or over 20% below the one stored, is shown but not stored
unless ``force``: a roof measured on a busy machine would poison every later roofline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sepprof.timing.options import Progress


@dataclass(frozen=True)
class Calibrated:
    """A device's new calibration, where it was stored (None: not stored) and why not."""

    calibration: Any
    path: Path | None
    refused: str = ""

    @property
    def message(self) -> str:
        """One line for stderr: where it was saved, or why not and how to store it anyway."""
        device = self.calibration.device
        if self.path is not None:
            return f"{device}: saved to {self.path}"
        return f"warning: {device}: not saved: {self.refused} (pass --force to store it anyway)"


def calibrate(
    timing: Any, progress: Progress | None = None, force: bool = False
) -> list[Calibrated]:
    """Calibrate every device of ``timing`` (a ``TimingOptions``) and store each result unless
    it was measured under contention or is over 20% below the stored one (``force`` stores it
    anyway)."""
    from sepprof.timing.calibration import calibrate as measure_roof
    from sepprof.timing.calibration import load_calibration, refusal, save_calibration
    from sepprof.timing.measure import resolve_devices

    done = []
    threads = timing.thread_count()
    for device in resolve_devices(timing.devices):
        tick = progress(f"calibrating {device}", 9) if progress else None
        cal = measure_roof(device, timing.dtype, threads, tick)
        refused = "" if force else refusal(cal, load_calibration(device, timing.dtype, threads))
        done.append(Calibrated(cal, None if refused else save_calibration(cal), refused))
    return done
