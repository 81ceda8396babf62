"""Charts for reports (matplotlib, Agg backend): each function draws finished results and saves
PNG and SVG side by side, returning the PNG's file name and its alt text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sepprof.results import CompareResult, ProfileResult, Row

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
OFFSETS = [(4, 3), (-9, -8), (4, -9), (-9, 4)]  # numbered points near each other stay legible
STAGE_COLORS = {
    "standard": "#7f7f7f",
    "grouped": "#9467bd",
    "depthwise": "#d62728",
    "pointwise": "#1f77b4",
    "fc": "#2ca02c",
    "squeeze_excite": "#ff7f0e",
    "pool": "#8c564b",
    "elementwise": "#bcbd22",
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "font.size": 9,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "svg.hashsalt": "sepprof",
        }
    )
    return plt


def _save(fig: Any, folder: Path, stem: str) -> str:
    fig.tight_layout()
    fig.savefig(folder / f"{stem}.png")
    fig.savefig(folder / f"{stem}.svg", metadata={"Date": None})
    _pyplot().close(fig)
    return f"{stem}.png"


def sweep_chart(points: list[CompareResult], device: str, folder: Path) -> tuple[str, str]:
    """MAC reduction (theory curve 1/(1/Cout + 1/k²)) and measured speedup against Cout."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    by_k: dict[int, list[tuple[int, Any]]] = {}
    for p in points:
        comp = next((c for c in p.comparisons if c.variant == "separable"), None)
        if comp is not None:
            by_k.setdefault(p.spec["k"], []).append((p.spec["cout"], comp))
    for color, (k, items) in zip(COLORS, sorted(by_k.items()), strict=False):
        items.sort(key=lambda item: item[0])
        couts = [c for c, _ in items]
        lo, hi = min(couts), max(couts)
        xs = [lo * (hi / lo) ** (i / 60) for i in range(61)] if hi > lo else [lo]
        ax.plot(
            xs,
            [1 / (1 / x + 1 / k**2) for x in xs],
            color=color,
            lw=1.2,
            label=f"k={k}: theory 1/(1/Cout + 1/k²)",
        )
        timed = [(c, comp.speedup[device]) for c, comp in items if device in comp.speedup]
        if timed:
            ax.errorbar(
                [c for c, _ in timed],
                [s.value for _, s in timed],
                yerr=[s.error for _, s in timed],
                fmt="o",
                color=color,
                ms=5,
                capsize=2,
                label=f"k={k}: measured speedup ({device})",
            )
    ax.axhline(1, color="#7f7f7f", lw=0.8, ls=":")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    _plain_ticks(ax)
    ax.set_xlabel("output channels (Cout = Cin)")
    ax.set_ylabel("× vs standard convolution")
    ax.set_title(f"MAC reduction (lines) vs measured speedup (dots), {device}")
    ax.legend(fontsize=7, loc="lower right")
    alt = (
        f"Log-log chart against output channels: for each kernel size, the theoretical MAC "
        f"reduction of a separable convolution as a line and the speedup measured on "
        f"{device} as dots with error bars."
    )
    return _save(fig, folder, f"sweep-{device}"), alt


def _plain_ticks(ax: Any) -> None:
    """Log axes labelled 1, 2, 4, 8 rather than 2^0, 2^1, ..."""
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.yaxis.set_major_formatter(plain)


