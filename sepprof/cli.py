"""The ``sepprof`` command line: parse flags, call the library, pick a renderer, set the exit code.

Exit codes: 0 success, 1 a check or budget failed, 2 usage or spec error (one line, no
traceback), 3 internal error (a bug: rerun with --debug for the trace), 130 interrupted.
Tables go to stdout, progress and messages to stderr; ``--json`` prints only JSON on stdout.
torch and fvcore are imported only by commands that trace or time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from sepprof.errors import UserError

app = typer.Typer(
    help="What depthwise-separable, grouped and inverted-residual convolutions really save: "
    "MACs, params, bytes, arithmetic intensity and measured latency on CPU and CUDA.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    epilog="Exit codes: 0 ok, 1 a check or budget failed, 2 bad input, 3 internal error (rerun "
    "with --debug), 130 interrupted. First try: sepprof compare --k 3 --cout 256",
    context_settings={"help_option_names": ["-h", "--help"]},
)

RULE_HELP = (
    "Counting rule: MACs are conv/linear multiply-adds (1 MAC = 2 FLOPs); BatchNorm (2/element), "
    "bias (1), activations (ReLU 1, ReLU6 2, sigmoid 3, SiLU 4, hardswish 5), residual adds (1) "
    "and pools are elementwise ops, counted apart and never mixed into MACs."
)


def fail(message: str) -> None:
    raise UserError(message)


def choice(flag: str, value: str, valid: tuple[str, ...]) -> str:
    """Check a string flag against its valid values, with a one-line error."""
    if value not in valid:
        fail(f"{flag}: {value!r} is not one of {', '.join(valid)}")
    return value


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Callable[[str, int], Callable[[], None]] | None]:
    """A rich progress bar on stderr (drawn only on a terminal); yields ``start(label, total)``."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from sepprof.render.console import console

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    ) as bar:

        def start(label: str, total: int) -> Callable[[], None]:
            task = bar.add_task(label, total=total)
            return lambda: bar.advance(task)

        yield start


def emit(result: Any, as_json: bool, view: Callable[[Any], Any]) -> None:
    """Print a result as JSON or as tables."""
    if as_json:
        from sepprof.render.json import render_json

        sys.stdout.write(render_json(result) + "\n")
        return
    from sepprof.render.console import console

    out = console()
    for item in result if isinstance(result, list) else [result]:
        out.print(view(item))


def timing_options(
    no_time: bool,
    device: str,
    dtype: str,
    threads: int | None,
    memory_format: str,
    min_time: float,
    rounds: int,
    allocator: str,
) -> Any:
    """Validated timing flags, or None for ``--no-time`` (no torch import)."""
    choice("--dtype", dtype, ("fp32", "fp16", "bf16"))
    choice("--memory-format", memory_format, ("contiguous", "channels_last"))
    choice("--allocator", allocator, ("tuned", "system"))
    devices = tuple(d.strip() for d in device.split(","))
    for d in devices:
        choice("--device", d, ("cpu", "cuda", "all"))
    if threads is not None and threads < 1:
        fail(f"--threads: must be >= 1 (got {threads})")
    if rounds < 1:
        fail(f"--rounds: must be >= 1 (got {rounds})")
    if min_time <= 0:
        fail(f"--min-time: must be > 0 seconds (got {min_time})")
    if no_time:
        if "cuda" in devices:
            from sepprof.timing import check_device

            check_device("cuda", dtype)
        return None
    from sepprof.options import TimingOptions

    return TimingOptions(devices, threads, dtype, memory_format, min_time, rounds, allocator)


