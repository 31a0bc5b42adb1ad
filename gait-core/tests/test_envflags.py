"""One parser for boolean environment variables."""

from __future__ import annotations

import pytest

from gait.envflags import env_flag, parse_flag
from gait.errors import ExitCode, InvalidInputError


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", " yes ", "On", "\ttrue\n"])
def test_true_words(raw: str) -> None:
    assert parse_flag("GAIT_X", raw) is True
    assert parse_flag("GAIT_X", raw, default=True) is True


@pytest.mark.parametrize("raw", ["0", "false", "False", " no", "OFF"])
def test_false_words(raw: str) -> None:
    assert parse_flag("GAIT_X", raw, default=True) is False


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_unset_or_empty_is_the_default(raw: str | None) -> None:
    assert parse_flag("GAIT_X", raw) is False
    assert parse_flag("GAIT_X", raw, default=True) is True


@pytest.mark.parametrize("raw", ["2", "ture", "y", "enabled", "1 1", "-1", "t"])
def test_anything_else_is_invalid_input_naming_the_variable(raw: str) -> None:
    with pytest.raises(InvalidInputError, match="environment variable GAIT_X must be a boolean"):
        parse_flag("GAIT_X", raw)
    try:
        env_flag("GAIT_X", environ={"GAIT_X": raw})
    except InvalidInputError as exc:
        assert exc.exit_code == ExitCode.INVALID_INPUT
    else:
        pytest.fail("accepted")


def test_env_flag_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAIT_TEST_FLAG", "yes")
    assert env_flag("GAIT_TEST_FLAG") is True
    monkeypatch.delenv("GAIT_TEST_FLAG")
    assert env_flag("GAIT_TEST_FLAG") is False
