"""Help for people: readable placeholders, true defaults, an example per command, versions."""

from __future__ import annotations

import re

import pytest

from sepprof import __version__

COMMANDS = ("compare", "profile", "sepify", "check", "sweep", "report", "merge", "calibrate")


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_help_has_examples_and_no_type_placeholders(cli, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "120")
    run = cli(command, "--help")
    assert run.code == 0
    assert "Examples:" in run.out and f"sepprof {command}" in run.out
    assert not re.search(r"<(bool|str|int|float|path|list\[[a-z]+\])>", run.out), run.out
    options = set(re.findall(r"(--[a-z][a-z-]+)", run.out))
    mentioned = options - {"--help", "--no-bias", "--no-bn"}
    app_options = _declared_options(command)
    assert mentioned <= app_options, (
        f"help mentions flags {command} has not: {mentioned - app_options}"
    )


def _declared_options(command: str) -> set[str]:
    import typer.main

    from sepprof.cli import app

    click_cmd = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return {o for p in click_cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_names_sepprof_torch_and_fvcore(cli, flag):
    run = cli(flag)
    assert run.code == 0
    assert re.fullmatch(
        rf"sepprof {re.escape(__version__)} \(torch [0-9][^ ,]*, fvcore [0-9][^ )]*\)\n", run.out
    ), run.out


def test_report_help_states_the_true_default_folder(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert "default: reports/cpu-MODEL, MODEL = this CPU's" in cli("report", "--help").out
