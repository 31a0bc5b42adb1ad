"""read_regular_file: every document is read from a regular file, size-limited, never blocking."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from gait.errors import ExitCode, InvalidInputError
from gait.fsutil import NotRegularFileError, read_regular_file


def test_reads_a_regular_file_up_to_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_bytes(b"x" * 10)
    assert read_regular_file(path, 10) == b"x" * 10
    assert read_regular_file(str(path), 100, what="intent") == b"x" * 10
    (tmp_path / "empty").write_bytes(b"")
    assert read_regular_file(tmp_path / "empty", 1) == b""


def test_refuses_a_file_over_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b"x" * 11)
    with pytest.raises(InvalidInputError, match=r"intent .*big.json exceeds 10 bytes"):
        read_regular_file(path, 10, what="intent")


def test_a_fifo_is_refused_at_once_without_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_regular_file(fifo, 10, what="policy")
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "opening a FIFO blocked"
    assert len(outcome) == 1
    assert isinstance(outcome[0], NotRegularFileError)
    assert str(outcome[0]) == f"cannot read policy {fifo}: it is not a regular file"
    assert outcome[0].exit_code == ExitCode.INVALID_INPUT


def test_sockets_folders_and_devices_are_refused(tmp_path: Path) -> None:
    sock_path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen(1)
    try:
        for path in (sock_path, tmp_path, Path(os.devnull)):
            with pytest.raises(NotRegularFileError, match="not a regular file"):
                read_regular_file(path, 10, what="trace")
    finally:
        server.close()


def test_a_missing_file_is_invalid_input_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InvalidInputError, match=r"cannot read policy .*nope.yaml") as info:
        read_regular_file(missing, 10, what="policy")
    assert not isinstance(info.value, NotRegularFileError)


def test_a_symlink_to_a_regular_file_is_read(tmp_path: Path) -> None:
    target = tmp_path / "real"
    target.write_bytes(b"data")
    link = tmp_path / "link"
    link.symlink_to(target)
    assert read_regular_file(link, 10) == b"data"
