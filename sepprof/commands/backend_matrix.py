"""The report's backends section: the worked example (standard vs separable) and a network timed
on every backend and mode available here, and the claim "do specialised kernels change the
verdict?" judged from them. Measuring lives here; rendering reads ``results.backends``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sepprof.backends.prepare import check_backend
from sepprof.errors import UserError
from sepprof.results.backends import BackendMatrix, BackendRun
from sepprof.results.claims import FAILS, HOLDS, INCONCLUSIVE, UNMEASURED, Claim, interval
from sepprof.timing.options import Progress

SETUPS = (
    ("eager", "inference"),
    ("compile", "inference"),
    ("onnxruntime", "inference"),
    ("eager", "train"),
    ("compile", "train"),
)
KERNELS_CLAIM = "Specialised kernels (compiled or exported graphs) change the separable verdict"
KERNELS_RULE = (
    "the verdict is 'separable is faster' (speedup interval above 1) or 'slower' (below 1); "
    "holds when some backend or mode gives the opposite verdict to eager inference, does not "
    "hold when all give the same, inconclusive when an interval crosses 1 or a speedup was "
    "contended or unstable"
)


def unavailable(backend: str, mode: str, device: str = "cpu") -> str | None:
    """Why ``backend`` in ``mode`` cannot run here (no compiler, no ORT), or None."""
    try:
        check_backend(backend, mode, device)
    except UserError as exc:
        return str(exc)
    return None


def _compile_seconds(environment: dict[str, Any]) -> float | None:
    seconds = environment.get("compile_seconds")
    return sum(seconds.values()) if isinstance(seconds, dict) and seconds else None


def layer_run(result: Any, backend: str, mode: str, device: str) -> BackendRun:
    """A ``compare`` result (standard first, separable second) as one backend run."""
    latency = {r.name: r.latency_ms[device].median for r in result.variants}
    comp = result.comparisons[0] if result.comparisons else None
    return BackendRun(
        "worked example",
        backend,
        mode,
        device,
        latency,
        comp.speedup.get(device) if comp else None,
        comp.macs_ratio if comp else None,
        _compile_seconds(result.environment),
        tuple(result.notes),
    )


def network_run(result: Any, backend: str, mode: str, device: str) -> BackendRun:
    """A ``profile`` result's whole-network latency as one backend run."""
    name = result.network.get("name", "network")
    latency = {name: result.totals.latency_ms[device].median}
    seconds = _compile_seconds(result.environment)
    return BackendRun(name, backend, mode, device, latency, None, None, seconds, result.notes)


def backend_matrix(
    timing: Any,
    network: Any = None,
    *,
    setups: tuple[tuple[str, str], ...] = SETUPS,
    layer: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> BackendMatrix:
    """Time the worked example (standard vs separable, k=3, 256 channels, or ``layer``'s
    fields) and ``network`` (a ``network.Network``, optional) on each setup available on
    ``timing``'s first device."""
    from sepprof.commands.compare import compare
    from sepprof.commands.profile import profile

    device = timing.devices[0]
    runs, skipped = [], {}
    for backend, mode in setups:
        reason = unavailable(backend, mode, device)
        if reason:
            skipped[f"{backend} {mode}"] = reason
            continue
        opts = replace(timing, backend=backend, mode=mode, devices=(device,))
        result = compare(
            None,
            "standard,separable",
            trace=False,
            timing=opts,
            stages=False,
            progress=progress,
            **(layer or {}),
        )
        runs.append(layer_run(result, backend, mode, device))
        if network is not None:
            prof = profile(network, trace=False, timing=opts, stages=False, progress=progress)
            runs.append(network_run(prof, backend, mode, device))
    return BackendMatrix(tuple(runs), skipped)


def _verdict(run: BackendRun) -> str | None:
    """'faster', 'slower' or None (interval crosses 1, contended or unstable, not timed)."""
    if run.speedup is None or not run.speedup.trusted:
        return None
    span = interval(run.speedup)
    if span.low > 1:
        return "faster"
    return "slower" if span.high < 1 else None


def kernels_claim(matrix: BackendMatrix) -> Claim:
    """Do specialised kernels change the verdict? Eager inference's standard/separable verdict
    against every other backend and mode's, on the worked example."""
    runs = [r for r in matrix.of("worked example") if r.speedup is not None]
    base = next((r for r in runs if r.setup == "eager inference"), None)
    others = [r for r in runs if r is not base]
    if base is None or not others:
        return Claim(KERNELS_CLAIM, "fewer than two backends timed", UNMEASURED, KERNELS_RULE)
    measured = "; ".join(
        f"{r.setup} {r.speedup.value:.2f}x ({interval(r.speedup).text()})" for r in runs
    )
    verdicts = {r.setup: _verdict(r) for r in runs}
    if verdicts[base.setup] is None or None in verdicts.values():
        return Claim(KERNELS_CLAIM, measured, INCONCLUSIVE, KERNELS_RULE)
    flipped = any(verdicts[r.setup] != verdicts[base.setup] for r in others)
    return Claim(KERNELS_CLAIM, measured, HOLDS if flipped else FAILS, KERNELS_RULE)