def roofline_chart(
    rows: list[tuple[str, Row]], calibration: Any, device: str, folder: Path
) -> tuple[str, str]:
    """Log-log roofline from the calibration, with each measured row as a point; labelled rows
    are drawn large, unlabelled ones (a network's layers) small."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    peak = calibration.peak_flops / 1e9
    points = [(label, row) for label, row in rows if device in row.latency_ms and row.bytes]
    xs = [r.intensity for _, r in points] or [1.0]
    lo, hi = min(min(xs) / 2, 0.1), max(max(xs) * 2, 1000)
    grid = [lo * (hi / lo) ** (i / 100) for i in range(101)]
    ax.plot(
        grid,
        [min(peak, x * calibration.dram_bandwidth / 1e9) for x in grid],
        color="k",
        lw=1.5,
        label=f"roof: {peak:.0f} GFLOP/s, DRAM {calibration.dram_bandwidth / 1e9:.0f} GB/s",
    )
    if calibration.cache_bandwidth:
        ax.plot(
            grid,
            [min(peak, x * calibration.cache_bandwidth / 1e9) for x in grid],
            color="k",
            lw=1,
            ls="--",
            label=f"cache {calibration.cache_bandwidth / 1e9:.0f} GB/s",
        )
    key = []
    for label, row in points:
        rate = row.achieved(device)[0]
        color = STAGE_COLORS.get(row.kind, "#17becf")
        if label:
            key.append(label)
            ax.scatter(
                row.intensity, rate, color=color, s=36, zorder=4, edgecolors="k", linewidths=0.6
            )
            ax.annotate(
                str(len(key)),
                (row.intensity, rate),
                fontsize=6,
                zorder=5,
                xytext=OFFSETS[(len(key) - 1) % 4],
                textcoords="offset points",
            )
        else:
            ax.scatter(row.intensity, rate, color=color, s=12, zorder=3, alpha=0.6)
    for kind, color in STAGE_COLORS.items():
        if any(r.kind == kind for _, r in points):
            ax.scatter([], [], color=color, s=22, label=kind)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/byte, minimum bytes)")
    ax.set_ylabel("achieved GFLOP/s")
    ax.set_title(f"Roofline, {device} ({calibration.device_name}, {calibration.dtype})")
    if key:
        ax.text(
            0.02,
            0.97,
            "\n".join(f"{n} {label}" for n, label in enumerate(key, 1)),
            transform=ax.transAxes,
            fontsize=6,
            va="top",
            bbox={"facecolor": "white", "edgecolor": "#cccccc", "alpha": 0.9},
        )
    ax.scatter([], [], color="w", edgecolors="k", s=36, label="worked example (numbered)")
    ax.scatter([], [], color="#7f7f7f", s=12, alpha=0.6, label="network layers")
    ax.legend(fontsize=7, loc="lower right")
    alt = (
        f"Log-log roofline for {device}: the measured peak and DRAM bandwidth as a roof, "
        f"and each timed stage as a dot at its arithmetic intensity and achieved GFLOP/s; "
        f"depthwise stages sit far left, under the memory slope."
    )
    return _save(fig, folder, f"roofline-{device}"), alt


def share_chart(result: CompareResult, device: str, folder: Path) -> tuple[str, str]:
    """Share of MACs vs share of time of each stage, per multi-stage variant."""
    plt = _pyplot()
    variants = [v for v in result.variants if len(v.stages) > 1]
    fig, axes = plt.subplots(
        1, max(len(variants), 1), figsize=(3.3 * max(len(variants), 1), 3.4), squeeze=False
    )
    for ax, variant in zip(axes[0], variants, strict=False):
        total = sum(s.latency_ms[device].median for s in variant.stages)
        names = [s.name for s in variant.stages]
        mac = [100 * s.macs_analytic / variant.macs_analytic for s in variant.stages]
        tim = [100 * s.latency_ms[device].median / total for s in variant.stages]
        idx = range(len(names))
        ax.bar([i - 0.2 for i in idx], mac, 0.4, label="% of MACs", color="#1f77b4")
        ax.bar([i + 0.2 for i in idx], tim, 0.4, label=f"% of time ({device})", color="#d62728")
        ax.set_xticks(list(idx), names, rotation=20, fontsize=8)
        ax.set_ylim(0, 100)
        ax.set_title(variant.name)
        ax.legend(fontsize=7)
    alt = (
        f"Bar charts, one per multi-stage variant: each stage's share of the variant's MACs "
        f"next to its share of the time measured on {device}."
    )
    return _save(fig, folder, f"shares-{device}"), alt


def type_chart(result: ProfileResult, device: str, folder: Path, stem: str) -> tuple[str, str]:
    """A network's share of MACs, params and time by layer type."""
    plt = _pyplot()
    kinds = [t for t in result.by_type if t.macs or t.params or t.time_ms.get(device)]
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    macs = sum(t.macs for t in kinds) or 1
    params = sum(t.params for t in kinds) or 1
    time = sum(t.time_ms.get(device, 0) for t in kinds) or 1
    idx = range(len(kinds))
    ax.bar(
        [i - 0.27 for i in idx],
        [100 * t.macs / macs for t in kinds],
        0.27,
        label="% of MACs",
        color="#1f77b4",
    )
    ax.bar(
        list(idx),
        [100 * t.params / params for t in kinds],
        0.27,
        label="% of params",
        color="#2ca02c",
    )
    ax.bar(
        [i + 0.27 for i in idx],
        [100 * t.time_ms.get(device, 0) / time for t in kinds],
        0.27,
        label=f"% of time ({device})",
        color="#d62728",
    )
    ax.set_xticks(list(idx), [t.kind for t in kinds], rotation=15, fontsize=8)
    ax.set_ylabel("%")
    ax.set_title(f"{result.network['name']}: share by layer type")
    ax.legend(fontsize=7)
    alt = (
        f"Grouped bars for {result.network['name']}: each layer type's share of MACs, of "
        f"parameters and of the time measured on {device}."
    )
    return _save(fig, folder, stem), alt