DEVICE = typer.Option("cpu", "--device", help="cpu, cuda, or all (every device present).")
DTYPE = typer.Option("fp32", "--dtype", help="fp32, fp16 or bf16.")
THREADS = typer.Option(None, "--threads", help="CPU threads for timing (default: every core).")
MEMFMT = typer.Option("contiguous", "--memory-format", help="contiguous or channels_last.")
MIN_TIME = typer.Option(0.03, "--min-time", help="Seconds of timed calls per item per round.")
ROUNDS = typer.Option(5, "--rounds", help="Rounds; the latency is the median of round medians.")
ALLOCATOR = typer.Option(
    "tuned",
    "--allocator",
    help="tuned: raise glibc's mmap/trim thresholds before timing (steady state); "
    "system: measure the allocator untouched.",
)
MODEL = typer.Option(
    None,
    "--model",
    help="Profile a PyTorch model instead: "
    "package.module:factory or path/to/file.py:factory (runs that code).",
)
INPUT = typer.Option("1,3,224,224", "--input", help="The model's input shape N,C,H,W.")
KWARGS = typer.Option(None, "--kwargs", help="Keyword arguments for the factory, as JSON.")
NO_TIME = typer.Option(False, "--no-time", help="Skip timing (counts and tracing only).")
ANALYTIC = typer.Option(
    False,
    "--analytic",
    help="Analytic counts only: no tracing, no timing (and, without --model, no torch import).",
)
JSON = typer.Option(False, "--json", help="Print only JSON (the versioned contract) on stdout.")
UNITS = typer.Option("macs", "--units", help="Show counts as macs or flops (= 2 x MACs).")


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show the full trace of internal errors."),
) -> None:
    """sepprof: profile what separable convolutions save.

    Exit codes: 0 ok, 1 a check/budget failed, 2 bad input, 3 internal error, 130 interrupted.
    """


@app.command(epilog=RULE_HELP)
def compare(
    k: int = typer.Option(3, "--k", help="Kernel size."),
    cin: int | None = typer.Option(None, "--cin", help="Input channels (default: same as --cout)."),
    cout: int = typer.Option(256, "--cout", help="Output channels."),
    size: int = typer.Option(56, "--size", help="Input height and width."),
    batch: int = typer.Option(1, "--batch", help="Batch size."),
    stride: int = typer.Option(1, "--stride", help="Stride."),
    padding: int | None = typer.Option(
        None, "--padding", help="Padding (default: dilation x (k//2), 'same' for odd k)."
    ),
    dilation: int = typer.Option(1, "--dilation", help="Dilation."),
    bias: bool = typer.Option(False, "--bias/--no-bias", help="Conv bias."),
    bn: bool = typer.Option(True, "--bn/--no-bn", help="BatchNorm after each conv."),
    act: str = typer.Option("relu", "--act", help="relu, relu6, silu or none."),
    variants: str | None = typer.Option(
        None,
        "--variants",
        help="Comma-separated: standard, separable, grouped:G, inverted:T "
        "(default: standard,separable).",
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="A layers YAML file: compare each layer it lists (the layer flags above are not "
        "used; --variants, timing and output flags are).",
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Exit 1 if a traced count differs from the analytic one."
    ),
    no_time: bool = NO_TIME,
    analytic: bool = ANALYTIC,
    device: str = DEVICE,
    dtype: str = DTYPE,
    threads: int | None = THREADS,
    memory_format: str = MEMFMT,
    min_time: float = MIN_TIME,
    rounds: int = ROUNDS,
    allocator: str = ALLOCATOR,
    as_json: bool = JSON,
    units: str = UNITS,
) -> None:
    """Compare variants of one layer: params, MACs (analytic and traced), cost ratio vs theory
    1/Cout + 1/k², bytes, intensity and measured latency per device."""
    from sepprof.commands.compare import compare as run_compare
    from sepprof.spec import LayerSpec, load_layers, parse_variants, validate_flags

    choice("--units", units, ("macs", "flops"))
    opts = timing_options(
        no_time or analytic, device, dtype, threads, memory_format, min_time, rounds, allocator
    )
    flags = dict(
        k=k,
        cin=cin,
        cout=cout,
        size=size,
        batch=batch,
        stride=stride,
        padding=padding,
        dilation=dilation,
        bias=bias,
        bn=bn,
        act=act,
    )
    if config is not None:
        layers, file_variants = load_layers(config)
        variants = variants or ",".join(file_variants or [])
    else:
        layers = [validate_flags(LayerSpec, flags)]
    try:  # every layer's variants are checked before anything is measured
        chosen = [parse_variants(variants or "standard,separable", layer) for layer in layers]
    except ValueError as exc:
        fail(f"--variants: {exc}")
    with progress_bar(not as_json) as progress:
        results = [
            run_compare(layer, picked, trace=not analytic, timing=opts, progress=progress)
            for layer, picked in zip(layers, chosen, strict=True)
        ]
    from sepprof.render.console import compare_view

    emit(results if config is not None else results[0], as_json, lambda r: compare_view(r, units))
    mismatch = any(
        row.traced_ok is False for r in results for v in r.variants for row in (v, *v.stages)
    )
    if strict and mismatch:
        raise typer.Exit(1)


