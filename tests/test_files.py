"""Atomic writes: complete or absent, with ordinary permissions."""

import os

import pytest

from sepprof.errors import UserError
from sepprof.files import umask, write_atomic


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
