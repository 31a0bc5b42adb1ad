"""One reading of every JSON document Gait takes in.

Go's `encoding/json`, which the reference reads with, keeps the last of two equal keys and
matches an object key to a struct field ignoring letter case; Python's `json` keeps the last
key and matches exactly; other executors keep the first, or fold case (PowerShell hashtables,
HTTP headers, Windows environments). A document with two such keys means different things to
different readers, so the gate could decide on one copy while the executor runs the other.
Every JSON document at the boundary (intents, tool calls, service request bodies, traces,
runpack records and manifests, tokens, snapshots, configs) is read here, and refused when:

- an object has a key twice, or two keys that differ only in letter case (compared as Go's
  `strings.EqualFold` compares them, see `fold`), at any depth;
- it holds `NaN`, `Infinity` or `-Infinity` (not JSON), or a number outside float64
  (`1e400`, which Python would read as infinity, or a 400-digit integer, which Go refuses).

Every refusal is `JSONReadError` (a ValueError); callers give it their category (invalid input
for inputs, a failed verification for an artifact under verify). `AmbiguousKeyError` tells the
duplicate and case cases apart.

Case variants are refused in every object, not only where a key could fold onto a declared
field: free-form objects (a call's `args`) go to executors the gate does not know, and some
of those fold case. docs/compatibility.md records the difference from the reference.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Final


class JSONReadError(ValueError):
    """A document with no single reading: not JSON, ambiguous keys, or an unusable number."""


class AmbiguousKeyError(JSONReadError):
    """An object with a key twice, or two keys that differ only in letter case."""


# Go's simple case folding (CaseFolding.txt status C and S, what `unicode.SimpleFold` orbits
# join) equates these, although Python's full folding of each is longer than one character
# (U+1E9E -> "ss"): each maps to the smallest code point of its orbit, which is kept as it is.
# They are the pairs of code points with the same multi-character folding; a test derives
# them again from Python's Unicode database.
SIMPLE_FOLDS: Final[dict[str, str]] = {
    "\u1e9e": "\u00df", "\u1f88": "\u1f80", "\u1f89": "\u1f81", "\u1f8a": "\u1f82",
    "\u1f8b": "\u1f83", "\u1f8c": "\u1f84", "\u1f8d": "\u1f85", "\u1f8e": "\u1f86",
    "\u1f8f": "\u1f87", "\u1f98": "\u1f90", "\u1f99": "\u1f91", "\u1f9a": "\u1f92",
    "\u1f9b": "\u1f93", "\u1f9c": "\u1f94", "\u1f9d": "\u1f95", "\u1f9e": "\u1f96",
    "\u1f9f": "\u1f97", "\u1fa8": "\u1fa0", "\u1fa9": "\u1fa1", "\u1faa": "\u1fa2",
    "\u1fab": "\u1fa3", "\u1fac": "\u1fa4", "\u1fad": "\u1fa5", "\u1fae": "\u1fa6",
    "\u1faf": "\u1fa7", "\u1fbc": "\u1fb3", "\u1fcc": "\u1fc3", "\u1fd3": "\u0390",
    "\u1fe3": "\u03b0", "\u1ffc": "\u1ff3", "\ufb06": "\ufb05",
}  # fmt: skip


def fold(key: str) -> str:
    """The key as Go's `strings.EqualFold` compares it: each character replaced by one of its
    simple case folding orbit (`unicode.SimpleFold`). A character whose full folding is one
    character folds to it (U+017F long s -> `s`, U+212A Kelvin -> `k`, final sigma -> sigma,
    U+2126 Ohm -> omega); one whose folding is longer is kept (Go does not equate U+00DF with
    `ss`, nor U+0130 with `i`), or replaced by its orbit's smallest (U+1E9E -> U+00DF, U+1FD3 ->
    U+0390, U+FB06 -> U+FB05, U+1F88 -> U+1F80). U+0131 dotless i folds to itself."""
    folded = key.casefold()
    if len(folded) == len(key):
        return folded
    return "".join(f if len(f := c.casefold()) == 1 else SIMPLE_FOLDS.get(c, c) for c in key)


def _ambiguous(pairs: list[tuple[str, Any]]) -> AmbiguousKeyError:
    seen: dict[str, str] = {}
    for key, _ in pairs:
        folded = fold(key)
        first = seen.get(folded)
        if first == key:
            return AmbiguousKeyError(f"duplicate key {json.dumps(key)}")
        if first is not None:
            return AmbiguousKeyError(
                f"keys {json.dumps(first)} and {json.dumps(key)} differ only in letter case"
            )
        seen[folded] = key
    return AmbiguousKeyError("duplicate key")  # not reached: the caller found a collision


def strict_object(
    pairs: list[tuple[str, Any]], _join: Callable[..., str] = "".join
) -> dict[str, Any]:
    """`object_pairs_hook`: the object as a dict, or AmbiguousKeyError.

    Called for every object of every document, so the common case is cheap: distinct keys
    without upper-case or non-ASCII letters cannot fold together, and only other objects have
    their keys case-folded one by one."""
    obj = dict(pairs)
    count = len(obj)
    if count != len(pairs):
        raise _ambiguous(pairs)
    if count > 1:
        keys = _join(obj)
        if (not keys.isascii() or keys != keys.lower()) and len(set(map(fold, obj))) != count:
            raise _ambiguous(pairs)
    return obj


def refuse_constant(name: str) -> Any:
    """`parse_constant`: NaN, Infinity and -Infinity are not JSON."""
    raise JSONReadError(f"{name} is not a JSON number")


def finite_float(text: str) -> float:
    """`parse_float`: a float64, or JSONReadError for a number out of its range (1e400)."""
    value = float(text)
    if not math.isfinite(value):
        raise JSONReadError(f"number {text} is out of range")
    return value


# float64's largest finite value has 309 digits; shorter integers always fit.
_SHORT_INT: Final = 309


def bounded_int(text: str) -> int:
    """`parse_int`: an integer, or JSONReadError for one beyond float64 (Go cannot read it)."""
    value = int(text)
    if len(text) >= _SHORT_INT:
        try:
            float(value)
        except OverflowError:
            raise JSONReadError(f"number {text[:20]}... is out of range") from None
    return value


def strict_decoder(
    *,
    parse_int: Callable[[str], Any] = bounded_int,
    parse_float: Callable[[str], Any] = finite_float,
    parse_constant: Callable[[str], Any] = refuse_constant,
) -> json.JSONDecoder:
    """A decoder with the strict object hook; number parsers may be replaced (Go's views of
    numbers), and must refuse what does not fit themselves."""
    return json.JSONDecoder(
        object_pairs_hook=strict_object,
        parse_int=parse_int,
        parse_float=parse_float,
        parse_constant=parse_constant,
    )


_DECODER: Final = strict_decoder()


def loads(data: bytes | bytearray | memoryview | str, decoder: json.JSONDecoder = _DECODER) -> Any:
    """Strict UTF-8 JSON text to a value; JSONReadError for anything with no single reading
    (invalid JSON or UTF-8, nesting deeper than the interpreter allows, ambiguous keys,
    unusable numbers)."""
    try:
        text = data if isinstance(data, str) else bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONReadError(f"invalid UTF-8: {exc.reason}") from None
    try:
        return decoder.decode(text)
    except JSONReadError:
        raise
    except json.JSONDecodeError as exc:
        raise JSONReadError(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise JSONReadError("invalid JSON: nested too deeply") from None
    except (ValueError, OverflowError) as exc:  # an integer over Python's digit limit
        raise JSONReadError(f"invalid JSON: {exc}") from None


def loads_object(data: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    """`loads` for a document that must be a JSON object."""
    value = loads(data)
    if type(value) is not dict:
        raise JSONReadError("not a JSON object")
    return value
