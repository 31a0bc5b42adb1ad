"""gait.strictjson: a document with two readings (duplicate or case-variant keys, non-finite or
out-of-range numbers) is refused at any depth; everything else reads as json.loads does."""

from __future__ import annotations

import json

import pytest

from gait.intent import IntentDecodeError, parse_intent_json
from gait.strictjson import AmbiguousKeyError, JSONReadError, loads, loads_object


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"verdict": "allow", "verdict": "block"}', 'duplicate key "verdict"'),
        ('{"a": {"b": [{"c": 1, "c": 1}]}}', 'duplicate key "c"'),
        ('{"verdict": "allow", "Verdict": "block"}', 'keys "verdict" and "Verdict" differ only'),
        ('{"args": {"Path": "/a", "PATH": "/b"}}', 'keys "Path" and "PATH" differ only'),
        # Go folds U+017F (long s) onto s and U+212A (Kelvin) onto k.
        ('{"schema_id": 1, "\\u017fchema_id": 2}', "differ only in letter case"),
        ('{"kind": 1, "\\u212aind": 2}', "differ only in letter case"),
    ],
)
def test_ambiguous_keys_are_refused(text: str, message: str) -> None:
    with pytest.raises(AmbiguousKeyError, match=message):
        loads(text)
    with pytest.raises(AmbiguousKeyError):
        loads(text.encode())


@pytest.mark.parametrize(
    "text",
    ["NaN", "[Infinity]", '{"a": -Infinity}', "1e400", "[-1e309]", "1" + "0" * 400],
)
def test_numbers_without_a_float64_reading_are_refused(text: str) -> None:
    with pytest.raises(JSONReadError):
        loads(text)


@pytest.mark.parametrize("data", [b"\xff{}", b"{", b"", b"[" * 100_000 + b"]" * 100_000])
def test_what_is_not_json_is_a_read_error(data: bytes) -> None:
    with pytest.raises(JSONReadError):
        loads(data)


def test_other_documents_read_as_json_loads_reads_them() -> None:
    text = json.dumps(
        {
            "a": 1,
            "b": [1.5, -0.0, 2**63, "x", None, True],
            "c": {"d": {}, "e": []},
            "_": 1,
            "__": 2,
            "caf\u00e9": 3,
            "CAFE": 4,
            "1": 5,
            "ss": 6,
            "\u00df": 7,
        }
    )
    assert loads(text) == json.loads(text)
    assert loads_object(text) == json.loads(text)
    with pytest.raises(JSONReadError, match="not a JSON object"):
        loads_object("[]")


def test_intents_and_calls_are_read_strictly() -> None:
    with pytest.raises(IntentDecodeError, match='duplicate key "path"'):
        parse_intent_json(b'{"tool_name": "t", "args": {"path": "/tmp/a", "path": "/etc/x"}}')
    with pytest.raises(IntentDecodeError, match="differ only in letter case"):
        parse_intent_json(b'{"tool_name": "tool.read", "TOOL_NAME": "tool.delete"}')
    with pytest.raises(IntentDecodeError, match="1e400"):
        parse_intent_json(b'{"tool_name": "t", "args": {"n": 1e400}}')
    # A lone case-variant of a field is read as Go reads it (folded onto the field).
    assert parse_intent_json(b'{"TOOL_NAME": "t"}') == {"TOOL_NAME": "t"}
