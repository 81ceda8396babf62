"""Shared test helpers: run the real CLI entry point and keep the user's cache untouched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest
from hypothesis import settings

from sepprof.cli import main

settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True)
settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SEPPROF_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(capsys):
    """Call ``sepprof.cli.main`` (the console script's function) and capture what it prints."""

    def run(*args: str) -> Run:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server (tests/pg_cluster.py) for the session; skips where the
    binaries are absent (fails instead when SEPPROF_REQUIRE_POSTGRES=1, as in CI)."""
    from pg_cluster import REQUIRED, Cluster, find_bindir

    bindir = find_bindir()
    if bindir is None:
        message = "PostgreSQL binaries (initdb, pg_ctl) not found; install postgresql"
        if os.environ.get(REQUIRED) == "1":
            pytest.fail(f"{message} ({REQUIRED}=1)")
        pytest.skip(message)
    pytest.importorskip("psycopg", reason="psycopg (the test extra) is not installed")
    cluster = Cluster(bindir).start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def history_store(request, tmp_path):
    """A new results store: an SQLite path, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "runs.db")
    return request.getfixturevalue("postgres").url()


def sepprof_subprocess(*args: str, env: dict | None = None, timeout: float = 120) -> Run:
    """Run the installed ``sepprof`` executable (or ``python -m sepprof``) in a new process."""
    exe = shutil.which("sepprof")
    cmd = [exe] if exe else [sys.executable, "-m", "sepprof"]
    proc = subprocess.run(
        [*cmd, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)
