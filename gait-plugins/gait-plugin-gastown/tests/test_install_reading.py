"""The installer reads gt's hooks override from a regular file only (issue 15 §4)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gait_plugin_gastown.install import read_override

from gait.errors import ExitCode, InvalidInputError
from gait.fsutil import NotRegularFileError


def test_a_fifo_or_folder_override_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "settings.json"
    os.mkfifo(fifo)  # no writer: a blocking open would wait forever
    for path in (fifo, tmp_path):
        with pytest.raises(NotRegularFileError, match="not a regular file") as caught:
            read_override(path)
        assert caught.value.exit_code == ExitCode.INVALID_INPUT


def test_a_missing_override_is_empty_and_duplicate_keys_are_refused(tmp_path: Path) -> None:
    assert read_override(tmp_path / "absent.json") == {}
    dup = tmp_path / "dup.json"
    dup.write_text('{"PreToolUse": [], "PreToolUse": [{"matcher": "*"}]}')
    with pytest.raises(InvalidInputError, match='duplicate key "PreToolUse"'):
        read_override(dup)
