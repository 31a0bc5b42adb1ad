"""Intent errors and the small Go-flavoured string helpers every intent layer uses.

Public so that `gait.intent_sections` and the other intent modules share them without
reaching into each other's private names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from gait.errors import InvalidInputError
from gait.gostrings import go_trim_lower, go_trim_space

INTENT_SCHEMA_ID: Final = "gait.gate.intent_request"
INTENT_SCHEMA_VERSION: Final = "1.0.0"


class IntentError(InvalidInputError):
    """An intent that cannot be parsed or normalized. The message is Go's error text."""


class IntentDecodeError(IntentError):
    """The input is not a decodable intent document (bad JSON, wrong value type, too large).

    Go fails these while reading the file, before evaluation, so fail-closed never applies to
    them: the CLI always exits 6.
    """


# --------------------------------------------------------------------------------------------
# Optional string fields
# --------------------------------------------------------------------------------------------


def get_norm(raw: Mapping[str, Any], key: str) -> str:
    """`go_trim_lower` of an optional decoded string field ("" when absent)."""
    value = raw.get(key)
    return go_trim_lower(value) if value else ""


def get_trim(raw: Mapping[str, Any], key: str) -> str:
    """`go_trim_space` of an optional decoded string field ("" when absent)."""
    value = raw.get(key)
    return go_trim_space(value) if value else ""


def fold_key(key: str) -> str:
    """The form in which Go's decoder compares an object key with an (ASCII) field name."""
    if key.isascii():
        return key.lower()
    # Only U+017F (long s) and U+212A (Kelvin sign) case-fold onto ASCII letters.
    return key.lower().replace("\u017f", "s")


def is_hex64(text: str) -> bool:
    return len(text) == 64 and not text.strip("0123456789abcdef")


def go_base(path: str) -> str:
    """Go `path.Base`."""
    if path == "":
        return "."
    path = path.rstrip("/")
    if path == "":
        return "/"
    return path[path.rfind("/") + 1 :]


def unique_sorted(values: Iterable[str]) -> tuple[str, ...]:
    """Trim, drop empties, dedupe, sort (by code point, which is Go's byte order)."""
    out = {go_trim_space(value) for value in values}
    out.discard("")
    return tuple(sorted(out))


MAX_SAFE_INT: Final = 2**53 - 1


def json_int(value: int) -> int | float:
    """An int64 as Go's JCS prints it: through a float64 once it leaves the exact range."""
    return value if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else float(value)


def enum_value(value: str, allowed: frozenset[str], message: str) -> str:
    if value and value not in allowed:
        raise IntentError(f"{message}: {value}")
    return value
