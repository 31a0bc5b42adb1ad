"""gait.strictjson: a document with two readings (duplicate or case-variant keys, non-finite or
out-of-range numbers) is refused at any depth; everything else reads as json.loads does."""

from __future__ import annotations

import json

import pytest

from gait.intent import IntentDecodeError, parse_intent_json
from gait.strictjson import (
    SIMPLE_FOLDS,
    AmbiguousKeyError,
    JSONReadError,
    fold,
    loads,
    loads_object,
)


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


# Orbits of Go's unicode.SimpleFold (strings.EqualFold says any two of one are equal).
GO_ORBITS = [
    "Kk\u212a",  # Kelvin sign
    "Ss\u017f",  # long s
    "\u03a9\u03c9\u2126",  # Ohm sign
    "\u00b5\u039c\u03bc",  # micro sign
    "\u03a3\u03c2\u03c3",  # final sigma
    "\u0399\u0345\u03b9\u1fbe",  # ypogegrammeni, prosgegrammeni
    "\u01c4\u01c5\u01c6",  # DZ with caron, titlecase
    "\u0412\u0432\u1c80",  # Cyrillic rounded ve
    "\u13a0\uab70",  # Cherokee (its lowercase folds to the uppercase)
    # CaseFolding.txt status S: one character in Go, longer in Python's full folding.
    "\u00df\u1e9e",  # sharp s
    "\u0390\u1fd3",  # iota with dialytika and tonos
    "\u03b0\u1fe3",  # upsilon with dialytika and tonos
    "\ufb05\ufb06",  # ligatures long s t, s t
    "\u1f80\u1f88",  # alpha with psili and ypogegrammeni, and its titlecase
    "\u1fb3\u1fbc",
]
# Pairs EqualFold keeps apart: full folding joins them, or only upper() or lower() does.
GO_APART = [
    ("\u0130", "i"),  # dotted capital I (a Turkish mapping only)
    ("\u0131", "i"),  # dotless i
    ("\u0130", "\u0131"),
    ("\u0131", "I"),
    ("\u00df", "ss"),
    ("\u1e9e", "SS"),
    ("\ufb05", "st"),
    ("\u0149", "\u02bcn"),  # n preceded by apostrophe
    ("\u1f80", "\u1f00\u03b9"),
]


@pytest.mark.parametrize("orbit", GO_ORBITS)
def test_keys_go_folds_together_are_refused(orbit: str) -> None:
    assert len({fold(c) for c in orbit}) == 1
    for first in orbit:
        for second in orbit:
            if first != second:
                with pytest.raises(AmbiguousKeyError, match="differ only in letter case"):
                    loads(json.dumps({f"a{first}": 1, f"a{second}": 2}))


@pytest.mark.parametrize(("first", "second"), GO_APART)
def test_keys_go_keeps_apart_are_read(first: str, second: str) -> None:
    assert fold(first) != fold(second)
    text = json.dumps({first: 1, second: 2})
    assert loads(text) == json.loads(text)


def test_the_simple_folds_are_the_characters_sharing_a_longer_folding() -> None:
    """SIMPLE_FOLDS, derived again from Python's Unicode database: the code points whose full
    case folding is longer than one character and shared with another code point (CaseFolding.txt
    gives each such pair a status S simple folding, which Go's SimpleFold follows), each
    mapped to the smallest of its pair."""
    shared: dict[str, list[str]] = {}
    for code in range(0x110000):
        folded = chr(code).casefold()
        if len(folded) > 1:
            shared.setdefault(folded, []).append(chr(code))
    derived = {c: min(group) for group in shared.values() if len(group) > 1 for c in group}
    assert {c: r for c, r in derived.items() if c != r} == SIMPLE_FOLDS
    assert all(len(group) <= 2 for group in shared.values())
    # Every character folds to one character that is its own folding: a key's folding is a
    # character-by-character reading, and never joins a character with a sequence.
    for code in range(0x110000):
        folded = fold(chr(code))
        assert len(folded) == 1
        assert fold(folded) == folded
