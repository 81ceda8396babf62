"""Files in and out, safely: inputs are regular files read with a size cap and never block on a
FIFO; outputs are regular files written through a temporary file and a rename (or folders that
sepprof creates), never a device, FIFO, socket or folder put where a file was expected."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sepprof.errors import UserError, printable

MAX_INPUT_BYTES = 16 << 20  # every file sepprof reads: configs, budgets, baselines, results


def _where(path: Path, flag: str | None) -> str:
    """``--save out.pt`` or ``out.pt``: how an error names a path."""
    return printable(f"{flag} {path}" if flag else str(path))


def kind_of(mode: int) -> str:
    """What a file that is not a regular one is, in words."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def too_large(limit: int) -> str:
    """The message for an input over the size cap."""
    return f"larger than the {limit >> 20} MiB limit on input files"


def _stat_input(path: Path, where: str) -> os.stat_result:
    """The stat of an input that must be an existing regular file (symlinks followed)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UserError(f"{where}: file not found") from None
    except OSError as exc:
        raise UserError(f"{where}: cannot read: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"{where}: is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{where}: is not a regular file (it is {kind_of(st.st_mode)})")
    return st


def read_input(path: str | Path, flag: str | None = None, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes. Opened without blocking (a FIFO
    swapped in after the check cannot hang us) and checked again on the open descriptor."""
    path = Path(path)
    where = _where(path, flag)
    _stat_input(path, where)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise UserError(f"{where}: cannot read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"{where}: is not a regular file (it is {kind_of(st.st_mode)})")
        if st.st_size > limit:
            raise UserError(f"{where}: {too_large(limit)}")
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise UserError(f"{where}: cannot read: {exc.strerror}") from None
    if len(data) > limit:
        raise UserError(f"{where}: {too_large(limit)}")
    return data


def read_input_text(path: str | Path, flag: str | None = None) -> str:
    """A regular file's text (UTF-8), read as ``read_input`` reads it."""
    data = read_input(path, flag)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{_where(Path(path), flag)}: not UTF-8 text (byte {exc.start})") from None


def check_input_file(path: str | Path, flag: str | None = None) -> Path:
    """Refuse, before any work, an input that is missing, not a regular file, or over the cap
    (for files read by others, e.g. a model's Python file that importlib reads)."""
    path = Path(path)
    where = _where(path, flag)
    if _stat_input(path, where).st_size > MAX_INPUT_BYTES:
        raise UserError(f"{where}: {too_large(MAX_INPUT_BYTES)}")
    return path


def distinct_inputs(paths: Sequence[str | Path], flag: str | None = None) -> None:
    """Refuse the same input file given twice (by any name: links and ``./`` included)."""
    seen: dict[tuple[int, int], str] = {}
    for path in map(str, paths):
        where = _where(Path(path), flag)
        st = _stat_input(Path(path), where)
        first = seen.get((st.st_dev, st.st_ino))
        if first is not None:
            same = "given twice" if first == path else f"is the same file as {first}"
            raise UserError(f"{where}: {printable(same)}")
        seen[(st.st_dev, st.st_ino)] = path


def output_target(path: str | Path) -> Path:
    """Where writing ``path`` really goes: a symlink (or a chain of them) resolved."""
    return Path(os.path.realpath(path))


def check_output_file(path: str | Path, flag: str | None = None, force: bool | None = None) -> Path:
    """Refuse, before any work, an output file sepprof must not write: a directory, a device,
    FIFO or socket (a symlink is judged by its target), a parent that is not a directory, or
    (when ``force`` is False) an existing file. ``force=None``: overwriting needs no --force."""
    path = Path(path)
    target = output_target(path)
    where = _where(path, flag)
    shown = "" if target == path.absolute() else f" (a link to {printable(target)})"
    st = _existing(target, where)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UserError(f"{where}{shown}: is a folder, not a file")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UserError(
            f"{where}{shown}: is {kind_of(st.st_mode)}; sepprof writes only regular files"
        )
    if st is not None and force is False:
        raise UserError(f"{where}: already exists; pass --force to replace it")
    _check_parent(target.parent, where)
    return target


def _existing(target: Path, where: str) -> os.stat_result | None:
    """The output's stat, or None when nothing is there yet (a write error names ``where``)."""
    try:
        return os.stat(target)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise UserError(f"{where}: cannot write: {exc.strerror}") from None


def check_output_folder(path: str | Path, flag: str | None = None) -> Path:
    """Refuse an output folder that is a file, a device, FIFO or socket (a symlink is judged by
    its target); returns the resolved folder, which may not exist yet."""
    path = Path(path)
    target = output_target(path)
    where = _where(path, flag)
    st = _existing(target, where)
    if st is not None and stat.S_ISREG(st.st_mode):
        raise UserError(f"{where}: is a file, not a folder")
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise UserError(f"{where}: is {kind_of(st.st_mode)}; sepprof writes only folders")
    _check_parent(target.parent, where)
    return target


def _check_parent(folder: Path, where: str) -> None:
    """The nearest existing ancestor of ``folder`` must be a directory (we may create the rest)."""
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{where}: {printable(parent)} is not a folder")
            return


def write_atomic(path: str | Path, data: str | bytes, flag: str | None = None) -> Path:
    """Write ``data`` to ``path`` (a symlink is followed: its target is replaced) through a
    temporary file in the same folder, then rename; only ever a regular file."""
    target = check_output_file(path, flag)
    where = _where(Path(path), flag)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise UserError(f"{where}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~umask())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            raise UserError(f"{where}: cannot write: {exc.strerror}") from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(path)


def umask() -> int:
    """The process's file-creation mask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
