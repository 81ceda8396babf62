"""A throwaway PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` in a temporary folder,
listening only on a Unix socket there (no TCP port), stopped and removed at the end. Run as the
``postgres`` user when the tests run as root (PostgreSQL refuses root).

``find_bindir()`` looks on PATH, then in Debian's ``/usr/lib/postgresql/<version>/bin``; where
there is none, the tests that need a server skip (CI installs PostgreSQL and sets
``SEPPROF_REQUIRE_POSTGRES=1``, which makes a missing server a failure instead)."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

REQUIRED = "SEPPROF_REQUIRE_POSTGRES"


def find_bindir() -> Path | None:
    """The folder with initdb and pg_ctl, or None."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=_version)
    return versions[-1].parent if versions else None


def _version(path: Path) -> tuple[int, ...]:
    name = path.parent.parent.name
    return tuple(int(p) for p in name.split(".") if p.isdigit())


class Cluster:
    """A running server; ``url(name)`` is a new database on it."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.user = "postgres" if os.geteuid() == 0 else None
        # in /tmp: a short socket path (the limit is ~100 bytes) that the postgres user can reach
        tmp = "/tmp" if os.path.isdir("/tmp") else None
        self.folder = Path(tempfile.mkdtemp(prefix="sepprof-pg-", dir=tmp))
        self.data, self.log = self.folder / "data", self.folder / "server.log"
        self._names = itertools.count()
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, user=self.user)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self) -> Cluster:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-k {self.folder} -c listen_addresses='' -F -c max_connections=40"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")
        return self

    def url(self, name: str | None = None) -> str:
        """A new, empty database, as a ``postgresql://`` URL over the socket."""
        name = name or f"store{next(self._names)}"
        self._run("createdb", "-h", str(self.folder), "-U", "postgres", name)
        return f"postgresql://postgres@/{name}?host={self.folder}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
