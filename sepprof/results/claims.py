"""The well-known claims about separable convolutions, each judged by a rule read from its wording.

A measured claim is judged on the measurement's interval, not its middle value: "holds" when the
interval lies inside what the claim says, "does not hold here" when it lies outside, and
"inconclusive" when it crosses the edge. "not measured here" when this run has no such
measurement (no GPU, nothing timed) and no quoted figure stands in for one. A statement that
no measurement can contradict (a ratio of counts from formulas) is reported as a computed
fact, not as a check. Each check is a pure function of finished results.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sepprof.results import CompareResult, Comparison, ProfileResult, Speedup

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold here", "inconclusive"
UNMEASURED, COMPUTED = "not measured here", "computed, not a check"
ROUNDING = 0.5  # "2-3x" covers every speedup that rounds to 2x or 3x: 1.5x to 3.5x
EXACT = 1e-9  # relative tolerance for counts that must equal a formula


@dataclass(frozen=True)
class Claim:
    """A claim, what was measured or computed, the verdict, and the rule that gave it."""

    claim: str
    measured: str
    verdict: str
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Interval:
    """A measured quantity's plausible range, low to high."""

    low: float
    high: float

    def within(self, low: float, high: float) -> str:
        """HOLDS inside [low, high], FAILS wholly outside it, else INCONCLUSIVE."""
        if low <= self.low and self.high <= high:
            return HOLDS
        return FAILS if self.high < low or self.low > high else INCONCLUSIVE

    def above(self, other: Interval) -> str:
        """HOLDS when wholly above ``other``, FAILS when wholly below it, else INCONCLUSIVE."""
        if self.low > other.high:
            return HOLDS
        return FAILS if self.high < other.low else INCONCLUSIVE

    def scaled(self, factor: float) -> Interval:
        return Interval(self.low * factor, self.high * factor)

    def text(self, digits: int = 2, unit: str = "x") -> str:
        return f"{self.low:.{digits}f}{unit}–{self.high:.{digits}f}{unit}"


def interval(speedup: Speedup) -> Interval:
    """The speedup's confidence interval where results carry one (``low``-``high``), else
    value ± its error propagated from the two IQRs."""
    if speedup.low is None or speedup.high is None:
        return Interval(speedup.value - speedup.error, speedup.value + speedup.error)
    return Interval(speedup.low, speedup.high)


def combine(verdicts: list[str]) -> str:
    """All hold -> HOLDS; any fails -> FAILS; otherwise INCONCLUSIVE (empty -> UNMEASURED)."""
    if not verdicts:
        return UNMEASURED
    if FAILS in verdicts:
        return FAILS
    return HOLDS if all(v == HOLDS for v in verdicts) else INCONCLUSIVE


def _doubts(comp: Comparison, devices: tuple[str, ...]) -> str:
    """Why a device's speedup carries no verdict (contended, unstable), or empty."""
    return "; ".join(
        f"{d}: {comp.speedup[d].reason}" for d in devices if not comp.speedup[d].trusted
    )


def _comparison(result: CompareResult, variant: str) -> Comparison | None:
    return next((c for c in result.comparisons if c.variant == variant), None)


def _is_worked_example(main: CompareResult) -> bool:
    spec = main.spec
    return spec.get("k") == 3 and spec.get("cin") == spec.get("cout") == 256


def _worst(pairs: list[tuple[float, float]]) -> float:
    return max(abs(r - t) / t for r, t in pairs)


def cost_ratio(points: list[CompareResult]) -> Claim:
    """Separable/standard MACs = 1/Cout + 1/k^2: a check on traced counts; on analytic counts
    both sides are formulas, so only a computed fact."""
    claim = "Separable costs 1/Cout + 1/k² of a standard convolution"
    comps = [c for p in points if (c := _comparison(p, "separable")) and c.theory_ratio]
    traced = [(c.traced_ratio, c.theory_ratio) for c in comps if c.traced_ratio is not None]
    if traced:
        worst = _worst(traced)
        return Claim(
            claim,
            f"largest relative deviation {worst:.1e} over {len(traced)} points (traced MACs)",
            HOLDS if worst <= EXACT else FAILS,
            f"holds if the traced MAC ratio equals the formula within {EXACT:g} at every point",
        )
    if not comps:
        return Claim(claim, "no sweep points", UNMEASURED, "needs a sweep with separable")
    worst = _worst([(c.macs_ratio, c.theory_ratio) for c in comps])
    return Claim(
        claim,
        f"largest relative deviation {worst:.1e} over {len(comps)} points (analytic MACs)",
        COMPUTED,
        "not traced: the analytic count and the formula are both formulas, so this is not a check",
    )


def parameter_reduction(main: CompareResult) -> Claim:
    """8.7x fewer parameters at k=3, Cin=Cout=256: counted from the shape, so a computed fact."""
    claim = "Parameters fall 8.7x at k=3, 256 channels"
    rule = (
        "Cout·Cin·k² vs k²·Cin + Cin·Cout, counted from the layer's shape: no measurement can "
        "contradict it, so it is not a check"
    )
    comp = _comparison(main, "separable")
    if comp is None or not _is_worked_example(main):
        return Claim(
            claim, "the main layer is not k=3, 256 channels with separable", UNMEASURED, rule
        )
    sep = next(v.params for v in main.variants if v.name == "separable")
    measured = f"{1 / comp.params_ratio:.2f}x ({main.variants[0].params:,} vs {sep:,})"
    return Claim(claim, measured, COMPUTED, rule)


