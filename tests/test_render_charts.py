"""Report charts: axis labels on every chart, legends that cover no data, the roof drawn by the
product's roofline function, and matplotlib kept out of the user's home folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sepprof.render import plots
from sepprof.results import CompareResult, ProfileResult, SweepResult
from sepprof.results.calibration import Calibration

DATA = Path(__file__).parent / "data" / "render"


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def draw_all(folder: Path) -> dict[str, object]:
    """Draw every chart from recorded results, keeping each figure before it is closed."""
    figures: dict[str, object] = {}
    save = plots._save

    def keep(fig, where, stem):
        figures[stem] = fig
        return save(fig, where, stem)

    main = CompareResult.from_dict(load("compare_timed"))
    net = ProfileResult.from_dict(load("profile_tiny_as_timed"))
    cal = Calibration.from_dict(load("calibration"))
    points = [(f"{v.name}/{s.name}", s) for v in main.variants for s in v.stages]
    points += [("", row) for row in net.layers]
    plots._save = keep
    try:
        plots.sweep_chart(SweepResult.from_dict(load("sweep_timed")), "cpu", folder)
        plots.share_chart(main, "cpu", folder)
        plots.roofline_chart(points, cal, "cpu", folder)
        plots.type_chart(net, "cpu", folder, "types-0-cpu")
    finally:
        plots._save = save
    return figures


@pytest.fixture(scope="module")
def figures(tmp_path_factory) -> dict[str, object]:
    return draw_all(tmp_path_factory.mktemp("charts"))


def test_every_chart_has_axis_labels(figures):
    assert set(figures) == {"sweep-cpu", "shares-cpu", "roofline-cpu", "types-0-cpu"}
    for stem, fig in figures.items():
        axes = fig.axes
        assert axes[0].get_ylabel(), stem
        assert all(ax.get_xlabel() for ax in axes), stem


def test_legends_cover_no_data(figures):
    for stem, fig in figures.items():
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        renderer = FigureCanvasAgg(fig).get_renderer()
        legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()]
        assert legends, stem
        for legend in legends:
            box = legend.get_window_extent(renderer)
            for ax in fig.axes:
                assert not box.overlaps(ax.get_window_extent(renderer)), stem


def test_roofline_draws_the_roof_of_the_roofline_function(figures):
    """The solid roof is min(peak, intensity x DRAM bandwidth), by hand, at every point drawn."""
    cal = Calibration.from_dict(load("calibration"))
    roof = figures["roofline-cpu"].axes[0].get_lines()[0]
    for x, y in zip(roof.get_xdata(), roof.get_ydata(), strict=True):
        assert y == pytest.approx(min(cal.peak_flops, x * cal.dram_bandwidth) / 1e9)
    cache = figures["roofline-cpu"].axes[0].get_lines()[1]
    assert cache.get_zorder() > roof.get_zorder() and cache.get_linestyle() != "-"


def test_network_layers_legend_shows_the_type_colours(figures):
    legend = figures["roofline-cpu"].axes[0].get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert "network layers (small, colour = type)" in labels
    assert "depthwise" in labels and "pointwise" in labels


def test_charts_write_nothing_in_home(tmp_path):
    """matplotlib's config and font cache go to sepprof's cache folder, not ~/.config or
    ~/.cache (a fresh process, as the CLI runs it)."""
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "MPL"))}
    env |= {"HOME": str(home), "SEPPROF_CACHE_DIR": str(cache)}
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from pathlib import Path; from tests.test_render_charts import draw_all;"
        "from sepprof.commands.report import keep_matplotlib_out_of_home;"
        f"keep_matplotlib_out_of_home(); draw_all(Path({str(tmp_path)!r}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert list(home.rglob("*")) == []
    assert (cache / "matplotlib").is_dir()
    assert (tmp_path / "roofline-cpu.png").is_file()
