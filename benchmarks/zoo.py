"""Real model zoos counted through sepprof's CLI, beside fvcore and torch's FlopCounterMode.

Every model of ``torchvision.models.list_models()`` with weights (classification, detection,
segmentation, video, optical flow; the quantized copies are left out, see the report) and a list
of timm models are profiled by ``sepprof profile --model ... --no-time --json``, called
in-process through ``sepprof.cli.main`` (the console script's function, the same code path as
``python -m sepprof``; ``--subprocess`` runs a real ``python -m sepprof`` per model instead, about
4 s slower a model for the interpreter and imports). Counts are compared with the weights'
``meta["num_params"]`` and ``meta["_ops"]``; then, on one model instance in this process, the
time each counter takes: sepprof's ``profile_model`` (the CLI's entry function, without building
the model and printing), ``torch.utils.flop_counter.FlopCounterMode`` and fvcore's
``FlopCountAnalysis``, beside one plain forward pass, round-robin, median of the rounds.

Units: MACs (multiply-adds) everywhere. FlopCounterMode counts 2 FLOPs per MAC, so its total is
halved; fvcore's "flops" are MACs already (one per multiply-add); torchvision's ``_ops`` are
GMACs (its docs label them GFLOPS) at the weights' crop size.

Needs torch 2.14.1, torchvision 0.29.1, timm, fvcore and sepprof in one venv (DEVELOPERS.md);
not part of the tests or CI. The report goes to reports/zoo.md, written atomically (a temp file,
then a rename); ``--cache FILE`` keeps one JSON line per model so a rerun resumes.

    /tmp/venv214/bin/python benchmarks/zoo.py --wait-for /tmp/quiet.lock
    /tmp/venv214/bin/python benchmarks/zoo.py --only 'resnet50|swin_t' --out /tmp/zoo.md
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from sepprof.environment import cpu_model

ROOT = Path(__file__).resolve().parent.parent
SPEED_MODELS = ("resnet50", "mobilenet_v3_large", "efficientnet_b0", "densenet121")
TORCHVISION_KINDS = ("classification", "detection", "segmentation", "video", "optical_flow")
SEGMENTATION_SIZE = 520  # torchvision's segmentation weights: resize 520, no crop
DETECTION_IMAGE = "3,800,800"  # resized to 800 (320 for the *_320_ models) by the model itself
FLOW_SIZE = (520, 960)  # RAFT's Sintel/Kitti evaluation size; divisible by 8
VIDEO_FRAMES: dict[str, int] = {}  # every video model: 16 frames, the weights' clip
TIMM_MODELS = (
    # ViTs and DeiT
    "vit_tiny_patch16_224",
    "vit_small_patch16_224",
    "vit_base_patch16_224",
    "vit_base_patch16_384",
    "deit_small_patch16_224",
    "deit3_small_patch16_224",
    "swin_tiny_patch4_window7_224",
    "swinv2_tiny_window8_256",
    # EVA
    "eva02_tiny_patch14_224",
    "eva02_small_patch14_224",
    "eva02_base_patch14_224",
    # ConvNeXt
    "convnext_atto",
    "convnext_tiny",
    "convnextv2_nano",
    # MetaFormers
    "poolformer_s12",
    "poolformerv2_s12",
    "convformer_s18",
    "caformer_s18",
    # MobileViT
    "mobilevit_xxs",
    "mobilevit_s",
    "mobilevitv2_050",
    # LeViT
    "levit_128s",
    "levit_256",
    "levit_conv_128s",
    # EfficientNets
    "efficientnet_b0",
    "efficientnet_b3",
    "tf_efficientnet_b0",
    "efficientnetv2_rw_s",
    "tf_efficientnetv2_s",
    "mobilenetv3_large_100",
    # RegNets
    "regnetx_002",
    "regnety_016",
    "regnety_040",
    "regnetz_b16",
    # others
    "resnet50",
    "fastvit_t8",
)


# Detectors whose builder swaps every BatchNorm of the backbone for FrozenBatchNorm2d (buffers,
# not parameters) when weights are given: `num_params` counts that model.
FROZEN_BACKBONE = (
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "fcos_resnet50_fpn",
    "keypointrcnn_resnet50_fpn",
    "maskrcnn_resnet50_fpn",
    "retinanet_resnet50_fpn",
)


def published_kwargs(name: str, kind: str) -> dict[str, Any]:
    """What torchvision's DEFAULT weights set when they build NAME (its builders overwrite these
    from the weights), so a model built without weights has the published layout; and no
    backbone weights to download."""
    kwargs: dict[str, Any] = {}
    if kind in ("detection", "segmentation"):
        kwargs["weights_backbone"] = None
    if kind == "segmentation" and not name.startswith("lraspp"):
        kwargs["aux_loss"] = True  # the weights hold the auxiliary classifier
    if name == "googlenet":
        kwargs["aux_logits"] = False  # the weights drop the auxiliary classifiers
    if name == "vit_h_14":
        kwargs["image_size"] = 518  # DEFAULT = IMAGENET1K_SWAG_E2E_V1, at 518x518
    return kwargs


def frozen_detector(name: str, **kwargs: Any) -> torch.nn.Module:
    """torchvision's detector NAME as its weights build it, without downloading them: with
    weights its builder gives the backbone FrozenBatchNorm2d (statistics and affine as
    buffers) instead of BatchNorm2d; the same swap here (for ``--model
    benchmarks/zoo.py:frozen_detector``)."""
    import torchvision.models as tvm
    from torchvision.ops.misc import FrozenBatchNorm2d

    model = tvm.get_model(name, weights_backbone=None, **kwargs)
    body = model.backbone.body
    for path, module in list(body.named_modules()):
        if isinstance(module, torch.nn.BatchNorm2d):
            parent, _, attr = path.rpartition(".")
            frozen = FrozenBatchNorm2d(module.num_features, eps=module.eps)
            setattr(body.get_submodule(parent) if parent else body, attr, frozen)
    return model


@dataclass
class Entry:
    """One model to profile: how the CLI names it and its inputs, and the published figures."""

    name: str
    source: str  # torchvision or timm
    kind: str
    model_args: list[str]  # --model ... [--kwargs ...]
    input_args: list[str]  # --input ... or --inputs ...
    build: Callable[[], torch.nn.Module]
    inputs: Callable[[], tuple]
    ref_params: int | None = None
    ref_gmacs: float | None = None
    ref_note: str = ""


@dataclass
class Outcome:
    """What the CLI printed for one model and what each counter took on it in this process."""

    name: str
    source: str
    kind: str
    input: str
    ref_params: int | None
    ref_gmacs: float | None
    cli_s: float = 0.0
    cli_error: str = ""
    params: int | None = None
    macs: int | None = None
    elementwise: int | None = None
    complete: bool | None = None
    uncounted: dict[str, int] = field(default_factory=dict)
    na_rows: list[str] = field(default_factory=list)
    torch_params: int | None = None
    fcm_macs: int | None = None
    fvcore_macs: int | None = None
    fvcore_unsupported: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # median per counter
    rounds: int = 0
    errors: dict[str, str] = field(default_factory=dict)


# --- what to profile --------------------------------------------------------------------------


def _shape_arg(shape: tuple[int, ...]) -> str:
    return ",".join(map(str, shape))


def _torchvision_entry(name: str, kind: str) -> Entry:
    import torchvision.models as tvm

    weights = tvm.get_model_weights(name).DEFAULT
    meta = weights.meta
    crop = getattr(weights.transforms(), "crop_size", None)
    crop = crop[0] if isinstance(crop, list | tuple) else crop
    if kind == "classification":
        shapes = [(1, 3, crop, crop)]
    elif kind == "video":
        shapes = [(1, 3, VIDEO_FRAMES.get(name, 16), crop, crop)]
    elif kind == "segmentation":
        shapes = [(1, 3, SEGMENTATION_SIZE, SEGMENTATION_SIZE)]
    elif kind == "optical_flow":
        shapes = [(1, 3, *FLOW_SIZE)] * 2
    else:
        shapes = []
    if kind == "detection":
        input_args = ["--inputs", f"[{DETECTION_IMAGE}]"]
        image = tuple(int(d) for d in DETECTION_IMAGE.split(","))

        def inputs() -> tuple:
            return ([torch.randn(image)],)  # as the CLI makes it
    else:
        input_args = [a for s in shapes for a in ("--input", _shape_arg(s))]

        def inputs() -> tuple:
            return tuple(torch.randn(s) for s in shapes)

    kwargs = published_kwargs(name, kind)
    if name in FROZEN_BACKBONE:
        model_args = ["--model", f"{Path(__file__).resolve()}:frozen_detector"]
        model_args += ["--kwargs", json.dumps({"name": name})]

        def build() -> torch.nn.Module:
            return frozen_detector(name)
    else:
        where = "torchvision.models" + ("" if kind == "classification" else f".{kind}")
        model_args = ["--model", f"{where}:{name}"]
        model_args += ["--kwargs", json.dumps(kwargs)] if kwargs else []

        def build() -> torch.nn.Module:
            return tvm.get_model(name, **kwargs)

    return Entry(
        name,
        "torchvision",
        kind,
        model_args,
        input_args,
        build,
        inputs,
        meta.get("num_params"),
        meta.get("_ops"),
        f"{weights}",
    )


def torchvision_entries() -> list[Entry]:
    import torchvision.models as tvm

    entries = []
    for kind in TORCHVISION_KINDS:
        module = tvm if kind == "classification" else getattr(tvm, kind)
        for name in tvm.list_models(module=module):
            if tvm.get_model_weights(name) is not None and list(tvm.get_model_weights(name)):
                entries.append(_torchvision_entry(name, kind))
    return entries


def _timm_entry(name: str) -> Entry:
    import timm

    size = tuple(timm.models.get_pretrained_cfg(name).input_size)
    shape = (1, *size)
    kwargs = json.dumps({"model_name": name})
    return Entry(
        name,
        "timm",
        "classification",
        ["--model", "timm:create_model", "--kwargs", kwargs],
        ["--input", _shape_arg(shape)],
        lambda: timm.create_model(name),
        lambda: (torch.randn(shape),),
        None,
        None,
    )


def timm_entries() -> list[Entry]:
    return [_timm_entry(n) for n in TIMM_MODELS]


# --- the CLI ----------------------------------------------------------------------------------


def run_cli(argv: list[str], subprocess_run: bool) -> tuple[int, str, str, float]:
    """``sepprof ARGV``: in-process through ``sepprof.cli.main`` (default) or as a real
    ``python -m sepprof``; (exit code, stdout, stderr, seconds)."""
    start = time.perf_counter()
    if subprocess_run:
        done = subprocess.run(
            [sys.executable, "-m", "sepprof", *argv], capture_output=True, text=True, check=False
        )
        return done.returncode, done.stdout, done.stderr, time.perf_counter() - start
    from sepprof.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - start


def _na_rows(doc: dict[str, Any]) -> list[str]:
    return [r["name"] for r in doc["layers"] if r.get("macs") is None]


def profile_through_cli(entry: Entry, outcome: Outcome, subprocess_run: bool) -> None:
    argv = ["profile", *entry.model_args, *entry.input_args, "--no-time", "--json"]
    torch.manual_seed(0)  # the same weights and inputs as time_counters' (detectors' boxes vary)
    code, out, err, seconds = run_cli(argv, subprocess_run)
    outcome.cli_s = seconds
    if code != 0:
        outcome.cli_error = (err.strip().splitlines() or [f"exit {code}"])[-1][:300]
        return
    doc = json.loads(out)
    totals = doc["totals"]
    outcome.params = totals["params"] + totals["params_batchnorm"]
    outcome.macs = totals["macs"]
    outcome.elementwise = totals["elementwise_ops"]
    outcome.complete = totals["complete"]
    outcome.uncounted = totals.get("uncounted_ops") or {}
    outcome.na_rows = _na_rows(doc)


# --- the counters, timed on one model in this process -----------------------------------------


def _forward(model: torch.nn.Module, args: tuple) -> None:
    with torch.no_grad():
        model(*args)


def _sepprof(model: torch.nn.Module, args: tuple) -> int:
    from sepprof.commands.model_profile import profile_model
    from sepprof.models.model import ModelInputs

    return profile_model(model, ModelInputs.of(*args)).totals.macs_analytic


def _flop_counter(model: torch.nn.Module, args: tuple) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*args)
    return counter.get_total_flops() // 2  # FLOPs -> MACs


def _fvcore(model: torch.nn.Module, args: tuple) -> tuple[int, dict[str, int]]:
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(model, args)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    with torch.no_grad():
        return int(analysis.total()), dict(analysis.unsupported_ops())  # MACs already


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def time_counters(entry: Entry, outcome: Outcome, rounds: int, peers: bool) -> None:
    """Build the model once; a warm-up forward, then ``rounds`` rounds of: a plain forward,
    sepprof, FlopCounterMode, fvcore (each once per round); medians per counter."""
    torch.manual_seed(0)
    model = entry.build().eval()
    args = entry.inputs()
    outcome.torch_params = sum(p.numel() for p in model.parameters())
    if rounds > 1:
        _forward(model, args)  # warm-up (one round: the CLI just ran the same layers)
    counters: dict[str, Callable[[], Any]] = {
        "forward": lambda: _forward(model, args),
        "sepprof": lambda: _sepprof(model, args),
    }
    if peers:
        counters["flop_counter"] = lambda: _flop_counter(model, args)
        counters["fvcore"] = lambda: _fvcore(model, args)
    times: dict[str, list[float]] = {k: [] for k in counters}
    for _ in range(rounds):
        for key, fn in list(counters.items()):
            try:
                value, seconds = _timed(fn)
            except Exception as exc:  # a peer that cannot run this model: say why
                outcome.errors[key] = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
                counters.pop(key)
                continue
            times[key].append(seconds)
            if key == "flop_counter":
                outcome.fcm_macs = value
            elif key == "fvcore":
                outcome.fvcore_macs, outcome.fvcore_unsupported = value
    outcome.seconds = {k: statistics.median(v) for k, v in times.items() if v}
    outcome.rounds = rounds


# --- the run ----------------------------------------------------------------------------------


def wait_for(path: str | None) -> None:
    """Hold while ``path`` exists (someone else's quiet timing window)."""
    if not path:
        return
    announced = False
    while os.path.exists(path):
        if not announced:
            print(f"  waiting for {path} to go away", file=sys.stderr, flush=True)
            announced = True
        time.sleep(20)


def profile_entry(entry: Entry, opts: argparse.Namespace) -> Outcome:
    outcome = Outcome(
        entry.name,
        entry.source,
        entry.kind,
        " ".join(entry.input_args[1::2]),
        entry.ref_params,
        entry.ref_gmacs,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        profile_through_cli(entry, outcome, opts.subprocess)
        rounds = opts.speed_rounds if entry.name in SPEED_MODELS else opts.rounds
        peers = not opts.no_peers
        time_counters(entry, outcome, rounds, peers)
    return outcome


def load_cache(path: Path | None) -> dict[tuple[str, str], Outcome]:
    if path is None or not path.exists():
        return {}
    cached = {}
    for line in path.read_text().splitlines():
        if line.strip():
            outcome = Outcome(**json.loads(line))
            cached[outcome.source, outcome.name] = outcome
    return cached


def run(opts: argparse.Namespace) -> list[Outcome]:
    entries = [] if opts.no_torchvision else torchvision_entries()
    entries += [] if opts.no_timm else timm_entries()
    only = re.compile(opts.only) if opts.only else None
    entries = [e for e in entries if only is None or only.search(e.name)]
    cache = Path(opts.cache) if opts.cache else None
    cached = load_cache(cache)
    outcomes = []
    for i, entry in enumerate(entries, 1):
        key = (entry.source, entry.name)
        if key in cached:
            outcomes.append(cached[key])
            continue
        wait_for(opts.wait_for)
        print(f"[{i}/{len(entries)}] {entry.source} {entry.name}", file=sys.stderr, flush=True)
        outcome = profile_entry(entry, opts)
        print(f"    {_one_line(outcome)}", file=sys.stderr, flush=True)
        outcomes.append(outcome)
        if cache is not None:
            with cache.open("a") as f:
                f.write(json.dumps(asdict(outcome)) + "\n")
    return outcomes


def _one_line(o: Outcome) -> str:
    if o.cli_error:
        return f"CLI failed: {o.cli_error}"
    gmacs = f"{o.macs / 1e9:.3f}" if o.macs is not None else "n/a"
    times = " ".join(f"{k} {v:.2f}s" for k, v in o.seconds.items())
    return f"params {o.params} GMACs {gmacs} complete {o.complete} {o.uncounted or ''} | {times}"


# --- the report -------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    import fvcore
    import timm
    import torchvision

    import sepprof

    return {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "timm": timm.__version__,
        "fvcore": getattr(fvcore, "__version__", "?"),
        "sepprof": getattr(sepprof, "__version__", "?"),
        "python": platform.python_version(),
    }


def gmacs(macs: int | None) -> str:
    return "n/a" if macs is None else f"{macs / 1e9:.3f}"


def params_ok(o: Outcome) -> bool:
    ref = o.ref_params if o.ref_params is not None else o.torch_params
    return o.params is not None and o.params == ref


def macs_ok(o: Outcome) -> bool | None:
    """MACs equal ``_ops`` to its three decimals (None where there is no ``_ops``); only the
    classifiers' must (see NOT_COMPARED)."""
    if o.ref_gmacs is None or o.macs is None:
        return None
    return round(o.macs / 1e9, 3) == o.ref_gmacs


def _mark(ok: bool | None) -> str:
    return "" if ok is None else ("✓" if ok else "✗")


def _secs(o: Outcome, key: str) -> str:
    if key in o.errors:
        return "failed"
    return f"{o.seconds[key]:.2f}" if key in o.seconds else "–"


def _ops_text(ops: dict[str, int]) -> str:
    return ", ".join(f"{k.removeprefix('aten::')} ×{v}" for k, v in sorted(ops.items()))


def _notes(o: Outcome) -> str:
    notes = []
    if o.cli_error:
        notes.append(f"CLI: {o.cli_error}")
    if o.uncounted:
        notes.append(f"uncounted: {_ops_text(o.uncounted)}")
    if o.na_rows:
        notes.append(f"n/a rows: {', '.join(o.na_rows[:4])}")
    for key, why in o.errors.items():
        notes.append(f"{key} failed: {why.splitlines()[0][:90]}")
    if o.fvcore_unsupported:
        top = sorted(o.fvcore_unsupported.items(), key=lambda kv: -kv[1])[:3]
        notes.append("fvcore skipped " + ", ".join(k.removeprefix("aten::") for k, _ in top))
    return "; ".join(notes).replace("|", "/")


def table(outcomes: list[Outcome], reference: bool) -> list[str]:
    head = "| model | input | params | "
    head += "num_params | " if reference else ""
    head += "GMACs | "
    head += "_ops | " if reference else ""
    head += "FlopCounterMode GMACs | fvcore GMACs | forward s | sepprof s | FCM s | fvcore s | "
    head += "CLI s | notes |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for o in outcomes:
        cells = [f"`{o.name}`", o.input, f"{o.params:,}" if o.params is not None else "n/a"]
        if reference:
            cells.append(f"{o.ref_params:,} {_mark(params_ok(o))}" if o.ref_params else "–")
        else:
            cells[-1] += f" {_mark(params_ok(o))}"
        cells.append(gmacs(o.macs))
        if reference:
            ref = f"{o.ref_gmacs:.3f}" if o.ref_gmacs is not None else "–"
            cells.append(f"{ref} {_mark(macs_ok(o))}")
        cells += [gmacs(o.fcm_macs), gmacs(o.fvcore_macs)]
        cells += [_secs(o, k) for k in ("forward", "sepprof", "flop_counter", "fvcore")]
        cells += [f"{o.cli_s:.1f}", _notes(o)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def speed_table(outcomes: list[Outcome]) -> list[str]:
    lines = [
        "| model | rounds | forward ms | sepprof ms | FlopCounterMode ms | fvcore ms | "
        "sepprof / FCM | sepprof / fvcore |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        if o.name not in SPEED_MODELS or o.source != "torchvision":
            continue
        s = o.seconds
        fcm = s["sepprof"] / s["flop_counter"] if "flop_counter" in s else None
        fv = s["sepprof"] / s["fvcore"] if "fvcore" in s else None
        cells = [f"`{o.name}`", str(o.rounds)]
        keys = ("forward", "sepprof", "flop_counter", "fvcore")
        cells += [f"{s[k] * 1000:.1f}" if k in s else "–" for k in keys]
        cells += [f"{fcm:.2f}x" if fcm else "–", f"{fv:.2f}x" if fv else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def summary(outcomes: list[Outcome]) -> list[str]:
    tv = [o for o in outcomes if o.source == "torchvision"]
    cls = [o for o in tv if o.kind == "classification"]
    others = [o for o in tv if o.kind != "classification"]
    timm_rows = [o for o in outcomes if o.source == "timm"]
    unc = sum(1 for o in outcomes if o.uncounted)
    na = sum(1 for o in outcomes if o.na_rows)
    failed = [o.name for o in outcomes if o.cli_error]
    return [
        f"- torchvision classifiers: MACs equal `_ops` to its three decimals on "
        f"**{sum(bool(macs_ok(o)) for o in cls)} of {len(cls)}**; params equal `num_params` on "
        f"**{sum(params_ok(o) for o in cls)} of {len(cls)}**.",
        f"- torchvision detection, segmentation, video and optical flow: params equal "
        f"`num_params` on **{sum(params_ok(o) for o in others)} of {len(others)}**; MACs equal "
        f"`_ops` on {sum(bool(macs_ok(o)) for o in others)} of {len(others)} (not required: "
        "see below).",
        f"- timm: params equal the model's own parameter count on "
        f"**{sum(params_ok(o) for o in timm_rows)} of {len(timm_rows)}**.",
        f"- models with an op sepprof has no rule for: **{unc}**; models with an n/a row: "
        f"**{na}**; CLI failures: **{len(failed)}**{': ' + ', '.join(failed) if failed else ''}.",
    ]


def misses(outcomes: list[Outcome]) -> list[str]:
    lines = []
    for o in outcomes:
        reasons = []
        if o.cli_error:
            reasons.append(f"the CLI failed: {o.cli_error}")
        if o.params is not None and not params_ok(o):
            reasons.append(f"params {o.params:,} vs {o.ref_params or o.torch_params:,}")
        if macs_ok(o) is False:
            reasons.append(f"MACs {gmacs(o.macs)} G vs `_ops` {o.ref_gmacs:.3f} G")
            if o.kind != "classification" and len(reasons) == 1:
                reasons[-1] += " (not a miss: not compared)"
        if o.uncounted:
            reasons.append(f"uncounted ops {_ops_text(o.uncounted)}")
        if o.na_rows:
            reasons.append(f"n/a rows {', '.join(o.na_rows)}")
        if reasons:
            why = EXPLAINED.get(o.name, "not explained yet")
            said = any(why in line for line in lines)
            lines.append(
                f"- `{o.name}` ({o.source}): {'; '.join(reasons)}. "
                + ("The same reason as above." if said else why)
            )
    return lines or ["- none"]


# Why a row misses, where the numbers alone do not say (from the runs).
DATA_DEPENDENT = (
    "Data-dependent, not a counting miss: the box head runs once per region proposal that "
    "survives the RPN's NMS and the mask / keypoint head once per detection, and with random "
    "weights on a random image their number differs from the one torchvision measured with its "
    "weights (its image is not published). The backbone, FPN and RPN, which do not depend on "
    "the data, are the same; the single-stage detectors (FCOS, RetinaNet, SSD) and the v2 "
    "Faster R-CNN, whose heads see a fixed number of boxes, equal `_ops` exactly."
)
EXPLAINED: dict[str, str] = {
    "fasterrcnn_mobilenet_v3_large_320_fpn": DATA_DEPENDENT,
    "fasterrcnn_mobilenet_v3_large_fpn": DATA_DEPENDENT,
    "fasterrcnn_resnet50_fpn": DATA_DEPENDENT,
    "keypointrcnn_resnet50_fpn": DATA_DEPENDENT,
    "maskrcnn_resnet50_fpn": DATA_DEPENDENT,
    "raft_large": "Input-dependent: RAFT's all-pairs correlation grows with the square of the "
    "image's area and torchvision does not publish the size its `_ops` used; params are exact.",
    "raft_small": "As raft_large.",
}


def report(outcomes: list[Outcome], opts: argparse.Namespace, seconds: float) -> str:
    v = versions()
    by_kind: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_kind.setdefault(f"{o.source} {o.kind}", []).append(o)
    mode = (
        "a real `python -m sepprof` per model"
        if opts.subprocess
        else ("in-process through `sepprof.cli.main` (the console script's function)")
    )
    lines = [
        "# Real model zoos counted by sepprof, fvcore and FlopCounterMode",
        "",
        "Regenerated by `benchmarks/zoo.py` (see DEVELOPERS.md for its venv). "
        f"Machine: {cpu_model()}, {os.cpu_count()} cores (a 2-core AMD EPYC VM), "
        f"{torch.get_num_threads()} torch threads, {platform.system()}; "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + f". This run took {seconds / 60:.1f} min (models already in its --cache are read, not "
        "re-run; the whole zoo takes about 17 min here).",
        "",
        f"Each model is profiled through the CLI (`sepprof profile --model ... --no-time --json`, "
        f"{mode}); random weights (counts do not depend on them). Units: **MACs** "
        "(multiply-adds) everywhere: FlopCounterMode's FLOPs are halved (2 FLOPs per MAC), "
        "fvcore's \"flops\" are MACs already, torchvision's `_ops` are GMACs (labelled GFLOPS in "
        "its docs) at the weights' crop size. Elementwise ops (BatchNorm, activations, softmax, "
        "masks) are never in sepprof's MACs; it counts them in its own column.",
        "",
        "Times: one model instance in this process (a warm-up forward where there are several "
        "rounds), then rounds of a plain "
        "forward, sepprof's `profile_model` (the CLI's entry function, without building and "
        "printing), FlopCounterMode and fvcore's `FlopCountAnalysis`, median over the rounds "
        f"({opts.speed_rounds} rounds for the speed models, {opts.rounds} otherwise). "
        "CLI s is the whole command, building the model included.",
        "",
        "## Summary",
        "",
        *summary(outcomes),
        "",
        "## Speed of counting (same model, same process)",
        "",
        *speed_table(outcomes),
        "",
        "## Misses, explained",
        "",
        *misses(outcomes),
        "",
        NOT_COMPARED,
        "",
    ]
    for kind, rows in by_kind.items():
        reference = rows[0].source == "torchvision"
        lines += [f"## {kind}", "", *table(rows, reference), ""]
    return "\n".join(lines)


NOT_COMPARED = (
    "Only classifiers are compared with `_ops`: torchvision computed the others' `_ops` on "
    "inputs it does not publish (detectors resize every image inside the model, and the number "
    "of proposals and detections that reach the heads depends on the weights; random weights "
    "give other boxes), so their MACs are shown beside `_ops` for reference only. Their "
    "parameters do not depend on the input and are compared exactly. The quantized "
    "classifiers (`torchvision.models.quantization`, 12 models) are not profiled: they are "
    "int8 copies of classifiers above, and #24 lists the five float families only."
)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="profile the models whose name matches this regex")
    parser.add_argument("--out", default=str(ROOT / "reports" / "zoo.md"))
    parser.add_argument("--cache", help="JSON lines of finished models; a rerun resumes")
    parser.add_argument("--wait-for", help="hold while this file exists, between models")
    parser.add_argument("--subprocess", action="store_true", help="a real CLI process a model")
    parser.add_argument("--no-peers", action="store_true", help="no fvcore / FlopCounterMode")
    parser.add_argument("--no-timm", action="store_true")
    parser.add_argument("--no-torchvision", action="store_true")
    parser.add_argument("--rounds", type=int, default=1, help="timing rounds a model")
    parser.add_argument("--speed-rounds", type=int, default=11, help="rounds, speed models")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: on a shared 2-core VM, 2 threads stall behind any other process)",
    )
    opts = parser.parse_args(argv)
    torch.set_num_threads(opts.threads)
    start = time.perf_counter()
    outcomes = run(opts)
    write_atomically(Path(opts.out), report(outcomes, opts, time.perf_counter() - start))
    print(f"wrote {opts.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