def depthwise_share(mobilenet: ProfileResult | None) -> list[Claim]:
    """Depthwise is ~3% of MobileNetV1's MACs (computed) but a much larger share of its time."""
    claim = "Depthwise layers are ~3% of MobileNetV1's MACs but a much larger share of its time"
    rule = (
        "holds if depthwise is 2.5-3.5% of MACs (computed) and at least twice that share of the "
        "measured time ('much larger')"
    )
    kinds = {t.kind: t for t in mobilenet.by_type} if mobilenet else {}
    dw = kinds.get("depthwise")
    if dw is None or not dw.time_ms:
        return [Claim(claim, "MobileNetV1 not timed", UNMEASURED, rule)]
    mac_share = dw.macs / sum(t.macs for t in mobilenet.by_type)
    out = []
    for device, ms in dw.time_ms.items():
        time_share = ms / sum(t.time_ms.get(device, 0) for t in mobilenet.by_type)
        ok = 0.025 <= mac_share <= 0.035 and time_share >= 2 * mac_share
        measured = (
            f"{mac_share:.2%} of MACs, {time_share:.1%} of the time of its layers on {device}"
        )
        out.append(Claim(f"{claim} ({device})", measured, HOLDS if ok else FAILS, rule))
    return out


def gpu_gap(main: CompareResult) -> Claim:
    """An 8-9x FLOP cut gives only 2-3x wall-clock on GPUs: the CUDA interval must lie in 2-3x."""
    claim = "An 8-9x FLOP cut gives only 2-3x wall-clock on GPUs"
    low, high = 2 - ROUNDING, 3 + ROUNDING
    rule = (
        f"holds if the CUDA speedup's interval lies within 2-3x, read as what rounds to it "
        f"({low:g}x-{high:g}x); does not hold if it lies outside; inconclusive if it crosses an "
        "edge; only for a cut that rounds to 8-9x"
    )
    comp = _comparison(main, "separable")
    if comp is None or "cuda" not in comp.speedup:
        return Claim(claim, "no CUDA device in this run", UNMEASURED, rule)
    cut = 1 / comp.macs_ratio
    if not 8 - ROUNDING <= cut <= 9 + ROUNDING:
        return Claim(claim, f"the main layer's cut is {cut:.2f}x, not 8-9x", UNMEASURED, rule)
    if doubt := _doubts(comp, ("cuda",)):
        return Claim(claim, f"no verdict: {doubt}", UNMEASURED, rule)
    span = interval(comp.speedup["cuda"])
    measured = (
        f"{cut:.2f}x fewer MACs -> {comp.speedup['cuda'].value:.2f}x faster on cuda "
        f"(interval {span.text()})"
    )
    return Claim(claim, measured, span.within(low, high), rule)


def cpu_tracks(main: CompareResult) -> Claim:
    """On CPUs the speedup tracks the FLOP cut more closely than on GPUs: needs both, here."""
    claim = "On CPUs the speedup tracks the FLOP cut more closely than on GPUs"
    rule = (
        "holds if the share of the MAC cut realised as speed (speedup x MAC ratio) has an "
        "interval on the CPU wholly above the GPU's; does not hold if wholly below; "
        "inconclusive if they overlap"
    )
    comp = _comparison(main, "separable")
    if comp is None or "cpu" not in comp.speedup:
        return Claim(claim, "CPU not timed", UNMEASURED, rule)
    cpu = interval(comp.speedup["cpu"]).scaled(comp.macs_ratio)
    if "cuda" not in comp.speedup:
        return Claim(claim, f"CPU realises {_pct(cpu)}; no GPU in this run", UNMEASURED, rule)
    if doubt := _doubts(comp, ("cpu", "cuda")):
        return Claim(claim, f"no verdict: {doubt}", UNMEASURED, rule)
    gpu = interval(comp.speedup["cuda"]).scaled(comp.macs_ratio)
    measured = f"CPU realises {_pct(cpu)} of the {1 / comp.macs_ratio:.2f}x cut, GPU {_pct(gpu)}"
    return Claim(claim, measured, cpu.above(gpu), rule)


def _pct(span: Interval) -> str:
    return f"{span.low:.0%}–{span.high:.0%}"


def grouped_between(main: CompareResult) -> Claim:
    """Grouped convolution sits between standard and separable: MACs computed, time measured."""
    claim = "Grouped convolution sits between standard and separable"
    rule = (
        "MACs computed; on every device, holds if grouped's speedup interval lies wholly above "
        "1x and wholly below separable's; does not hold if either lies wholly on the wrong side "
        "(or the MACs do not lie between); inconclusive otherwise"
    )
    grouped = next((c for c in main.comparisons if c.variant.startswith("grouped")), None)
    sep = _comparison(main, "separable")
    if grouped is None or sep is None:
        return Claim(claim, "grouped not compared", UNMEASURED, rule)
    parts = [f"{grouped.variant}: {1 / grouped.macs_ratio:.1f}x fewer MACs"]
    verdicts = [] if sep.macs_ratio < grouped.macs_ratio < 1 else [FAILS]
    for device in grouped.speedup:
        if device not in sep.speedup:
            continue
        if doubt := _doubts(grouped, (device,)) or _doubts(sep, (device,)):
            parts.append(f"no verdict on {doubt}")
            continue
        g, s = interval(grouped.speedup[device]), interval(sep.speedup[device])
        verdicts += [g.above(Interval(1.0, 1.0)), s.above(g)]
        parts.append(f"{g.text()} faster on {device} (separable {s.text()})")
    return Claim(claim, ", ".join(parts), combine(verdicts), rule)


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
