"""The hook's JSON reader (wire.loads, no `json` import) gives gait.strictjson's one reading:
the same documents are refused and the same are read, to the same values."""

from __future__ import annotations

import pytest
from gait_plugin_gastown.wire import _SIMPLE_FOLDS, WireError, _fold, loads

from gait import strictjson

REFUSED = [
    '{"tool_name": "Bash", "tool_name": "Read"}',
    '{"tool_input": {"command": "ls", "Command": "rm -rf /"}}',
    '{"a": {"\\u017f": 1, "s": 2}}',
    '{"K": 1, "\\u212a": 2}',
    '{"args": {"\\u00df": 1, "\\u1e9e": 2}}',
    '{"\\u0390": 1, "\\u1fd3": 2}',
    '{"\\u03b0": 1, "\\u1fe3": 2}',
    '{"\\ufb05": 1, "\\ufb06": 2}',
    "[NaN]",
    '{"n": Infinity}',
    "[1e400]",
    "1" + "0" * 400,
]
READ = [
    '{"tool_name": "Bash", "tool_input": {"command": "ls", "timeout": 1.5, "n": 2}}',
    '{"_": 1, "__": 2, "A1": 3, "b": [true, null, -0.0, 1e308]}',
    '{"caf\\u00e9": 1, "CAFE": 2, "ss": 3, "\\u00df": 4}',
    '{"\\u0130": 1, "\\u0131": 2, "i": 3, "\\ufb05": 4, "st": 5}',
]


@pytest.mark.parametrize("text", REFUSED)
def test_what_strictjson_refuses_the_hook_refuses(text: str) -> None:
    with pytest.raises(strictjson.JSONReadError):
        strictjson.loads(text)
    with pytest.raises(WireError):
        loads(text)


@pytest.mark.parametrize("text", READ)
def test_what_strictjson_reads_the_hook_reads_alike(text: str) -> None:
    assert loads(text) == strictjson.loads(text)


def test_the_hook_folds_keys_as_strictjson_does() -> None:
    """The copy of gait.strictjson.fold, every code point at once."""
    assert _SIMPLE_FOLDS == strictjson.SIMPLE_FOLDS
    everything = "".join(map(chr, range(0x110000)))
    assert _fold(everything) == strictjson.fold(everything)
