"""Reading the files users hand to commands: regular files only, size-limited, one reading of
each JSON document (gait.strictjson), and every failure is invalid input."""

from __future__ import annotations

from typing import Any

from gait.errors import InvalidInputError
from gait.fsutil import read_regular_file
from gait.intent import parse_intent_json
from gait.limits import MAX_INTENT_BYTES, MAX_RECORD_BYTES


def read_limited(path: str, what: str, limit: int) -> bytes:
    return read_regular_file(path, limit, what=what)


def read_intent(path: str) -> dict[str, Any]:
    return parse_intent_json(read_limited(path, "intent", MAX_INTENT_BYTES))


def read_json_object(path: str, what: str) -> dict[str, Any]:
    from gait.strictjson import JSONReadError, loads

    data = read_limited(path, what, MAX_RECORD_BYTES)
    try:
        value = loads(data)
    except JSONReadError as exc:
        raise InvalidInputError(f"{what} {path} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInputError(f"{what} {path} must be a JSON object")
    return value
