"""Policy YAML read with goccy/go-yaml semantics (the reference's YAML library).

`parse_policy_document(data)`: YAML -> plain Python values, rather than PyYAML's YAML 1.1
reading (`yes`/`no`/`on`/`off` stay strings, no sexagesimal numbers, no implicit timestamps),
duplicate keys refused at every level, size, nesting and alias-expansion limits, strict UTF-8.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any, Final

from gait import limits
from gait.policy_model import MAX_POLICY_DEPTH, PolicyError

__all__ = ["parse_policy_document"]

# Scalars and collections a document may expand to, aliases included (billion-laughs guard).
_MAX_EXPANDED_NODES: Final = 1_000_000

# --------------------------------------------------------------------------------------------
# YAML with goccy/go-yaml semantics
# --------------------------------------------------------------------------------------------

_TAG_PREFIX: Final = "tag:yaml.org,2002:"
_NULL_WORDS: Final = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL_WORDS: Final = {
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
}
_INF_NAN_WORDS: Final = {
    ".inf": math.inf,
    ".Inf": math.inf,
    ".INF": math.inf,
    "+.inf": math.inf,
    "+.Inf": math.inf,
    "+.INF": math.inf,
    "-.inf": -math.inf,
    "-.Inf": -math.inf,
    "-.INF": -math.inf,
    ".nan": math.nan,
    ".NaN": math.nan,
    ".NAN": math.nan,
}
_DECIMAL_INT: Final = re.compile(r"[-+]?[0-9]+\Z")
_LEGACY_OCTAL_INT: Final = re.compile(r"([-+]?)0([0-7]+)\Z")
_PREFIXED_INT: Final = re.compile(r"([-+]?)0(?:([xX][0-9a-fA-F]+)|([oO][0-7]+)|([bB][01]+))\Z")
_FLOAT: Final = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
# Compiled (by `re`) on first use: only double-quoted scalars can hold lone surrogates.
_SURROGATES: Final = "[\ud800-\udfff]"


class _Alias:
    """An anchored value with its expansion size and depth, for alias accounting."""

    __slots__ = ("height", "size", "value")

    def __init__(self, value: Any, size: int, height: int) -> None:
        self.value = value
        self.size = size
        self.height = height


def _resolve_plain_scalar(text: str) -> Any:
    """The value of an untagged plain scalar, as goccy/go-yaml (YAML 1.2 core-like) reads it."""
    if text in _NULL_WORDS:
        return None
    boolean = _BOOL_WORDS.get(text)
    if boolean is not None:
        return boolean
    special = _INF_NAN_WORDS.get(text)
    if special is not None:
        return special
    first = text[0]
    if not (first.isdigit() or first in "+-."):
        return text
    if _DECIMAL_INT.match(text):
        legacy = _LEGACY_OCTAL_INT.match(text)
        if legacy:
            number = int(legacy.group(2), 8)
            return -number if legacy.group(1) == "-" else number
        if len(text.lstrip("+-")) > 1 and text.lstrip("+-")[0] == "0":
            # A leading zero with 8 or 9: not a valid (legacy octal) number, keep the text.
            return text
        return int(text)
    prefixed = _PREFIXED_INT.match(text)
    if prefixed:
        body = text.lstrip("+-")
        base = {"x": 16, "o": 8, "b": 2}[body[1].lower()]
        number = int(body[2:], base)
        return -number if prefixed.group(1) == "-" else number
    if _FLOAT.match(text):
        return float(text)
    return text


def _resolve_tagged_scalar(tag: str, text: str, line: int) -> Any:
    short = tag.removeprefix(_TAG_PREFIX)
    if tag == "!" or short == "str":
        return text
    if short == "null":
        return None
    if short == "bool":
        value = _BOOL_WORDS.get(text)
        if value is None:
            raise PolicyError(f"parse policy yaml: line {line}: invalid !!bool value {text!r}")
        return value
    if short in ("int", "float"):
        value = _resolve_plain_scalar(text)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PolicyError(f"parse policy yaml: line {line}: invalid !!{short} value {text!r}")
        return float(value) if short == "float" else value
    raise PolicyError(f"parse policy yaml: line {line}: unsupported YAML tag {tag!r}")


_MERGE: Final[Any] = object()  # the pending "key" of a `<<` merge entry


class _Frame:
    __slots__ = ("anchor", "height", "is_map", "items", "keys", "merges", "pending", "start")

    def __init__(self, is_map: bool, anchor: str | None, start: int) -> None:
        self.is_map = is_map
        self.anchor = anchor
        self.start = start
        self.height = 1
        self.items: list[Any] = []
        self.keys: dict[str, int] = {}
        self.merges: list[dict[str, Any]] = []
        self.pending: Any = None  # None while a mapping waits for a key


def _finish_frame(frame: _Frame) -> Any:
    if not frame.is_map:
        return frame.items
    built: dict[str, Any] = dict(frame.items)
    # Explicit keys win over merged ones; among merged mappings the first one wins.
    for source in frame.merges:
        for key, item in source.items():
            if key not in built:
                built[key] = item
    return built


def _build_documents(text: str) -> list[Any]:
    """Parse YAML events into plain values: dict (str keys), list, str, int, float, bool, None.

    Iterative (no recursion, whatever the nesting), with duplicate-key detection, merge keys,
    and limits on nesting depth and on the number of nodes after alias expansion.
    """
    documents: list[Any] = []
    anchors: dict[str, _Alias] = {}
    stack: list[_Frame] = []
    expanded = 0
    result: Any = None
    have_result = False

    def count(nodes: int) -> None:
        nonlocal expanded
        expanded += nodes
        if expanded > _MAX_EXPANDED_NODES:
            raise PolicyError("parse policy yaml: document expands to too many nodes")

    def put(value: Any, height: int, line: int) -> None:
        nonlocal result, have_result
        if len(stack) + height > MAX_POLICY_DEPTH:
            raise PolicyError(f"parse policy yaml: nesting exceeds {MAX_POLICY_DEPTH} levels")
        if not stack:
            result, have_result = value, True
            return
        frame = stack[-1]
        frame.height = max(frame.height, height + 1)
        if not frame.is_map:
            frame.items.append(value)
            return
        key, frame.pending = frame.pending, None
        if key is _MERGE:
            for source in value if isinstance(value, list) else [value]:
                if not isinstance(source, dict):
                    raise PolicyError(
                        f"parse policy yaml: line {line + 1}: a merge key needs a mapping"
                    )
                frame.merges.append(source)
            return
        frame.items.append((key, value))

    def put_key(key: str, line: int, *, merge: bool) -> None:
        frame = stack[-1]
        if merge:
            frame.pending = _MERGE
            return
        if key in frame.keys:
            raise PolicyError(
                f'parse policy yaml: line {line + 1}: mapping key "{key}" already defined'
                f" at line {frame.keys[key] + 1}"
            )
        frame.keys[key] = line
        frame.pending = key

    def at_key() -> bool:
        return bool(stack) and stack[-1].is_map and stack[-1].pending is None

    import yaml  # see parse_policy_document

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    events: Iterable[Any] = yaml.parse(text, Loader=loader)
    for event in events:
        kind = type(event)
        line = event.start_mark.line if event.start_mark is not None else 0
        if kind is yaml.ScalarEvent:
            count(1)
            plain = not event.style and (event.tag is None or event.implicit[0])
            if at_key():
                # Keys keep their source text (goccy matches struct fields on the token value).
                put_key(event.value, line, merge=plain and event.value == "<<")
                if event.anchor is not None:
                    anchors[event.anchor] = _Alias(event.value, 1, 0)
                continue
            if event.tag is not None and not plain and event.tag != "!":
                value = _resolve_tagged_scalar(event.tag, event.value, line + 1)
            elif not plain or event.tag == "!":
                value = event.value
                if event.style == '"' and re.search(_SURROGATES, value):
                    value = re.sub(_SURROGATES, "\ufffd", value)
            else:
                value = _resolve_plain_scalar(event.value)
            if event.anchor is not None:
                anchors[event.anchor] = _Alias(value, 1, 0)
            put(value, 0, line)
        elif kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
            if at_key():
                raise PolicyError(
                    f"parse policy yaml: line {line + 1}: unsupported complex mapping key"
                )
            if event.tag is not None and event.tag not in (
                "!",
                _TAG_PREFIX + "seq",
                _TAG_PREFIX + "map",
            ):
                raise PolicyError(
                    f"parse policy yaml: line {line + 1}: unsupported YAML tag {event.tag!r}"
                )
            if len(stack) >= MAX_POLICY_DEPTH:
                raise PolicyError(f"parse policy yaml: nesting exceeds {MAX_POLICY_DEPTH} levels")
            count(1)
            stack.append(_Frame(kind is yaml.MappingStartEvent, event.anchor, expanded - 1))
        elif kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
            frame = stack.pop()
            value = _finish_frame(frame)
            if frame.anchor is not None:
                anchors[frame.anchor] = _Alias(value, expanded - frame.start, frame.height)
            put(value, frame.height, line)
        elif kind is yaml.AliasEvent:
            alias = anchors.get(event.anchor)
            if alias is None:
                raise PolicyError(
                    f"parse policy yaml: line {line + 1}: unknown anchor {event.anchor!r}"
                )
            if at_key():
                if not isinstance(alias.value, str):
                    raise PolicyError(
                        f"parse policy yaml: line {line + 1}: unsupported complex mapping key"
                    )
                put_key(alias.value, line, merge=False)
                continue
            count(alias.size)
            put(alias.value, alias.height, line)
        elif kind is yaml.DocumentEndEvent:
            documents.append(result if have_result else None)
            result, have_result = None, False
            anchors.clear()
    return documents


def parse_policy_document(data: bytes | str) -> Any:
    """YAML text → its one document as plain Python values (None when empty).

    A file with more than one document (`---` separators) is refused: the reference takes the
    first non-null one, so a reader that takes another would enforce a different policy."""
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise PolicyError("parse policy yaml: policy text is not valid UTF-8") from exc
    else:
        raw = bytes(data)
    if len(raw) > limits.MAX_POLICY_BYTES:
        raise PolicyError(f"policy exceeds {limits.MAX_POLICY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"parse policy yaml: invalid UTF-8 at byte {exc.start}") from exc
    text = text.removeprefix("\ufeff")
    # PyYAML is imported on the first parse, not with this module: a hook process whose policy
    # comes from the compiled-policy cache (gait.policy_cache) never parses YAML.
    import yaml

    try:
        documents = _build_documents(text)
    except PolicyError:
        raise
    except yaml.YAMLError as exc:
        raise PolicyError(f"parse policy yaml: {_one_line(str(exc))}") from exc
    except (RecursionError, MemoryError, ValueError, TypeError, OverflowError) as exc:
        raise PolicyError(f"parse policy yaml: {type(exc).__name__}") from exc
    if len(documents) > 1:
        raise PolicyError(
            f"parse policy yaml: {len(documents)} YAML documents; a policy file holds exactly one"
        )
    return documents[0] if documents else None


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())
