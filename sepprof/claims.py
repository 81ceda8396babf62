"""The well-known claims about separable convolutions, checked against this machine's results.

Each check is a pure function of finished results and returns a verdict with the numbers it
rests on: "holds", "does not hold here" or "not measured here".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sepprof.results import CompareResult, Comparison, ProfileResult

HOLDS, FAILS, UNMEASURED = "holds", "does not hold here", "not measured here"


@dataclass(frozen=True)
class Claim:
    """A claim, what was measured, and the verdict."""

    claim: str
    measured: str
    verdict: str
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _comparison(result: CompareResult, variant: str) -> Comparison | None:
    return next((c for c in result.comparisons if c.variant == variant), None)


def cost_ratio(points: list[CompareResult]) -> Claim:
    """Separable/standard MACs = 1/Cout + 1/k^2, checked on traced counts over a sweep."""
    claim = "Separable costs 1/Cout + 1/k² of a standard convolution"
    rule = "holds if the traced MAC ratio equals the formula (within 1e-9) at every point"
    pairs = [
        (c.traced_ratio or c.macs_ratio, c.theory_ratio)
        for p in points
        if (c := _comparison(p, "separable")) and c.theory_ratio
    ]
    if not pairs:
        return Claim(claim, "no sweep points", UNMEASURED, rule)
    worst = max(abs(r - t) / t for r, t in pairs)
    measured = (
        f"exact at all {len(pairs)} points (traced MACs)"
        if worst == 0
        else f"equal at all {len(pairs)} points to floating-point precision (largest relative "
        f"deviation {worst:.1e}, traced MACs)"
        if worst < 1e-12
        else f"largest relative deviation {worst:.1e} over {len(pairs)} points"
    )
    return Claim(claim, measured, HOLDS if worst < 1e-9 else FAILS, rule)


def parameter_reduction(main: CompareResult) -> Claim:
    """8.7x fewer parameters at k=3, Cin=Cout=256."""
    claim = "Parameters fall 8.7x at k=3, 256 channels"
    rule = "holds if standard/separable params is 8.65x-8.75x"
    comp = _comparison(main, "separable")
    if comp is None:
        return Claim(claim, "separable not compared", UNMEASURED, rule)
    value = 1 / comp.params_ratio
    return Claim(
        claim,
        f"{value:.2f}x ({main.variants[0].params:,} vs "
        f"{next(v.params for v in main.variants if v.name == 'separable'):,})",
        HOLDS if 8.65 <= value <= 8.75 else FAILS,
        rule,
    )


def depthwise_share(mobilenet: ProfileResult | None) -> list[Claim]:
    """Depthwise is ~3% of MobileNetV1's MACs but a much larger share of its time."""
    claim = "Depthwise layers are ~3% of MobileNetV1's MACs but a much larger share of its time"
    rule = "holds if depthwise is 2.5-3.5% of MACs and at least twice that share of time"
    kinds = {t.kind: t for t in mobilenet.by_type} if mobilenet else {}
    dw = kinds.get("depthwise")
    if dw is None or not dw.time_ms:
        return [Claim(claim, "MobileNetV1 not timed", UNMEASURED, rule)]
    mac_share = dw.macs / sum(t.macs for t in mobilenet.by_type)
    out = []
    for device, ms in dw.time_ms.items():
        time_share = ms / sum(t.time_ms.get(device, 0) for t in mobilenet.by_type)
        ok = 0.025 <= mac_share <= 0.035 and time_share >= 2 * mac_share
        out.append(
            Claim(
                f"{claim} ({device})",
                f"{mac_share:.2%} of MACs, {time_share:.1%} of the time of its layers on {device}",
                HOLDS if ok else FAILS,
                rule,
            )
        )
    return out


def realised(comp: Comparison, device: str) -> float:
    """The fraction of the MAC cut that shows up as speed: speedup x MAC ratio."""
    return comp.speedup[device].value * comp.macs_ratio


def gpu_gap(main: CompareResult) -> Claim:
    """An 8-9x FLOP cut gives only 2-3x wall-clock on GPUs."""
    claim = "An 8-9x FLOP cut gives only 2-3x wall-clock on GPUs"
    rule = "holds if the CUDA speedup at k=3, 256 channels is at most 3.5x"
    comp = _comparison(main, "separable")
    if comp is None or "cuda" not in comp.speedup:
        return Claim(claim, "no CUDA device in this run", UNMEASURED, rule)
    s = comp.speedup["cuda"]
    return Claim(
        claim,
        f"{1 / comp.macs_ratio:.2f}x fewer MACs -> {s.value:.2f}x ± {s.error:.2f} faster on cuda",
        HOLDS if s.value <= 3.5 else FAILS,
        rule,
    )


def cpu_tracks(main: CompareResult) -> Claim:
    """On CPUs the speedup tracks the FLOP cut more closely than on GPUs."""
    claim = "On CPUs the speedup tracks the FLOP cut more closely"
    comp = _comparison(main, "separable")
    if comp is None or "cpu" not in comp.speedup:
        return Claim(claim, "CPU not timed", UNMEASURED, "")
    cpu = realised(comp, "cpu")
    if "cuda" in comp.speedup:
        gpu = realised(comp, "cuda")
        rule = "holds if the CPU realises a larger fraction of the MAC cut than the GPU"
        return Claim(
            claim,
            f"CPU realises {cpu:.0%} of the {1 / comp.macs_ratio:.2f}x cut, GPU {gpu:.0%}",
            HOLDS if cpu > gpu else FAILS,
            rule,
        )
    rule = (
        "no GPU here: holds if the CPU realises more of the cut than the 2-3x-of-8.7x "
        "(35%) quoted for GPUs"
    )
    return Claim(
        claim,
        f"CPU realises {cpu:.0%} of the {1 / comp.macs_ratio:.2f}x cut "
        f"({comp.speedup['cpu'].value:.2f}x faster)",
        HOLDS if cpu > 0.35 else FAILS,
        rule,
    )


def grouped_between(main: CompareResult) -> Claim:
    """Grouped convolution sits between standard and separable, in MACs and in time."""
    claim = "Grouped convolution sits between standard and separable"
    rule = (
        "holds if its MACs and, on every device, its speedup lie between standard's and separable's"
    )
    grouped = next((c for c in main.comparisons if c.variant.startswith("grouped")), None)
    sep = _comparison(main, "separable")
    if grouped is None or sep is None:
        return Claim(claim, "grouped not compared", UNMEASURED, rule)
    ok = sep.macs_ratio < grouped.macs_ratio < 1
    parts = [f"{grouped.variant}: {1 / grouped.macs_ratio:.1f}x fewer MACs"]
    for device, s in grouped.speedup.items():
        between = 1 < s.value < sep.speedup[device].value if device in sep.speedup else False
        ok = ok and between
        parts.append(
            f"{s.value:.2f}x faster on {device} (separable {sep.speedup[device].value:.2f}x)"
            if device in sep.speedup
            else ""
        )
    verdict = HOLDS if ok and grouped.speedup else (FAILS if grouped.speedup else UNMEASURED)
    return Claim(claim, ", ".join(p for p in parts if p), verdict, rule)


def check_claims(
    main: CompareResult, points: list[CompareResult], mobilenet: ProfileResult | None
) -> list[Claim]:
    """Every claim, in the order the report lists them."""
    return [
        cost_ratio(points),
        parameter_reduction(main),
        *depthwise_share(mobilenet),
        gpu_gap(main),
        cpu_tracks(main),
        grouped_between(main),
    ]
