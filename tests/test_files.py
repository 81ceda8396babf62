"""Files in and out: atomic writes with ordinary permissions, only ever a regular file (never a
device, FIFO, socket or folder, symlinks judged by their target); inputs that are regular files,
capped in size and never blocking."""

import os
import socket
import stat

import pytest

from sepprof.errors import UserError
from sepprof.files import (
    MAX_INPUT_BYTES,
    check_output_file,
    check_output_folder,
    distinct_inputs,
    read_input,
    umask,
    write_atomic,
)


def test_new_files_get_the_umask_mode_and_old_files_keep_theirs(tmp_path):
    path = write_atomic(tmp_path / "a" / "out.json", "{}")
    assert path.read_text() == "{}"
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask()
    os.chmod(path, 0o640)
    write_atomic(path, "[]")
    assert path.stat().st_mode & 0o777 == 0o640 and path.read_text() == "[]"
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]


def test_a_folder_is_not_overwritten(tmp_path):
    with pytest.raises(UserError, match="is a folder"):
        write_atomic(tmp_path, "x")


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.txt"
    path.write_text("old")

    def broken(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


# --- outputs: only regular files, judged through symlinks --------------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")


def char_device(path):
    """A character device like /dev/null (1, 3), made in a temporary folder."""
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return path


@needs_root
def test_a_device_is_never_replaced_even_through_a_symlink(tmp_path):
    dev = char_device(tmp_path / "null")
    link = tmp_path / "link.xml"
    link.symlink_to(dev)
    for target in (dev, link):
        with pytest.raises(UserError, match="is a character device; sepprof writes only regular"):
            write_atomic(target, "x")
        with pytest.raises(UserError, match="--junit .*is a character device"):
            check_output_file(target, "--junit")
    assert stat.S_ISCHR(os.stat(dev).st_mode) and link.is_symlink()


def test_a_fifo_a_socket_and_a_folder_are_refused(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match=r"--save .*fifo: is a FIFO \(named pipe\)"):
        check_output_file(fifo, "--save", force=True)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
        with pytest.raises(UserError, match="is a socket"):
            write_atomic(tmp_path / "sock", "x")
    with pytest.raises(UserError, match="is a folder, not a file"):
        check_output_file(tmp_path, "--out", force=True)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_symlink_to_a_file_is_followed_and_kept(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    with pytest.raises(UserError, match="already exists; pass --force"):
        check_output_file(link, "--save", force=False)
    assert check_output_file(link, "--save", force=True) == real


def test_a_parent_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError, match="f is not a folder"):
        check_output_file(tmp_path / "f" / "out.json", "--out")


def test_output_folders_refuse_files_and_devices(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="--out .*file: is a file, not a folder"):
        check_output_folder(tmp_path / "file", "--out")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UserError, match="is a FIFO .*; sepprof writes only folders"):
        check_output_folder(tmp_path / "fifo", "--out")
    assert check_output_folder(tmp_path / "new", "--out") == tmp_path / "new"


# --- inputs: regular files, capped, never blocking -----------------------------------------------


def test_inputs_say_truthfully_what_they_are(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    cases = {
        tmp_path / "gone.json": "gone.json: file not found",
        tmp_path: ": is a directory, not a file",
        fifo: r"fifo.json: is not a regular file \(it is a FIFO",
    }
    for path, message in cases.items():
        with pytest.raises(UserError, match=message):
            read_input(path)


@needs_root
def test_a_device_is_not_read(tmp_path):
    with pytest.raises(UserError, match=r"is not a regular file \(it is a character device\)"):
        read_input(char_device(tmp_path / "zero"), "--baseline")


def test_a_file_over_the_cap_is_refused_before_reading(tmp_path, monkeypatch):
    big = tmp_path / "big.json"
    with big.open("wb") as f:
        f.truncate(MAX_INPUT_BYTES + 1)
    reads = []
    monkeypatch.setattr(os, "read", lambda *a: reads.append(a) or b"")
    with pytest.raises(UserError, match="big.json: larger than the 16 MiB limit on input files"):
        read_input(big)
    assert reads == []
    small = tmp_path / "small.txt"
    small.write_bytes(b"12345")
    with pytest.raises(UserError, match="larger than the 0 MiB limit"):
        read_input(small, limit=4)


def test_the_same_input_twice_is_refused(tmp_path):
    a = tmp_path / "a.json"
    a.write_text("{}")
    (tmp_path / "b.json").symlink_to(a)
    with pytest.raises(UserError, match="a.json: given twice"):
        distinct_inputs([a, a])
    with pytest.raises(UserError, match="b.json: is the same file as .*a.json"):
        distinct_inputs([a, tmp_path / "b.json"])
    distinct_inputs([a])
