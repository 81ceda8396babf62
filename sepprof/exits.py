"""Every outcome of a run as an exit code: 0 ok, 1 a check failed, 2 bad input (one ``error:``
line, no traceback), 3 a bug (one line; the trace with --debug), 130 interrupted."""

from __future__ import annotations

import sys
from typing import Any

import typer

from sepprof import streams
from sepprof.errors import UserError, printable


def main(app: Any, argv: list[str] | None = None) -> int:
    """Run the Typer ``app`` on ``argv`` and turn every outcome into an exit code.
    stdout is guarded (``sepprof.streams``): with --json it carries the JSON document only;
    closed or full, it is one error line (exit 2); a reader gone away ends the run quietly."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    saved, out = sys.stdout, None
    try:
        with streams.guarded_stdout(json_only="--json" in args) as out:
            code = run_app(app, args, debug)
            out.flush()
    except streams.StdoutError as exc:
        code = report(exc, debug)
    except (streams.StdoutGone, BrokenPipeError):
        code = streams.BROKEN_PIPE_EXIT
    broken = code == streams.BROKEN_PIPE_EXIT or getattr(out, "failed", False)
    if broken and argv is None and saved is not None:
        streams.silence_stdout(saved)  # the interpreter's last flush must not fail again
    if argv is None:
        sys.exit(code)
    return code


def run_app(app: Any, args: list[str], debug: bool) -> int:
    """Run the Typer ``app``; every outcome but a broken stdout becomes an exit code."""
    code, interrupted = 0, False
    try:
        returned = app(args=args, prog_name="sepprof", standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except typer.Exit as exc:
        code = exc.exit_code
    except UserError as exc:
        code = report(exc, debug)
    except (KeyboardInterrupt, typer.Abort):
        print("interrupted", file=sys.stderr)
        code, interrupted = 130, True
    except (streams.StdoutGone, BrokenPipeError):
        raise
    except Exception as exc:
        code = unexpected(exc, debug)
    if code == 130 and not interrupted:  # Typer turns Ctrl-C into an exit code of 130
        print("interrupted", file=sys.stderr)
    return code


def report(exc: UserError, debug: bool) -> int:
    """One ``error:`` line on stderr (the cause's trace too, with --debug)."""
    if debug and exc.__cause__ is not None:
        import traceback

        traceback.print_exception(exc.__cause__)
    print(f"error: {printable(exc)}", file=sys.stderr)
    return exc.exit_code


def unexpected(exc: Exception, debug: bool) -> int:
    """Click's usage errors are exit 2; anything else is a bug: exit 3 (re-raised with --debug)."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        return 0  # the help has been printed
    if _is_usage_error(exc):
        message = printable(exc.format_message())  # type: ignore[attr-defined]
        print(f"error: {message}{_usage_hint(exc)}", file=sys.stderr)
        return 2
    if debug:
        raise exc
    print(
        f"internal error: {type(exc).__name__}: {printable(exc)} (rerun with --debug for the "
        "trace)",
        file=sys.stderr,
    )
    return 3


def _is_usage_error(exc: Exception) -> bool:
    """Click's (or Typer's vendored click's) usage errors: bad option values, unknown options."""
    return any(cls.__name__ == "UsageError" for cls in type(exc).__mro__)


def _usage_hint(exc: Any) -> str:
    ctx = getattr(exc, "ctx", None)
    return f" (see '{ctx.command_path} --help')" if ctx is not None else ""
