"""Charts for reports (matplotlib, Agg backend): each function draws finished results and saves
PNG and SVG side by side, returning the PNG's file name and its alt text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sepprof.results import CompareResult, ProfileResult, Row, SweepResult

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
    """pyplot on the Agg backend (where matplotlib keeps its config is the caller's choice:
    ``commands.report.keep_matplotlib_out_of_home``)."""
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
    """PNG and SVG, cropped to include legends placed outside the axes."""
    fig.tight_layout()
    fig.savefig(folder / f"{stem}.png", bbox_inches="tight")
    fig.savefig(folder / f"{stem}.svg", metadata={"Date": None}, bbox_inches="tight")
    _pyplot().close(fig)
    return f"{stem}.png"


def sweep_chart(sweep: SweepResult, device: str, folder: Path) -> tuple[str, str]:
    """MAC reduction (the result's theory curve 1/(1/Cout + 1/k²)) and measured speedup against
    Cout."""
    points = sweep.points
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.6, 4.2))  # the legend outside takes ~3 in of it
    by_k: dict[int, list[tuple[int, Any]]] = {}
    for p in points:
        comp = next((c for c in p.comparisons if c.variant == "separable"), None)
        if comp is not None:
            by_k.setdefault(p.spec["k"], []).append((p.spec["cout"], comp))
    for color, (k, items) in zip(COLORS, sorted(by_k.items()), strict=False):
        items.sort(key=lambda item: item[0])
        _theory_line(ax, k, sweep.theory_curve.get(k, ()), color)
        timed = [(c, comp.speedup[device]) for c, comp in items if device in comp.speedup]
        _speedups(ax, k, timed, color, device)
    ax.axhline(1, color="#7f7f7f", lw=0.8, ls=":")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    _plain_ticks(ax)
    ax.set_xlabel("output channels (Cout = Cin)")
    ax.set_ylabel("× vs standard convolution")
    ax.set_title(f"MAC reduction (lines) vs measured speedup (dots), {device}")
    _legend_outside(ax)
    alt = (
        f"Log-log chart against output channels: for each kernel size, the theoretical MAC "
        f"reduction of a separable convolution as a line and the speedup measured on "
        f"{device} as dots with error bars."
    )
    return _save(fig, folder, f"sweep-{device}"), alt


def _theory_line(ax: Any, k: int, curve: tuple[tuple[float, float], ...], color: str) -> None:
    """The textbook MAC reduction 1 / (1/Cout + 1/k²), as the sweep result samples it."""
    if curve:
        xs, ys = zip(*curve, strict=True)
        ax.plot(xs, ys, color=color, lw=1.2, label=f"k={k}: theory 1/(1/Cout + 1/k²)")


def _speedups(ax: Any, k: int, timed: list[tuple[int, Any]], color: str, device: str) -> None:
    """Trusted speedups as dots with their interval; the others hollow, marked as no verdict."""
    trusted = [(c, s) for c, s in timed if s.trusted]
    if trusted:
        ax.errorbar(
            [c for c, _ in trusted],
            [s.value for _, s in trusted],
            yerr=[s.error for _, s in trusted],
            fmt="o",
            color=color,
            ms=5,
            capsize=2,
            label=f"k={k}: measured speedup ({device})",
        )
    doubted = [(c, s) for c, s in timed if not s.trusted]
    if doubted:
        ax.scatter(
            [c for c, _ in doubted],
            [s.value for _, s in doubted],
            facecolors="none",
            edgecolors=color,
            s=30,
            label=f"k={k}: speedup without a verdict (contended, unstable or inconclusive)",
        )


def _legend_outside(ax: Any, **kwargs: Any) -> None:
    """A legend right of the axes, where it cannot cover a point."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, **kwargs)


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
    are drawn large and numbered, unlabelled ones (a network's layers) small; colour = type."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    points = [(label, r) for label, r in rows if device in r.latency_ms and r.intensity > 0]
    _roofs(ax, calibration, [r.intensity for _, r in points])
    key = _roofline_points(ax, points, device)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/byte, minimum bytes)")
    ax.set_ylabel("achieved GFLOP/s")
    ax.set_title(f"Roofline, {device} ({calibration.device_name}, {calibration.dtype})")
    if key:
        ax.text(
            1.05,
            0.0,
            "\n".join(f"{n} {label}" for n, label in enumerate(key, 1)),
            transform=ax.transAxes,
            fontsize=6,
            va="bottom",
            bbox={"facecolor": "white", "edgecolor": "#cccccc", "alpha": 0.9},
        )
    _legend_outside(ax, handles=_roofline_legend(ax, points), handler_map=_tuple_handler())
    alt = (
        f"Log-log roofline for {device}: the measured peak and DRAM bandwidth as a roof, "
        f"and each timed stage as a dot at its arithmetic intensity and achieved GFLOP/s; "
        f"depthwise stages sit far left, under the memory slope."
    )
    return _save(fig, folder, f"roofline-{device}"), alt


def _roofs(ax: Any, calibration: Any, intensities: list[float]) -> None:
    """The DRAM roof (solid) and, dashed in another colour on top so that it shows where the
    two coincide, the cache roof; both drawn by ``Roofline.attainable`` (via ``curve``)."""
    from sepprof.results.roofline import Roofline

    xs = intensities or [1.0]
    lo, hi = min(min(xs) / 2, 0.1), max(max(xs) * 2, 1000)
    dram = calibration.roofline()
    grid, flops = dram.curve(lo, hi)
    ax.plot(
        grid,
        [f / 1e9 for f in flops],
        color="k",
        lw=2.2,
        zorder=2,
        label=f"roof: {dram.peak_flops / 1e9:.0f} GFLOP/s, DRAM {dram.bandwidth / 1e9:.0f} GB/s",
    )
    if calibration.cache_bandwidth:
        cache = Roofline(calibration.peak_flops, calibration.cache_bandwidth, "cache")
        grid, flops = cache.curve(lo, hi)
        ax.plot(
            grid,
            [f / 1e9 for f in flops],
            color="#ff7f0e",
            lw=1.2,
            ls=(0, (4, 3)),
            zorder=3,
            label=f"roof with cache bandwidth {cache.bandwidth / 1e9:.0f} GB/s",
        )


def _roofline_points(ax: Any, points: list[tuple[str, Row]], device: str) -> list[str]:
    """Draw every point; return the labels of the numbered (large) ones, in order."""
    key: list[str] = []
    for label, row in points:
        rate = row.achieved(device)[0]
        color = STAGE_COLORS.get(row.kind, "#17becf")
        if not label:
            ax.scatter(row.intensity, rate, color=color, s=12, zorder=4, alpha=0.7)
            continue
        key.append(label)
        ax.scatter(row.intensity, rate, color=color, s=36, zorder=5, edgecolors="k", lw=0.6)
        ax.annotate(
            str(len(key)),
            (row.intensity, rate),
            fontsize=6,
            zorder=6,
            xytext=OFFSETS[(len(key) - 1) % 4],
            textcoords="offset points",
        )
    return key


def _roofline_legend(ax: Any, points: list[tuple[str, Row]]) -> list[Any]:
    """Roof lines, one dot per layer type present, and what the dot sizes mean: the
    network-layers entry shows small dots in the colours of the types drawn."""
    handles, _ = ax.get_legend_handles_labels()
    kinds = [k for k in STAGE_COLORS if any(r.kind == k for _, r in points)]
    for kind in kinds:
        handles.append(ax.scatter([], [], color=STAGE_COLORS[kind], s=22, label=kind))
    if any(label for label, _ in points):
        handles.append(
            ax.scatter([], [], color="w", edgecolors="k", s=36, label="worked example (numbered)")
        )
    small = [r.kind for label, r in points if not label]
    if small:
        dots = tuple(
            ax.scatter([], [], color=STAGE_COLORS.get(k, "#17becf"), s=12, alpha=0.7)
            for k in dict.fromkeys(small)
        )
        handles.append(_Labelled(dots, "network layers (small, colour = type)"))
    return handles


class _Labelled(tuple):
    """A tuple of legend handles drawn side by side under one label."""

    def __new__(cls, handles: tuple[Any, ...], label: str) -> _Labelled:
        made = super().__new__(cls, handles)
        made.label = label
        return made

    def get_label(self) -> str:
        return self.label


def _tuple_handler() -> dict[Any, Any]:
    from matplotlib.legend_handler import HandlerTuple

    return {_Labelled: HandlerTuple(ndivide=None, pad=0.1)}


def share_chart(result: CompareResult, device: str, folder: Path) -> tuple[str, str]:
    """Share of MACs vs share of time of each stage, per multi-stage variant."""
    plt = _pyplot()
    variants = [v for v in result.variants if len(v.stages) > 1]
    n = max(len(variants), 1)
    fig, axes = plt.subplots(1, n, figsize=(3.3 * n, 3.4), squeeze=False, sharey=True)
    for ax, variant in zip(axes[0], variants, strict=False):
        shares = variant.stage_shares
        idx = range(len(shares))
        mac = [100 * (s.macs or 0) for s in shares]
        tim = [100 * s.time.get(device, 0) for s in shares]
        ax.bar([i - 0.2 for i in idx], mac, 0.4, label="% of MACs", color="#1f77b4")
        ax.bar([i + 0.2 for i in idx], tim, 0.4, label=f"% of time ({device})", color="#d62728")
        ax.set_xticks(list(idx), [s.name for s in variant.stages], rotation=20, fontsize=8)
        ax.set_ylim(0, 100)
        ax.set_title(variant.name)
        ax.set_xlabel("stage")
    axes[0][0].set_ylabel("% of the variant's MACs / time")
    if variants:
        _legend_outside(axes[0][-1])
    alt = (
        f"Bar charts, one per multi-stage variant: each stage's share of the variant's MACs "
        f"next to its share of the time measured on {device}."
    )
    return _save(fig, folder, f"shares-{device}"), alt


def type_chart(result: ProfileResult, device: str, folder: Path, stem: str) -> tuple[str, str]:
    """A network's share of MACs, params and time by layer type."""
    plt = _pyplot()
    kept = [
        (t, share)
        for t, share in zip(result.by_type, result.type_shares, strict=True)
        if t.macs or t.params or t.time_ms.get(device)
    ]
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    idx = list(range(len(kept)))
    bars = [
        ("% of MACs", "#1f77b4", [s.macs for _, s in kept]),
        ("% of params", "#2ca02c", [s.params for _, s in kept]),
        (f"% of time ({device})", "#d62728", [s.time.get(device) for _, s in kept]),
    ]
    for offset, (label, color, values) in zip((-0.27, 0, 0.27), bars, strict=True):
        heights = [100 * (v or 0) for v in values]
        ax.bar([i + offset for i in idx], heights, 0.27, label=label, color=color)
    ax.set_xticks(idx, [t.kind for t, _ in kept], rotation=15, fontsize=8)
    ax.set_xlabel("layer type")
    ax.set_ylabel("% of the network")
    ax.set_title(f"{result.network['name']}: share by layer type")
    _legend_outside(ax)
    alt = (
        f"Grouped bars for {result.network['name']}: each layer type's share of MACs, of "
        f"parameters and of the time measured on {device}."
    )
    return _save(fig, folder, stem), alt


def layer_chart(result: ProfileResult, device: str, folder: Path, stem: str) -> tuple[str, str]:
    """Per timed layer, in the order they ran: its share of the summed layer time (top) and of
    the MACs (bottom), each bar in its layer type's colour, so a layer whose time share towers
    over its MAC share stands out."""
    plt = _pyplot()
    layers = [r for r in result.layers if device in r.latency_ms]
    total_ms = sum(r.latency_ms[device].median for r in layers) or 1.0
    total_macs = sum(r.macs_analytic or 0 for r in layers) or 1
    width = min(14.0, max(6.4, 0.06 * len(layers) + 2))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(width, 4.6), sharex=True)
    idx = list(range(len(layers)))
    colors = [STAGE_COLORS.get(r.kind, "#7f7f7f") for r in layers]
    top.bar(idx, [100 * r.latency_ms[device].median / total_ms for r in layers], 0.8,
            color=colors)  # fmt: skip
    bottom.bar(idx, [100 * (r.macs_analytic or 0) / total_macs for r in layers], 0.8,
               color=colors)  # fmt: skip
    top.set_ylabel(f"% of layer time\n({device})")
    bottom.set_ylabel("% of MACs")
    bottom.set_xlabel("layer, in the order it ran")
    top.set_title(f"{result.network['name']}: each layer's share of time and of MACs")
    kinds = list(dict.fromkeys(r.kind for r in layers))
    handles = [plt.Rectangle((0, 0), 1, 1, color=STAGE_COLORS.get(k, "#7f7f7f")) for k in kinds]
    top.legend(handles, kinds, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    alt = (
        f"Two bar charts over the {len(layers)} timed layers of {result.network['name']} in "
        f"execution order: each layer's share of the summed layer time on {device} (top) and "
        "of the MACs (bottom), coloured by layer type."
    )
    return _save(fig, folder, stem), alt
