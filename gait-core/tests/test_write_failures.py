"""A file that cannot be written is a GaitError that names it and says what to do: invalid
input when the path is at fault, an I/O failure when the machine is; no temporary file stays.

Failures the machine must be made to produce (full disk, read-only file system, no permission)
are tested for real through the installed `gait` in tests/security/test_write_failures.py; here
the errors no test can provoke on demand (EIO, EDQUOT) are injected where the kernel would
return them.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from gait.devkey import load_or_create_dev_key
from gait.errors import (
    Category,
    ExitCode,
    FileWriteError,
    GaitError,
    InvalidInputError,
    OutputPathError,
    write_failure,
)
from gait.fsutil import lock_file, write_atomic
from gait.jsonl_export import append_line
from gait.keys import SigningKey, write_key_pair
from gait.mcp.journal import append_to
from gait.ratelimit import LimitSpec, consume
from gait.timefmt import GoTime


def _error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


@pytest.mark.parametrize(
    ("code", "category", "advice"),
    [
        (errno.ENOSPC, Category.IO_FAILURE, "out is full"),
        (errno.EDQUOT, Category.IO_FAILURE, "quota for out is used up"),
        (errno.EROFS, Category.IO_FAILURE, "out is on a read-only file system"),
        (errno.EIO, Category.IO_FAILURE, "file system that holds out failed"),
        (errno.EACCES, Category.INVALID_INPUT, "may not write out/t.json"),
        (errno.EPERM, Category.INVALID_INPUT, "may not write out/t.json"),
        (errno.ENOTDIR, Category.INVALID_INPUT, "a parent of out/t.json is not a folder"),
        (errno.EISDIR, Category.INVALID_INPUT, "out/t.json is a folder"),
    ],
)
def test_each_errno_has_its_category_and_advice(code: int, category: Category, advice: str) -> None:
    error = write_failure("out/t.json", _error(code), "trace")
    assert isinstance(error, FileWriteError)
    assert str(error) == f"cannot write trace out/t.json: {os.strerror(code)}"
    assert error.category == category and advice in error.hint
    # A path at fault is the caller's to fix, like every other invalid input.
    assert isinstance(error, InvalidInputError) == (category == Category.INVALID_INPUT)
    assert error.exit_code == (6 if category == Category.INVALID_INPUT else ExitCode.INTERNAL)


def _fail_on(monkeypatch: pytest.MonkeyPatch, name: str, code: int) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise _error(code)

    monkeypatch.setattr(os, name, fail)


@pytest.mark.parametrize(
    ("step", "code"),
    [("fsync", errno.EIO), ("fsync", errno.EDQUOT), ("replace", errno.EIO), ("chmod", errno.EPERM)],
)
def test_a_failed_step_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, code: int
) -> None:
    target = tmp_path / "state.json"
    write_atomic(target, b"old")
    _fail_on(monkeypatch, step, code)
    with pytest.raises(FileWriteError, match=f"cannot write rate limit state {target}") as caught:
        write_atomic(target, b"new", what="rate limit state")
    monkeypatch.undo()
    assert caught.value.hint
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["state.json"]


def test_a_parent_that_is_a_file_is_invalid_input(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputPathError, match="cannot write trace") as caught:
        write_atomic(tmp_path / "file" / "trace.json", b"{}", what="trace")
    assert "is not a folder" in caught.value.hint
    assert os.listdir(tmp_path) == ["file"]


def test_an_existing_file_is_still_the_callers_to_answer(tmp_path: Path) -> None:
    target = tmp_path / "key"
    target.write_text("mine")
    with pytest.raises(FileExistsError):
        write_atomic(target, b"other", overwrite=False)
    assert target.read_text() == "mine" and os.listdir(tmp_path) == ["key"]


def test_a_lock_that_cannot_be_created_names_the_lock(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    lock = tmp_path / "file" / "log.jsonl.lock"
    with (
        pytest.raises(OutputPathError, match=f"cannot write append lock {lock}"),
        lock_file(lock, timeout=1, stale_after=60, retry=0.01, what="append"),
    ):
        pass


def test_a_lock_whose_body_cannot_be_written_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "state.lock"
    _fail_on(monkeypatch, "write", errno.ENOSPC)
    with (
        pytest.raises(FileWriteError, match="cannot write state lock"),
        lock_file(lock, timeout=1, stale_after=60, retry=0.01, what="state", body=b"{}"),
    ):
        pass
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_half_a_key_pair_is_never_left(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    private = tmp_path / "team_private.key"
    with pytest.raises(OutputPathError, match="cannot write public key"):
        write_key_pair(SigningKey.generate(), private, tmp_path / "file" / "team_public.key")
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_the_dev_key_failure_says_where_gait_home_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "home").write_text("not a folder")
    monkeypatch.setenv("GAIT_HOME", str(tmp_path / "home"))
    with pytest.raises(GaitError, match="cannot write private key") as caught:
        load_or_create_dev_key()
    assert caught.value.category == Category.INVALID_INPUT
    assert "GAIT_HOME" in caught.value.hint and "--key-mode prod" in caught.value.hint


def test_an_export_failure_keeps_its_category_and_hint_through_the_group_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log.jsonl"
    _fail_on(monkeypatch, "fsync", errno.ENOSPC)
    with pytest.raises(FileWriteError, match=f"append export {path}") as caught:
        append_line(path, b"{}\n")
    assert caught.value.category == Category.IO_FAILURE and "is full" in caught.value.hint


def test_rate_limit_state_failure_names_the_state(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    state = tmp_path / "file" / "limits.json"
    with pytest.raises(OutputPathError, match=f"cannot write rate limit state {state}"):
        consume(
            state,
            LimitSpec(requests=1, window="hour", scope="tool"),
            tool_name="tool.read",
            identity="alice",
            now=GoTime.now(),
        )


def test_a_session_journal_failure_names_the_journal(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    journal = tmp_path / "file" / "s.journal.jsonl"
    with pytest.raises(OutputPathError, match=f"cannot write session journal {journal}"):
        append_to(journal, "s", "run_s", {"verdict": "allow"})
