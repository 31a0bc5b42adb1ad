"""RFC 8785 canonical JSON and the SHA-256 digests every Gait contract is built on.

`canonical_json` is byte-identical to the `rfc8785` package. For the common domain of Gait
records (string keys without astral characters, integers within +-(2**53 - 1), integral floats,
other finite floats that `repr` writes without an exponent, strings, bools, null) it serialises
through the standard library, which is several times faster; anything outside that domain goes
to `rfc8785`. The property tests prove the two agree.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

_MAX_SAFE_INT = 2**53 - 1
_fast_encoder = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
)


class _OutsideFastDomain(Exception):
    """The value needs the full RFC 8785 serializer."""


def _to_fast_domain(value: Any) -> Any:
    """Return `value` with integral floats as ints, or raise when the fast path would differ."""
    # Exact types first, and strings without a call: every decision digests and signs a trace,
    # whose values are mostly strings in plain dicts and lists.
    kind = type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            # UTF-16 and code-point order differ only for characters above U+FFFF.
            if type(key) is not str or (not key.isascii() and max(key) > "\uffff"):
                raise _OutsideFastDomain
            out[key] = item if type(item) is str else _to_fast_domain(item)
        return out
    if kind is list or kind is tuple:
        return [item if type(item) is str else _to_fast_domain(item) for item in value]
    if kind is str or value is None or kind is bool:
        return value
    return _scalar_or_other_to_fast_domain(value)


def _scalar_or_other_to_fast_domain(value: Any) -> Any:
    if isinstance(value, str | bool) or value is None:
        return value
    if isinstance(value, int):
        if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            return value
        raise _OutsideFastDomain
    if isinstance(value, float):
        if value.is_integer():
            if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
                return int(value)
            raise _OutsideFastDomain
        # rfc8785 writes str(value) unless that has an exponent (a trace's latency_ms, say).
        if math.isfinite(value) and "e" not in repr(value):
            return value
        raise _OutsideFastDomain
    if isinstance(value, Mapping):
        return _to_fast_domain(dict(value))
    if isinstance(value, list | tuple):
        return [_to_fast_domain(item) for item in value]
    raise _OutsideFastDomain


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 (JCS) bytes of a JSON-compatible value."""
    try:
        return _fast_encoder.encode(_to_fast_domain(value)).encode("utf-8")
    except (_OutsideFastDomain, UnicodeEncodeError, ValueError):
        import rfc8785  # imported here: start-up budget (records rarely leave the fast domain)

        return rfc8785.dumps(_unsafe_integers_as_floats(value))


def _unsafe_integers_as_floats(value: Any) -> Any:
    """Integers beyond +-(2**53 - 1) as the nearest float64.

    The reference's JCS library reads every number as a float64 before writing it, so a Go int64
    such as a policy priority of 2**53 + 1 is digested as 9007199254740992; rfc8785 refuses such
    integers instead. A value beyond float64 raises OverflowError.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT else float(value)
    if isinstance(value, Mapping):
        return {key: _unsafe_integers_as_floats(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_unsafe_integers_as_floats(item) for item in value]
    return value


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """Lowercase hex SHA-256 of the canonical JSON of `value`."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def short_id(text: str) -> str:
    """The first 12 bytes (24 hex characters) of sha256(text): trace, event and token ids."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
