"""``sepprof calibrate``: measure and store each device's peak FLOP/s and memory bandwidth.

A calibration taken under load, or over 20% below the one stored, is shown but not stored
unless ``force``: a roof measured on a busy machine would poison every later roofline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sepprof.timing.options import Progress

# Seconds of the drift probe: long enough to span a change of the machine's speed (spells of
# 30-60 s on the development VM), short beside the rest of a calibration.
PROBE_SECONDS = 45.0


@dataclass(frozen=True)
class Calibrated:
    """A device's new calibration, where it was stored (None: not stored) and why not."""

    calibration: Any
    path: Path | None
    refused: str = ""
    drift: str = ""  # what the drift probe learned

    @property
    def message(self) -> str:
        """Lines for stderr: where it was saved, or why not and how to store it anyway; the
        drift probe's result."""
        device = self.calibration.device
        if self.path is not None:
            saved = f"{device}: saved to {self.path}"
        else:
            saved = (
                f"warning: {device}: not saved: {self.refused} (pass --force to store it anyway)"
            )
        return saved + (f"\n{device}: {self.drift}" if self.drift else "")


def calibrate(
    timing: Any,
    progress: Progress | None = None,
    force: bool = False,
    probe_seconds: float = PROBE_SECONDS,
) -> list[Calibrated]:
    """Calibrate every device of ``timing`` (a ``TimingOptions``) and store each result unless
    it was measured under contention or is over 20% below the stored one (``force`` stores it
    anyway). Where this machine has learned no drift between commands yet, a drift probe of
    ``probe_seconds`` (0: none) gives the next command one."""
    from sepprof.timing.calibration import calibrate as measure_roof
    from sepprof.timing.calibration import load_calibration, refusal, save_calibration
    from sepprof.timing.measure import resolve_devices

    done = []
    threads = timing.thread_count()
    for device in resolve_devices(timing.devices):
        tick = progress(f"calibrating {device}", 9) if progress else None
        cal = measure_roof(device, timing.dtype, threads, tick)
        refused = "" if force else refusal(cal, load_calibration(device, timing.dtype, threads))
        saved = None if refused else save_calibration(cal)
        drift = _probe(device, threads, probe_seconds, progress) if probe_seconds else ""
        done.append(Calibrated(cal, saved, refused, drift))
    return done


def _probe(device: str, threads: int, seconds: float, progress: Progress | None) -> str:
    """Run the drift probe when this machine has learned no drift yet; what it learned."""
    from sepprof.timing.drift import load_drift, probe

    if load_drift(device, threads).sigma is None:
        label = f"drift probe on {device} ({seconds:.0f} s)"
        probe(device, threads, seconds, progress(label, int(seconds)) if progress else None)
    return load_drift(device, threads).source
