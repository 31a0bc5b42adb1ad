"""Reading the files users hand to commands: size-limited, and every failure is invalid input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gait.errors import InvalidInputError
from gait.intent import parse_intent_json
from gait.limits import MAX_INTENT_BYTES, MAX_RECORD_BYTES


def read_limited(path: str, what: str, limit: int) -> bytes:
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise InvalidInputError(f"{what} {path} is larger than {limit} bytes")
    return data


def read_intent(path: str) -> dict[str, Any]:
    return parse_intent_json(read_limited(path, "intent", MAX_INTENT_BYTES))


def read_json_object(path: str, what: str) -> dict[str, Any]:
    import json

    data = read_limited(path, what, MAX_RECORD_BYTES)
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInputError(f"{what} {path} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInputError(f"{what} {path} must be a JSON object")
    return value