@app.command(epilog=RULE_HELP)
def profile(
    config: Path | None = typer.Argument(
        None, help="A network YAML file (see configs/networks/); or use --model."
    ),
    model: str | None = MODEL,
    input_shape: str = INPUT,
    kwargs: str | None = KWARGS,
    width_mult: float = typer.Option(1.0, "--width-mult", help="MobileNets width multiplier."),
    resolution: int | None = typer.Option(
        None,
        "--resolution",
        help="Input size (MobileNets resolution multiplier) (default: the file's).",
    ),
    as_: str | None = typer.Option(
        None,
        "--as",
        help="Rewrite every layer as standard "
        "(separable -> k x k conv) or separable (k x k conv -> dw+pw) "
        "and show before/after totals.",
    ),
    batch: int = typer.Option(1, "--batch", help="Batch size."),
    no_time: bool = NO_TIME,
    analytic: bool = ANALYTIC,
    device: str = DEVICE,
    dtype: str = DTYPE,
    threads: int | None = THREADS,
    memory_format: str = MEMFMT,
    min_time: float = typer.Option(
        0.01, "--min-time", help="Seconds of timed calls per layer per round."
    ),
    rounds: int = ROUNDS,
    allocator: str = ALLOCATOR,
    as_json: bool = JSON,
    units: str = UNITS,
) -> None:
    """Profile a network: per-layer rows, a by-type summary (share of MACs, params and time) and
    totals, with analytic counts checked by tracing. With --model, any PyTorch model (this
    imports and runs that code)."""
    from sepprof.render.console import profile_view

    choice("--units", units, ("macs", "flops"))
    if config is None and model is None:
        fail("profile: give a network YAML file or --model package.module:factory")
    if config is not None and model is not None:
        fail("profile: give a network YAML file or --model package.module:factory, not both")
    if config is not None and (kwargs is not None or input_shape != INPUT.default):
        fail("--input and --kwargs apply to --model only (a network file gives its own input)")
    if model is not None:
        opts = timing_options(
            no_time or analytic, device, dtype, threads, memory_format, min_time, rounds, allocator
        )
        from sepprof.model import build_model, parse_input, parse_kwargs
        from sepprof.model_profile import profile_model

        shape = parse_input(input_shape)
        built = build_model(model, parse_kwargs(kwargs))
        with progress_bar(not as_json) as progress:
            result = profile_model(
                built, shape, trace=not analytic, timing=opts, progress=progress, name=model
            )
        emit(result, as_json, lambda r: profile_view(r, units))
        return
    from sepprof.commands.profile import profile as run_profile
    from sepprof.network import Options, load_network

    if as_ is not None:
        choice("--as", as_, ("standard", "separable"))
    if not 0 < width_mult <= 4:
        fail(f"--width-mult: must be > 0 and <= 4 (got {width_mult})")
    if resolution is not None and not 1 <= resolution <= 8192:
        fail(f"--resolution: must be between 1 and 8192 (got {resolution})")
    if not 1 <= batch <= 65536:
        fail(f"--batch: must be between 1 and 65536 (got {batch})")
    opts = timing_options(
        no_time or analytic, device, dtype, threads, memory_format, min_time, rounds, allocator
    )
    network = load_network(config)
    options = Options(width_mult, resolution, as_)
    with progress_bar(not as_json) as progress:
        result = run_profile(
            network, options, batch=batch, trace=not analytic, timing=opts, progress=progress
        )
    emit(result, as_json, lambda r: profile_view(r, units))


