"""``sepprof report``: measure the worked example, a sweep, MobileNetV1 and any given configs on
this machine, check the well-known claims, and write markdown with charts into a folder.

The folder is written atomically: everything goes into a temporary sibling folder that replaces
the target only when complete, so an error or Ctrl-C leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sepprof.commands.backend_matrix import SETUPS, backend_matrix, kernels_claim
from sepprof.commands.compare import compare
from sepprof.commands.profile import profile
from sepprof.commands.sweep import Grid, sweep
from sepprof.errors import UserError
from sepprof.files import check_output_folder, read_input_text, umask
from sepprof.results import REPORT_SCHEMA
from sepprof.results.backends import BackendMatrix
from sepprof.results.claims import check_claims
from sepprof.results.report import Report
from sepprof.spec.layer import LayerSpec, load_layers, parse_variants
from sepprof.spec.network import is_network, load_network
from sepprof.timing.calibration import cache_dir
from sepprof.timing.options import Progress

MAIN_VARIANTS = "standard,separable,grouped:4,inverted:6"
FULL_GRID = Grid(k=(3, 5, 7), cout=(16, 32, 64, 128, 256), size=(28,))
QUICK_GRID = Grid(k=(3,), cout=(32, 128, 256), size=(28,))
REPO_NETWORKS = Path(__file__).resolve().parents[2] / "configs" / "networks"


def is_report_folder(folder: Path) -> bool:
    """True when ``folder`` holds a report sepprof wrote (its report.json says so)."""
    try:
        data = json.loads(read_input_text(folder / "report.json"))  # a FIFO must not hang us
    except (UserError, ValueError):
        return False
    return isinstance(data, dict) and data.get("schema") == REPORT_SCHEMA


def check_output(out: Path, force: bool) -> None:
    """Refuse, before measuring anything, an output that exists (without --force), is a file,
    or cannot be written."""
    check_output_folder(out, "--out")  # not a file, device, FIFO or socket (links resolved)
    if out.exists() and not force:
        raise UserError(f"--out {out}: already exists; pass --force to replace it")
    if out.exists() and any(out.iterdir()) and not is_report_folder(out):
        raise UserError(
            f"--out {out}: holds files that are not a sepprof report; refusing to "
            "replace it (choose a new or empty folder)"
        )
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryDirectory(dir=parent).cleanup()
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write there ({exc.strerror})") from None


def _calibrations(
    devices: tuple[str, ...], timing: Any, quick: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each device's stored calibration, else one measured for this report and never stored (a
    report may run on a busy machine); and a line per device saying which."""
    from sepprof.timing.calibration import roof_for

    found = {d: roof_for(d, timing.dtype, timing.thread_count(), quick) for d in devices}
    return {d: c for d, (c, _) in found.items()}, {d: why for d, (_, why) in found.items()}


def _backends(timing: Any, quick: bool, progress: Progress | None) -> BackendMatrix:
    """The worked example on every backend and mode (and, unless ``quick``, MobileNetV2 timed
    whole); ``quick`` leaves compilation out (it takes minutes on a small machine)."""
    net = None if quick else load_network(REPO_NETWORKS / "mobilenet_v2.yaml")
    setups = tuple(s for s in SETUPS if not (quick and s[0] == "compile"))
    return backend_matrix(timing, net, setups=setups, progress=progress)


def default_folder() -> Path:
    """``reports/cpu-amd-epyc``: this machine's report folder."""
    import re

    from sepprof.environment import cpu_model

    slug = re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-") or "unknown"
    return Path("reports") / f"cpu-{slug}"


def reproduce(out: Path, argv: list[str]) -> str:
    """The command that rewrites this report as it was asked for (``--force``: the folder will
    exist by then)."""
    import shlex

    args = argv[2:] if argv[1:2] == ["report"] else []
    if "--out" not in args:
        args = ["--out", str(out), *args]
    if "--force" not in args:
        args.append("--force")
    return shlex.join(["sepprof", "report", *args])


def _mobilenet() -> Path | None:
    path = REPO_NETWORKS / "mobilenet_v1.yaml"
    return path if path.is_file() else None


