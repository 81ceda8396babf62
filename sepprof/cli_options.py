"""Command-line options shared by several commands, declared once, and the small helpers every
command's wiring uses: timing flags into ``TimingOptions``, progress on stderr, JSON or tables.

``@shared(...)`` adds a group of these options to a command's signature (Typer reads the
signature) and hands them to the command as one ``Flags`` value, so a command declares only its
own options.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import typer.core

from sepprof.count.costs import RULE_HELP
from sepprof.errors import UserError
from sepprof.timing.options import ROUNDS

# Flags take no value: show no "<bool>" placeholder for them in --help.
_display_type = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = lambda self, ctx: (  # type: ignore[method-assign]
    None if self.is_flag else _display_type(self, ctx)
)
# Arguments are shown by their metavar (``BUDGETS.yaml``): no "<path>" beside it.
typer.core.TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]

EXITS = "Exit codes: 0 ok, 1 a check or budget failed, 2 bad input, 3 internal error, 130 stopped."


def epilog(*examples: str, rule: bool = False) -> str:
    """A command's help epilogue: its examples, the counting rule where it counts, exit codes."""
    lines = "\n\n".join(f"    {e}" for e in examples)
    return f"Examples:\n\n{lines}\n\n" + (RULE_HELP + "\n\n" if rule else "") + EXITS


def opt(default: Any, flag: str, metavar: str = "", help: str = "", *more: str) -> Any:
    """A Typer option with a readable placeholder (none for flags)."""
    return typer.Option(default, flag, *more, metavar=metavar or None, help=help)


PROCESSES_HELP = "Fresh worker processes to time in, each all rounds (--repeat: old name)."
TIMED = ("no_time", "analytic", "device", "dtype", "threads", "memory_format", "min_time")
TIMED += ("rounds", "processes", "allocator", "backend", "mode")
OUTPUT = ("as_json", "units", "wide")

SHARED: dict[str, tuple[Any, Any]] = {
    "no_time": (bool, opt(False, "--no-time", "", "Skip timing (analytic and traced counts).")),
    "analytic": (bool, opt(False, "--analytic", "", "Analytic counts only: no trace, no timing.")),
    "device": (str, opt("cpu", "--device", "DEV", "cpu, cuda or all (every device present).")),
    "dtype": (str, opt("fp32", "--dtype", "TYPE", "fp32, fp16 or bf16.")),
    "threads": (
        int | None,
        opt(None, "--threads", "N", "CPU threads for timing (default: the free cores)."),
    ),
    "memory_format": (
        str,
        opt("contiguous", "--memory-format", "LAYOUT", "contiguous or channels_last."),
    ),
    "min_time": (
        float,
        opt(0.02, "--min-time", "SECONDS", "Seconds of timed calls per item per round."),
    ),
    "rounds": (
        int,
        opt(ROUNDS, "--rounds", "N", "Rounds; latency is the median of round medians."),
    ),
    "processes": (int, opt(1, "--processes", "N", PROCESSES_HELP, "--repeat")),
    "allocator": (
        str,
        opt("tuned", "--allocator", "KIND", "tuned (glibc thresholds raised) or system."),
    ),
    "backend": (
        str,
        opt("eager", "--backend", "NAME", "eager, compile or onnxruntime."),
    ),
    "mode": (str, opt("inference", "--mode", "MODE", "inference, or train (forward + backward).")),
    "as_json": (bool, opt(False, "--json", "", "Print only JSON (the versioned contract).")),
    "units": (str, opt("macs", "--units", "UNIT", "macs, or flops (= 2 x MACs).")),
    "wide": (bool, opt(False, "--wide", "", "Show every column, however wide the terminal.")),
}

TIMING_FIELDS = {"device": "devices", "min_time": "min_time", "dtype": "dtype"}
TIMING_FIELDS |= {n: n for n in ("threads", "memory_format", "rounds", "processes", "allocator")}
TIMING_FIELDS |= {"backend": "backend", "mode": "mode"}


@dataclass(frozen=True)
class Flags:
    """The shared options a command was given."""

    values: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def timed(self) -> bool:
        return not (self.values.get("no_time") or self.values.get("analytic"))

    @property
    def traced(self) -> bool:
        return not self.values.get("analytic")

    @property
    def train(self) -> bool:
        """``--mode`` names train (alone or beside inference): the backward pass is counted,
        timed or not."""
        return "train" in [m.strip() for m in str(self.values.get("mode", "")).split(",")]

    def timing(self, **fixed: Any) -> Any:
        """Validated ``TimingOptions`` (``fixed`` fills what the command has no flag for); None
        when not timed, after refusing a device this machine does not have."""
        from sepprof.spec.layer import check_untimed_dtype
        from sepprof.timing.options import TimingOptions, start_timing_clock

        given = {f: self.values[n] for n, f in TIMING_FIELDS.items() if n in self.values}
        fields = {**fixed, **given}
        if "devices" in fields:
            fields["devices"] = tuple(d.strip() for d in str(fields["devices"]).split(","))
        opts = TimingOptions(**fields)
        _check_cuda(opts)  # timed or not, every command refuses an absent device alike (#15)
        if not self.timed:
            check_untimed_dtype(opts.dtype)  # bytes would be fp32 under an fp16 header (#15)
            return None
        start_timing_clock()
        return opts

    def timings(self) -> list[Any]:
        """One ``TimingOptions`` per mode of ``--mode`` (``inference,train``: both, to be shown
        side by side); ``[None]`` when not timed, each mode checked (``train`` then counts the
        backward pass)."""
        modes = [m.strip() for m in str(self.values.get("mode", "inference")).split(",")]
        if len(modes) == 1:
            return [self.timing()]
        runs = [Flags({**self.values, "mode": m}).timing() for m in dict.fromkeys(modes)]
        return runs if self.timed else [None]