@app.command(epilog=RULE_HELP)
def sepify(
    model: str = typer.Option(
        ...,
        "--model",
        help="package.module:factory or path/to/file.py:factory (this imports and runs that code).",
    ),
    input_shape: str = INPUT,
    kwargs: str | None = KWARGS,
    exclude: list[str] = typer.Option(
        [],
        "--exclude",
        help="Skip convs whose module path matches this glob (repeatable), e.g. 'stem*'.",
    ),
    min_channels: int = typer.Option(
        1, "--min-channels", help="Skip convs with fewer input channels."
    ),
    bn: bool = typer.Option(
        False, "--bn/--no-bn", help="BatchNorm between depthwise and pointwise."
    ),
    act: str = typer.Option(
        "none", "--act", help="Activation between them: relu, relu6, silu or none."
    ),
    save: Path | None = typer.Option(
        None,
        "--save",
        help="Write the converted model's state "
        "dict and a note of the conversion here (torch.save).",
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing --save file."),
    no_time: bool = NO_TIME,
    analytic: bool = ANALYTIC,
    device: str = DEVICE,
    dtype: str = DTYPE,
    threads: int | None = THREADS,
    memory_format: str = MEMFMT,
    min_time: float = MIN_TIME,
    rounds: int = ROUNDS,
    allocator: str = ALLOCATOR,
    as_json: bool = JSON,
    units: str = UNITS,
) -> None:
    """Replace every standard k x k Conv2d (k > 1, groups 1) of a model by depthwise + pointwise:
    before/after params, MACs and latency per layer and in total, and what was skipped and why."""
    choice("--units", units, ("macs", "flops"))
    choice("--act", act, ("relu", "relu6", "silu", "none"))
    if min_channels < 1:
        fail(f"--min-channels: must be >= 1 (got {min_channels})")
    if save is not None and save.is_dir():
        fail(f"--save {save}: is a folder, not a file")
    if save is not None and save.exists() and not force:
        fail(f"--save {save}: already exists; pass --force to replace it")
    opts = timing_options(
        no_time or analytic, device, dtype, threads, memory_format, min_time, rounds, allocator
    )
    from sepprof.commands.sepify import convert, save_converted
    from sepprof.model import build_model, parse_input, parse_kwargs
    from sepprof.render.sepify import sepify_view

    shape = parse_input(input_shape)
    built = build_model(model, parse_kwargs(kwargs))
    with progress_bar(not as_json) as progress:
        converted = convert(
            built,
            shape,
            exclude=exclude,
            min_channels=min_channels,
            bn=bn,
            act=None if act == "none" else act,
            trace=not analytic,
            timing=opts,
            progress=progress,
            name=model,
        )
    emit(converted.report, as_json, lambda r: sepify_view(r, units))
    if save is not None and converted.report.converted:
        print(
            f"saved to {save_converted(converted.model, converted.report, save)}", file=sys.stderr
        )


@app.command()
def check(
    budgets: Path = typer.Argument(..., help="A budget YAML file (see configs/budgets/)."),
    baseline: Path | None = typer.Option(
        None,
        "--baseline",
        help="A results file from --update-baseline: report (and limit) regressions.",
    ),
    update_baseline: bool = typer.Option(
        False, "--update-baseline", help="Write this run's metrics to --baseline (atomically)."
    ),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML here."),
    threads: int | None = THREADS,
    min_time: float = MIN_TIME,
    rounds: int = ROUNDS,
    allocator: str = ALLOCATOR,
    as_json: bool = JSON,
) -> None:
    """CI budget gate: exit 0 when every budget holds, 1 when any is exceeded, 2 for bad input.
    Appends a markdown table to $GITHUB_STEP_SUMMARY when it is set."""
    import os

    from sepprof.commands.check import check as run_check
    from sepprof.commands.check import write_baseline
    from sepprof.files import write_atomic
    from sepprof.render.console import check_view

    if update_baseline and baseline is None:
        fail("--update-baseline: needs --baseline FILE to write to")
    opts = timing_options(False, "cpu", "fp32", threads, "contiguous", min_time, rounds, allocator)
    with progress_bar(not as_json) as progress:
        result = run_check(
            budgets, baseline=baseline, updating=update_baseline, timing=opts, progress=progress
        )
    emit(result, as_json, check_view)
    if junit is not None:
        from sepprof.render.junit import junit_xml

        write_atomic(junit, junit_xml(result))
    if update_baseline:
        path = write_baseline(result, baseline)
        print(f"baseline written to {path}", file=sys.stderr)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        from sepprof.render.markdown import check_markdown

        try:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(check_markdown(result) + "\n")
        except OSError as exc:
            print(
                f"warning: GITHUB_STEP_SUMMARY {summary}: cannot append ({exc.strerror})",
                file=sys.stderr,
            )
    if not result.passed:
        raise typer.Exit(1)


def int_list(flag: str, text: str | None) -> tuple[int, ...]:
    """Parse ``1,3,5`` for a sweep flag; every item a positive integer, the list not empty."""
    if text is None:
        return ()
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        fail(f"{flag}: empty list (give values such as 1,3,5)")
    for item in items:
        if not item.isdigit() or int(item) < 1:
            fail(f"{flag}: {item!r} is not a positive integer")
    return tuple(int(item) for item in items)


@app.command()
def sweep(
    k: str = typer.Option("1,3,5,7", "--k", help="Kernel sizes."),
    cout: str = typer.Option("32,64,128,256,512", "--cout", help="Output channels."),
    cin: str | None = typer.Option(None, "--cin", help="Input channels (default: equal to Cout)."),
    size: str = typer.Option("56", "--size", help="Input sizes."),
    groups: str | None = typer.Option(
        None, "--groups", help="Also compare grouped:G for these G (where G divides the channels)."
    ),
    stride: int = typer.Option(1, "--stride", help="Stride."),
    batch: int = typer.Option(1, "--batch", help="Batch size."),
    no_time: bool = NO_TIME,
    analytic: bool = ANALYTIC,
    device: str = DEVICE,
    dtype: str = DTYPE,
    threads: int | None = THREADS,
    memory_format: str = MEMFMT,
    min_time: float = MIN_TIME,
    rounds: int = ROUNDS,
    allocator: str = ALLOCATOR,
    as_json: bool = JSON,
) -> None:
    """Sweep k, channels, size and groups: theory ratio 1/Cout + 1/k², traced MAC ratio,
    parameter ratio and (unless --no-time) measured speedup at every point."""
    from sepprof.commands.sweep import Grid
    from sepprof.commands.sweep import sweep as run_sweep
    from sepprof.render.console import sweep_view

    grid = Grid(
        int_list("--k", k),
        int_list("--cout", cout),
        int_list("--cin", cin),
        int_list("--size", size),
        int_list("--groups", groups),
    )
    grid.layers(stride, batch)  # every point is validated before anything is measured
    opts = timing_options(
        no_time or analytic, device, dtype, threads, memory_format, min_time, rounds, allocator
    )
    with progress_bar(not as_json) as progress:
        result = run_sweep(
            grid, stride=stride, batch=batch, trace=not analytic, timing=opts, progress=progress
        )
    emit(result, as_json, sweep_view)


@app.command()
def report(
    out: Path | None = typer.Option(
        None, "--out", help="Folder to write (default: reports/cpu-<this machine>)."
    ),
    config: list[Path] = typer.Option(
        [], "--config", help="Network or layers YAML files to include (repeatable)."
    ),
    quick: bool = typer.Option(False, "--quick", help="A smaller sweep and fewer rounds."),
    force: bool = typer.Option(False, "--force", help="Replace an existing report folder."),
    device: str = typer.Option("all", "--device", help="cpu, cuda, or all (every device present)."),
    dtype: str = DTYPE,
    threads: int | None = THREADS,
    memory_format: str = MEMFMT,
    allocator: str = ALLOCATOR,
) -> None:
    """Write a markdown report with charts: the worked example, a sweep, a roofline, MobileNetV1
    by layer type, and the well-known claims checked on this machine."""
    import shlex

    from sepprof.commands.report import build_report, check_output, write_report

    out = out or Path("reports") / _machine_slug()
    check_output(out, force)
    for path in config:
        if not path.is_file():
            fail(f"--config {path}: file not found")
    opts = timing_options(
        False,
        device,
        dtype,
        threads,
        memory_format,
        0.01 if quick else 0.03,
        3 if quick else 5,
        allocator,
    )
    command = (
        shlex.join(["sepprof", "report", *sys.argv[2:]])
        if sys.argv[1:2] == ["report"]
        else "sepprof report"
    )
    with progress_bar() as progress:
        built = build_report(config, timing=opts, quick=quick, command=command, progress=progress)
        path = write_report(built, out, force)
    print(f"report written to {path}", file=sys.stderr)


def _machine_slug() -> str:
    """``cpu-amd-epyc``: a folder name for this machine's report."""
    import re

    from sepprof.environment import cpu_model

    return "cpu-" + (re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-") or "unknown")


@app.command()
def merge(
    files: list[Path] = typer.Argument(
        ..., help="Results files: compare --json output or report.json, from any machines."
    ),
    out: Path | None = typer.Option(None, "--out", help="Also write a markdown page here."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out file."),
    as_json: bool = JSON,
) -> None:
    """Merge results from several machines (CPU, GPU) into one comparison table."""
    from sepprof.commands.merge import merge as run_merge
    from sepprof.render.console import merge_view

    if out is not None and out.exists() and not force:
        fail(f"--out {out}: already exists; pass --force to replace it")
    result = run_merge(files)
    emit(result, as_json, merge_view)
    if out is not None:
        from sepprof.files import write_atomic
        from sepprof.render.markdown import merge_markdown

        write_atomic(out, merge_markdown(result))
        print(f"written to {out}", file=sys.stderr)


@app.command()
def calibrate(
    device: str = DEVICE,
    dtype: str = DTYPE,
    threads: int | None = THREADS,
    as_json: bool = JSON,
) -> None:
    """Measure this machine's peak FLOP/s (best of several matmuls and a 3x3 conv) and memory
    bandwidth (DRAM and cache), and store them for the roofline in ``compare``."""
    opts = timing_options(False, device, dtype, threads, "contiguous", 0.1, 3, "tuned")
    from sepprof.commands.calibrate import calibrate as run_calibrate
    from sepprof.render.console import calibration_view

    with progress_bar(not as_json) as progress:
        stored = run_calibrate(opts, progress)
    results = [cal for cal, _ in stored]
    emit(results if len(results) > 1 else results[0], as_json, calibration_view)
    if not as_json:
        for _, path in stored[-1:]:
            print(f"saved to {path}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and turn every outcome into an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    code, interrupted = 0, False
    try:
        returned = app(args=args, prog_name="sepprof", standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except typer.Exit as exc:
        code = exc.exit_code
    except UserError as exc:
        if debug and exc.__cause__ is not None:
            import traceback

            traceback.print_exception(exc.__cause__)
        print(f"error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        print("interrupted", file=sys.stderr)
        code, interrupted = 130, True
    except Exception as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            code = 0  # the help has been printed
        elif _is_usage_error(exc):
            print(f"error: {exc.format_message()}{_usage_hint(exc)}", file=sys.stderr)
            code = 2
        elif debug:
            raise
        else:
            name = type(exc).__name__
            print(
                f"internal error: {name}: {exc} (rerun with --debug for the trace)", file=sys.stderr
            )
            code = 3
    if code == 130 and not interrupted:  # Typer turns Ctrl-C into an exit code of 130
        print("interrupted", file=sys.stderr)
    if argv is None:
        sys.exit(code)
    return code


def _is_usage_error(exc: Exception) -> bool:
    """Click's (or Typer's vendored click's) usage errors: bad option values, unknown options."""
    return any(cls.__name__ == "UsageError" for cls in type(exc).__mro__)


def _usage_hint(exc: Any) -> str:
    ctx = getattr(exc, "ctx", None)
    return f" (see '{ctx.command_path} --help')" if ctx is not None else ""
