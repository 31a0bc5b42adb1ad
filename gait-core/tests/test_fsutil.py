"""Atomic writes never replace what is not a regular file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gait.errors import InvalidInputError
from gait.fsutil import write_atomic


def test_writes_and_replaces_a_regular_file_with_owner_only_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "trace.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(target.parent)) == ["trace.json"]


def test_refuses_devices_fifos_and_folders(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    for target in (Path(os.devnull), fifo, folder):
        with pytest.raises(InvalidInputError, match="not a regular file"):
            write_atomic(target, b"data")
    assert Path(os.devnull).is_char_device() and fifo.is_fifo() and folder.is_dir()
    assert sorted(os.listdir(tmp_path)) == ["folder", "pipe"]