def _check_cuda(opts: Any) -> None:
    if "cuda" in opts.devices:
        from sepprof.timing.timer import check_device

        check_device("cuda", opts.dtype)


def shared(*names: str, **defaults: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the shared options ``names`` (``defaults`` replaces an option's declaration) to a
    command; it receives them as ``flags``."""
    return options(SHARED, names, defaults, "flags", Flags)


def options(
    table: dict[str, tuple[Any, Any]],
    names: tuple[str, ...],
    defaults: dict[str, Any],
    receiver: str,
    build: Callable[[dict[str, Any]], Any],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the options ``names`` of ``table`` (name -> (type, declaration); ``defaults``
    replaces a declaration) to a command, which receives ``build(their values)`` as its
    parameter ``receiver``."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name != receiver]
        extra = [
            inspect.Parameter(
                n,
                inspect.Parameter.KEYWORD_ONLY,
                default=defaults.get(n, table[n][1]),
                annotation=table[n][0],
            )
            for n in names
        ]

        def command(**kwargs: Any) -> Any:
            values = build({n: kwargs.pop(n) for n in names})
            return fn(**kwargs, **{receiver: values})

        command.__signature__ = sig.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
        command.__name__, command.__doc__ = fn.__name__, fn.__doc__
        command.__module__, command.__qualname__ = fn.__module__, fn.__qualname__
        return command

    return wrap


def fail(message: str) -> None:
    raise UserError(message)


def given(ctx: typer.Context, *names: str) -> list[str]:
    """The flags among parameters ``names`` that the user typed on the command line."""
    params = {p.name: p for p in ctx.command.params}
    return [
        params[n].opts[0]
        for n in names
        if n in params and getattr(ctx.get_parameter_source(n), "name", "") == "COMMANDLINE"
    ]


def check_units(units: str) -> None:
    if units not in ("macs", "flops"):
        raise UserError(f"--units: unknown value {units!r} (valid: macs, flops)")


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Callable[[str, int], Callable[[], None]] | None]:
    """A rich progress bar on stderr (drawn only on a terminal); yields ``start(label, total)``."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from sepprof.render.console import console

    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console(stderr=True), transient=True) as bar:

        def start(label: str, total: int) -> Callable[[], None]:
            task = bar.add_task(label, total=total)
            return lambda: bar.advance(task)

        yield start


def emit(result: Any, as_json: bool, view: Callable[[Any], Any]) -> None:
    """Print a result as one JSON document, or as tables (one per result of a set)."""
    if as_json:
        from sepprof.render.json import render_json
        from sepprof.streams import document

        # to the real stdout, even while --json sends every other print to stderr
        document().write(render_json(result) + "\n")
        return
    from sepprof.render.console import console

    out = console()
    for item in getattr(result, "results", None) or [result]:
        out.print(view(item))


def writable(*outputs: tuple[str, Path | None]) -> None:
    """Refuse, before any work, output files that sepprof must not write (a directory, device,
    FIFO or socket, a symlink to one); existing regular files are replaced atomically."""
    from sepprof.files import check_output_file

    for flag, path in outputs:
        if path is not None:
            check_output_file(path, flag)


# --model and its inputs (profile, sepify)
MODEL = opt(None, "--model", "MODULE:FACTORY", "A model factory: pkg.module:fn or file.py:fn.")
INPUT = opt([], "--input", "SHAPE[:DTYPE]", "Model input, e.g. 1,3,224,224 (repeatable).")
INPUTS = opt(
    None,
    "--inputs",
    "FILE.py:FN",
    "Inputs from your function, or '[3,H,W 3,H,W]': a list (detectors).",
)
KWARGS = opt(None, "--kwargs", "JSON", "Keyword arguments for the factory, as JSON.")
LAYERS = opt("replay", "--layer-times", "HOW", "--model: replay (each layer alone), profiler, off.")
DEPTH = opt(None, "--depth", "N", "--model: time the modules at depth N, not the leaves.")

# flag sets of compare, profile, check and report (given(): which ones a command refuses)
LAYER_FLAGS = ("k", "cin", "cout", "size", "batch", "stride", "padding", "dilation", "bias", "bn")
LAYER_FLAGS += ("act",)
ACT = "ACT"
NETWORK_FLAGS = ("width_mult", "resolution", "as_", "batch")
MODEL_FLAGS = ("input_shapes", "inputs", "kwargs", "layer_times", "depth")
PROCESSES3 = opt(3, "--processes", "N", PROCESSES_HELP, "--repeat")
ALL_DEVICES = opt("all", "--device", "DEV", "cpu, cuda or all (every device present).")
REPORT_TIMING = ("device", "dtype", "threads", "memory_format", "processes", "allocator")
REPORT_TIMING += ("backend", "mode")
CHECK_TIMING = ("threads", "min_time", "rounds", "processes", "allocator")
