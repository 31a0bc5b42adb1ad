"""The hook's JSON reader (wire.loads, no `json` import) gives gait.strictjson's one reading:
the same documents are refused and the same are read, to the same values."""

from __future__ import annotations

import pytest
from gait_plugin_gastown.wire import WireError, loads

from gait import strictjson

REFUSED = [
    '{"tool_name": "Bash", "tool_name": "Read"}',
    '{"tool_input": {"command": "ls", "Command": "rm -rf /"}}',
    '{"a": {"\\u017f": 1, "s": 2}}',
    '{"K": 1, "\\u212a": 2}',
    "[NaN]",
    '{"n": Infinity}',
    "[1e400]",
    "1" + "0" * 400,
]
READ = [
    '{"tool_name": "Bash", "tool_input": {"command": "ls", "timeout": 1.5, "n": 2}}',
    '{"_": 1, "__": 2, "A1": 3, "b": [true, null, -0.0, 1e308]}',
    '{"caf\\u00e9": 1, "CAFE": 2, "ss": 3, "\\u00df": 4}',
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