def build_report(
    configs: list[Path],
    *,
    timing: Any,
    quick: bool = False,
    command: str = "",
    progress: Progress | None = None,
    history: Any = None,
    models: tuple[tuple[str, list[str]], ...] = (),
) -> Report:
    """Measure and check everything the report shows (``history``: a ``HistoryResult`` read
    before measuring, shown as it is; ``models``: ``--model`` specs with their ``--input``
    shapes, profiled with per-layer times like the networks)."""
    from sepprof.timing.measure import resolve_devices

    timing = replace(timing, devices=resolve_devices(timing.devices))
    networks_paths = [p for p in configs if is_network(p)]
    layer_files = [p for p in configs if p not in networks_paths]
    layer_specs = [(p, load_layers(p)) for p in layer_files]
    networks_in = [load_network(p) for p in networks_paths]
    for network in networks_in:
        network.plan()  # shape errors in a --config surface now, before anything is measured
    mobilenet = _mobilenet()
    if mobilenet and all(n.path.resolve() != mobilenet for n in networks_in):
        networks_in.insert(0, load_network(mobilenet))
    calibrations, roof_source = _calibrations(timing.devices, timing, quick)
    layer = LayerSpec()
    main = compare(layer, parse_variants(MAIN_VARIANTS, layer), timing=timing, progress=progress)
    swept = sweep(QUICK_GRID if quick else FULL_GRID, timing=timing, progress=progress)
    layers = tuple(
        compare(
            spec,
            parse_variants(variants or "standard,separable", spec),
            timing=timing,
            progress=progress,
        )
        for _, (specs, variants) in layer_specs
        for spec in specs
    )
    networks = tuple(profile(n, timing=timing, progress=progress) for n in networks_in)
    networks += tuple(_model(spec, shapes, timing, progress) for spec, shapes in models)
    v1 = next((n for n in networks if n.network["name"] == "MobileNetV1"), None)
    backends = _backends(timing, quick, progress)
    claims = (*check_claims(main, list(swept.points), v1), kernels_claim(backends))
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    env = {**main.environment, "roofline_source": roof_source}
    parts = (main, layers, swept, calibrations, networks, claims, backends, history)
    return Report(env, command, created, *parts)


def write_report(report: Report, out: Path, force: bool) -> Path:
    """Write README.md, charts (PNG and SVG) and report.json into ``out``, atomically."""
    from sepprof.render.markdown import report_markdown

    check_output(out, force)
    out = out.resolve()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o777 & ~umask())
    try:
        images = draw_charts(report, tmp)
        (tmp / "README.md").write_text(report_markdown(report, images), encoding="utf-8")
        (tmp / "report.json").write_text(
            json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8"
        )
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / "README.md"


def _swap(new: Path, out: Path) -> None:
    """Put the finished folder in place; the old one is removed only after the rename."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        out.rename(old / out.name)
    new.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def keep_matplotlib_out_of_home() -> None:
    """matplotlib's config and font cache go to sepprof's cache folder (not ~/.config/matplotlib
    or ~/.cache/matplotlib) unless MPLCONFIGDIR is set."""
    os.environ.setdefault("MPLCONFIGDIR", str(cache_dir() / "matplotlib"))


def _model(spec: str, shapes: list[str], timing: Any, progress: Progress | None) -> Any:
    """A ``--model``'s profile with per-layer times (5 ms per layer per round at most: a zoo
    model has a hundred layers or more)."""
    from sepprof.commands.model_profile import profile_factory

    timing = replace(timing, min_time=min(timing.min_time, 0.005))
    run = {"trace": True, "timing": timing, "progress": progress}
    return profile_factory(spec, shapes, None, None, run)


def draw_charts(report: Report, folder: Path) -> dict[str, tuple[str, str]]:
    """Every chart of the report: key -> (PNG file name, alt text)."""
    keep_matplotlib_out_of_home()
    from sepprof.render import plots

    images: dict[str, tuple[str, str]] = {}
    for device, cal in report.calibrations.items():
        images[f"sweep-{device}"] = plots.sweep_chart(report.sweep, device, folder)
        images[f"shares-{device}"] = plots.share_chart(report.main, device, folder)
        if cal is not None:
            images[f"roofline-{device}"] = plots.roofline_chart(
                roofline_points(report), cal, device, folder
            )
        for i, net in enumerate(report.networks):
            images[f"types-{i}-{device}"] = plots.type_chart(
                net, device, folder, f"types-{i}-{device}"
            )
            if any(device in r.latency_ms for r in net.layers):
                stem = f"layers-{i}-{device}"
                images[stem] = plots.layer_chart(net, device, folder, stem)
    if report.history is not None:
        images["history"] = history_chart(report.history, folder)
    return images


def history_chart(history: Any, folder: Path) -> tuple[str, str]:
    """The report's history chart, PNG and SVG side by side; its file name and alt text."""
    from sepprof.render.history_chart import alt_text, history_png

    for fmt in ("png", "svg"):
        (folder / f"history.{fmt}").write_bytes(history_png(history, fmt))
    return "history.png", alt_text(history)


def roofline_points(report: Report) -> list[tuple[str, Any]]:
    """Rows to place on the roofline: the worked example's stages and every layer of the first
    network profiled (labelled only where they are few)."""
    points = [
        (f"{v.name}/{s.name}" if len(v.stages) > 1 else v.name, s)
        for v in report.main.variants
        for s in v.stages
        if s.macs_analytic
    ]
    if report.networks:
        points += [("", row) for row in report.networks[0].layers if row.macs_analytic]
    return points
