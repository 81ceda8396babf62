"""The ``sepprof`` command line: Typer wiring only. Each command turns its flags into the
library's validated types, calls the function of the same name in ``sepprof.commands``, picks a
renderer and sets the exit code (options shared by commands live in ``cli_options``).

Exit codes: 0 success, 1 a check or budget failed, 2 usage or spec error (one line, no
traceback), 3 internal error (a bug: rerun with --debug for the trace), 130 interrupted.
Tables go to stdout, progress and messages to stderr; ``--json`` prints only JSON on stdout.
torch and fvcore are imported only by commands that trace or time.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from sepprof import __version__, cli_history
from sepprof.cli_options import (
    ACT,
    ALL_DEVICES,
    CHECK_TIMING,
    DEPTH,
    EXITS,
    INPUT,
    INPUTS,
    KWARGS,
    LAYER_FLAGS,
    LAYERS,
    MODEL,
    MODEL_FLAGS,
    NETWORK_FLAGS,
    OUTPUT,
    PROCESSES3,
    REPORT_TIMING,
    TIMED,
    Flags,
    check_units,
    emit,
    epilog,
    fail,
    given,
    opt,
    progress_bar,
    shared,
    writable,
)
from sepprof.timing.options import ROUNDS

app = typer.Typer(
    help="What depthwise-separable, grouped and inverted-residual convolutions really save: "
    "MACs, params, bytes, arithmetic intensity and measured latency on CPU and CUDA.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    epilog=f"First try: sepprof compare --k 3 --cout 256\n\n{EXITS}",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from sepprof.environment import version

        print(f"sepprof {__version__} (torch {version('torch')}, fvcore {version('fvcore')})")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = opt(False, "--debug", "", "Show the full trace of internal errors."),
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print versions, exit."
    ),
) -> None:
    """sepprof: profile what separable convolutions save."""


@app.command(
    epilog=epilog(
        "sepprof compare --k 3 --cout 256",
        "sepprof compare --k 5 --cin 32 --cout 64 --size 28 --variants standard,grouped:4",
        "sepprof compare --config configs/layers/mobilenet_v1_layers.yaml --no-time --json",
        rule=True,
    )
)
@shared(*TIMED, *OUTPUT, processes=PROCESSES3)
def compare(
    ctx: typer.Context,
    k: int = opt(3, "--k", "K", "Kernel size."),
    cin: int | None = opt(None, "--cin", "C", "Input channels (default: --cout)."),
    cout: int = opt(256, "--cout", "C", "Output channels."),
    size: int = opt(56, "--size", "PX", "Input height and width."),
    batch: int = opt(1, "--batch", "N", "Batch size."),
    stride: int = opt(1, "--stride", "S", "Stride."),
    padding: int | None = opt(None, "--padding", "P", "Padding (default: dilation x (k//2))."),
    dilation: int = opt(1, "--dilation", "D", "Dilation."),
    bias: bool = opt(False, "--bias/--no-bias", "", "Conv bias."),
    bn: bool = opt(True, "--bn/--no-bn", "", "BatchNorm after each conv."),
    act: str = opt("relu", "--act", ACT, "relu, relu6, silu or none, after each BatchNorm."),
    variants: str | None = opt(
        None, "--variants", "V,V,...", "standard, separable, grouped:G, inverted:T."
    ),
    config: Path | None = opt(None, "--config", "LAYERS.yaml", "Every layer of a layers file."),
    strict: bool = opt(False, "--strict", "", "Exit 1 if a traced count differs from analytic."),
    flags: Flags = None,  # type: ignore[assignment]
) -> None:
    """Compare variants of one layer: params, MACs (analytic and traced), cost ratio vs theory
    1/Cout + 1/k², bytes, intensity and measured latency per device."""
    from sepprof.commands import compare as cmd
    from sepprof.render.console import compare_view

    check_units(flags.units)
    runs = flags.timings()  # one per --mode: inference,train are shown side by side
    if config is not None and (wrong := given(ctx, *LAYER_FLAGS)):
        fail(f"--config: {', '.join(wrong)} cannot be used with a layers file")
    if config is not None and len(runs) > 1:
        fail("--mode: several modes side by side apply to one layer, not to --config")
    with progress_bar(not flags.as_json) as progress:
        if config is not None:
            run = dict(trace=flags.traced, timing=runs[0], progress=progress, train=flags.train)
            result: Any = cmd.compare_file(config, variants, **run)
        else:
            layer = {name: ctx.params[name] for name in LAYER_FLAGS}
            chosen = cmd.DEFAULT_VARIANTS if variants is None else variants  # '' is ','
            result = cmd.compare_modes(layer, chosen, runs, flags.traced, progress, flags.train)
    emit(result, flags.as_json, lambda r: compare_view(r, flags.units, flags.wide))
    if not flags.as_json and len(runs) > 1:
        from sepprof.render.compare import modes_line
        from sepprof.render.console import console

        console().print(modes_line(result))
    if strict and cmd.mismatched(result):
        raise typer.Exit(1)


@app.command(
    epilog=epilog(
        "sepprof profile configs/networks/mobilenet_v2.yaml --no-time",
        "sepprof profile configs/networks/mobilenet_v1.yaml --as standard --width-mult 0.75",
        "sepprof profile --model torchvision.models:resnet50 --input 1,3,224,224 --no-time",
        rule=True,
    )
)
@shared(
    *TIMED,
    *OUTPUT,
    min_time=opt(0.005, "--min-time", "SECONDS", "Timed s/layer/round."),
    processes=PROCESSES3,
)
def profile(
    ctx: typer.Context,
    config: Path | None = typer.Argument(None, metavar="[NETWORK.yaml]", help="A network file."),
    model: str | None = MODEL,
    input_shapes: list[str] = INPUT,
    inputs: str | None = INPUTS,
    kwargs: str | None = KWARGS,
    layer_times: str = LAYERS,
    depth: int | None = DEPTH,
    width_mult: float = opt(1.0, "--width-mult", "A", "MobileNets width multiplier."),
    resolution: int | None = opt(None, "--resolution", "PX", "Input size (default: the file's)."),
    as_: str | None = opt(None, "--as", "KIND", "Rewrite every layer as standard or separable."),
    batch: int = opt(1, "--batch", "N", "Batch size."),
    flags: Flags = None,  # type: ignore[assignment]
) -> None:
    """Profile a network: per-layer rows, a by-type summary (share of MACs, params and time) and
    totals, analytic counts checked by tracing. With --model, any PyTorch model (this imports and
    runs that code)."""
    from sepprof.render.console import profile_view

    check_units(flags.units)
    if (config is None) == (model is None):
        both = ", not both" if model else ""
        fail(f"profile: give a network YAML file or --model package.module:factory{both}")
    if wrong := given(ctx, *(NETWORK_FLAGS if model else MODEL_FLAGS)):
        fail(f"{', '.join(wrong)}: only for {'a network file' if model else '--model'}")
    opts = flags.timing()
    with progress_bar(not flags.as_json) as progress:
        run = dict(trace=flags.traced, timing=opts, progress=progress, train=flags.train)
        if model is not None:
            from sepprof.commands.model_profile import profile_factory

            run |= {"layer_times": layer_times, "depth": depth}
            result = profile_factory(model, input_shapes, inputs, kwargs, run)
        else:
            from sepprof.commands.profile import profile as profile_network
            from sepprof.spec.network import Options, load_network

            options = Options(width_mult, resolution, as_)
            result = profile_network(load_network(config), options, batch=batch, **run)
    emit(result, flags.as_json, lambda r: profile_view(r, flags.units, flags.wide))


@app.command(
    epilog=epilog(
        "sepprof sepify --model examples/models.py:resnet_like --input 1,3,64,64 --no-time",
        "sepprof sepify --model mypkg.nets:build --exclude 'stem*' --save sep.pt",
        rule=True,
    )
)
@shared(*TIMED, *OUTPUT)
def sepify(
    model: str = opt(
        ..., "--model", "MODULE:FACTORY", "A model factory: pkg.module:fn or file.py:fn."
    ),
    input_shapes: list[str] = INPUT,
    inputs: str | None = INPUTS,
    kwargs: str | None = KWARGS,
    exclude: list[str] = opt(
        [], "--exclude", "GLOB", "Skip convs whose path matches (repeatable)."
    ),
    min_channels: int = opt(1, "--min-channels", "C", "Skip convs with fewer input channels."),
    bn: bool = opt(False, "--bn/--no-bn", "", "BatchNorm between depthwise and pointwise."),
    act: str = opt("none", "--act", ACT, "relu, relu6, silu or none, between dw and pw."),
    save: Path | None = opt(None, "--save", "FILE", "Write the converted state dict here."),
    force: bool = opt(False, "--force", "", "Replace an existing --save file."),
    flags: Flags = None,  # type: ignore[assignment]
) -> None:
    """Replace every standard k x k convolution of a model by depthwise + pointwise: before/after
    params, MACs and latency per layer and in total, and what was skipped and why."""
    from sepprof.commands.sepify import convert, save_converted
    from sepprof.files import check_output_file
    from sepprof.models.model import build_model, parse_inputs, parse_kwargs
    from sepprof.render.sepify import sepify_view

    check_units(flags.units)
    if save is not None:
        check_output_file(save, "--save", force)
    opts = flags.timing()
    built = build_model(model, parse_kwargs(kwargs))
    conversion = dict(exclude=exclude, min_channels=min_channels, bn=bn, act=act)
    with progress_bar(not flags.as_json) as progress:
        run = dict(trace=flags.traced, timing=opts, progress=progress, name=model)
        done = convert(built, parse_inputs(input_shapes, inputs), **conversion, **run)
    emit(done.report, flags.as_json, lambda r: sepify_view(r, flags.units, flags.wide))
    if save is not None and done.report.converted:
        print(f"saved to {save_converted(done.model, done.report, save)}", file=sys.stderr)


@app.command(
    epilog=epilog(
        "sepprof check configs/budgets/reference.yaml",
        "sepprof check budgets.yaml --junit budgets.xml --baseline baseline.json",
        "sepprof check budgets.yaml --baseline baseline.json --update-baseline",
    )
)
@shared(*CHECK_TIMING, "as_json", "wide", processes=PROCESSES3)
@cli_history.history_flags("history", "commit", "branch", "fail_on_change")
def check(
    budgets: Path = typer.Argument(..., metavar="BUDGETS.yaml", help="A budget file."),
    baseline: Path | None = opt(None, "--baseline", "FILE", "An earlier run's results (see help)."),
    update_baseline: bool = opt(False, "--update-baseline", "", "Write this run to --baseline."),
    junit: Path | None = opt(None, "--junit", "FILE", "Also write JUnit XML here."),
    strict_timing: bool = opt(False, "--strict-timing", "", "Exit 1 on inconclusive timing."),
    kept: cli_history.Kept = None,  # type: ignore[assignment]
    flags: Flags = None,  # type: ignore[assignment]
) -> None:
    """CI budget gate: exit 0 when every budget holds, 1 when one is exceeded, 2 for bad input.

    --baseline FILE compares with an earlier run's metrics (a missing file is a note unless a
    budget sets max_regression); --update-baseline writes this run's. Timed budgets measured on
    a busy or unstable machine are inconclusive: a warning, or exit 1 with --strict-timing.
    --history STORE keeps the run; --fail-on-change fails a metric that stepped the wrong way
    since the last run on this branch and machine (exact ones: any rise; timed ones: when the
    95% intervals separate). Appends a markdown table to $GITHUB_STEP_SUMMARY when it is set."""
    from sepprof.commands import check as cmd
    from sepprof.render.console import check_view

    if update_baseline and baseline is None:
        fail("--update-baseline: needs --baseline FILE to write to")
    writable(("--junit", junit), ("--baseline", baseline if update_baseline else None))
    store = kept.open()  # before measuring: a store that cannot be used stops the run here
    opts = flags.timing()
    with progress_bar(not flags.as_json) as progress:
        run = dict(baseline=baseline, updating=update_baseline, timing=opts, progress=progress)
        run.update(strict_timing=strict_timing)
        result = kept.record(cmd.check(budgets, **run), store)
    emit(result, flags.as_json, lambda r: check_view(r, flags.wide))
    for line in cmd.publish(result, junit=junit, baseline=baseline if update_baseline else None):
        print(line, file=sys.stderr)
    raise typer.Exit(cmd.exit_code(result))


cli_history.register(app)


@app.command(
    epilog=epilog("sepprof sweep --no-time", "sepprof sweep --k 3,5 --cout 32,64 --groups 4")
)
@shared(*TIMED, "as_json", "wide")
def sweep(
    k: str = opt("1,3,5,7", "--k", "K,K,...", "Kernel sizes."),
    cout: str = opt("32,64,128,256,512", "--cout", "C,C,...", "Output channels."),
    cin: str | None = opt(None, "--cin", "C,C,...", "Input channels (default: equal to Cout)."),
    size: str = opt("56", "--size", "PX,PX,...", "Input sizes."),
    groups: str | None = opt(None, "--groups", "G,G,...", "Also grouped:G where G divides."),
    stride: int = opt(1, "--stride", "S", "Stride."),
    batch: int = opt(1, "--batch", "N", "Batch size."),
    flags: Flags = None,  # type: ignore[assignment]
) -> None:
    """Sweep k, channels, size and groups: theory ratio 1/Cout + 1/k², traced MAC ratio,
    parameter ratio and (unless --no-time) measured speedup at every point."""
    from sepprof.commands.sweep import grid_from_flags
    from sepprof.commands.sweep import sweep as run_sweep
    from sepprof.render.console import sweep_view

    grid = grid_from_flags(k=k, cout=cout, cin=cin, size=size, groups=groups)
    grid.layers(stride, batch)  # every point is validated before anything is measured
    opts = flags.timing()
    with progress_bar(not flags.as_json) as progress:
        run = dict(trace=flags.traced, timing=opts, progress=progress)
        result = run_sweep(grid, stride=stride, batch=batch, **run)
    emit(result, flags.as_json, lambda r: sweep_view(r, flags.wide))


@app.command(epilog=epilog("sepprof report --quick", "sepprof report --out reports/me --force"))
@shared(*REPORT_TIMING, processes=PROCESSES3, device=ALL_DEVICES)
def report(
    out: Path | None = opt(
        None, "--out", "DIR", "Folder (default: reports/cpu-MODEL, MODEL = this CPU's)."
    ),
    config: list[Path] = opt(
        [], "--config", "FILE.yaml", "Networks or layers to add (repeatable)."
    ),
    quick: bool = opt(False, "--quick", "", "A smaller sweep and fewer, shorter rounds."),
    force: bool = opt(False, "--force", "", "Replace an existing report folder."),
    model: list[str] = opt([], "--model", "MODULE:FACTORY", "A model to add (repeatable)."),
    input_shapes: list[str] = INPUT,
    history: str | None = cli_history.REPORT_STORE,
    flags: Flags = None,  # type: ignore[assignment]
) -> None:
    """Write a markdown report with charts: the worked example, a sweep, a roofline, MobileNetV1
    by layer type, and the well-known claims checked on this machine."""
    from sepprof.commands import report as cmd

    out = out or cmd.default_folder()
    cmd.check_output(out, force)
    opts = flags.timing(min_time=0.01 if quick else 0.03, rounds=3 if quick else ROUNDS)
    command, kept = cmd.reproduce(out, sys.argv), cli_history.read(history)  # before measuring
    with progress_bar() as progress:
        built = cmd.build_report(
            config, timing=opts, quick=quick, command=command, progress=progress, history=kept,
            models=tuple((m, input_shapes) for m in model),
        )  # fmt: skip
        path = cmd.write_report(built, out, force)
    print(f"report written to {path}", file=sys.stderr)


@app.command(epilog=epilog("sepprof merge reports/a/report.json gpu.json --out merged.md"))
@shared("as_json", "wide")
def merge(
    files: list[Path] = typer.Argument(..., metavar="RESULTS.json...", help="Results files."),
    out: Path | None = opt(None, "--out", "FILE.md", "Also write a markdown page here."),
    force: bool = opt(False, "--force", "", "Replace an existing --out file."),
    flags: Flags = None,  # type: ignore[assignment]
) -> None:
    """Merge results (compare --json output or report.json) from several machines, CPU and GPU,
    into one comparison table."""
    from sepprof.commands import merge as cmd
    from sepprof.files import check_output_file
    from sepprof.render.console import merge_view

    if out is not None:
        check_output_file(out, "--out", force)
    result = cmd.merge(files)
    emit(result, flags.as_json, lambda r: merge_view(r, flags.wide))
    if out is not None:
        print(f"written to {cmd.write_markdown(result, out)}", file=sys.stderr)


@app.command(epilog=epilog("sepprof calibrate", "sepprof calibrate --device cuda --dtype fp16"))
@shared("device", "dtype", "threads", "as_json", "wide")
def calibrate(
    force: bool = opt(False, "--force", "", "Store it even if measured under load or >20% lower."),
    flags: Flags = None,  # type: ignore[assignment]
) -> None:
    """Measure this machine's peak FLOP/s (best of several matmuls and a 3x3 conv) and memory
    bandwidth (DRAM and cache), and store them for the roofline."""
    from sepprof.commands.calibrate import calibrate as run_calibrate
    from sepprof.render.console import calibration_view
    from sepprof.results.calibration import CalibrationSet

    opts = flags.timing(min_time=0.1, rounds=3)
    with progress_bar(not flags.as_json) as progress:
        done = run_calibrate(opts, progress, force=force)
    cals = [d.calibration for d in done]
    result = cals[0] if len(cals) == 1 else CalibrationSet(tuple(cals))
    emit(result, flags.as_json, lambda r: calibration_view(r, flags.wide))
    for d in done:
        print(d.message, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point (the console script): run the app, turn every outcome into an exit code."""
    from sepprof.exits import main as run_main

    return run_main(app, argv)
