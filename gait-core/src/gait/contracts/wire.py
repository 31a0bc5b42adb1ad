"""The JSON wire form of records: attrs classes to and from the reference's JSON, byte for byte.

Go decides which keys exist: a field tagged `omitempty` is absent when it holds its zero value
("", 0, false, an empty list or map, nil); every other field is always written (nil as null).
Fields declared with `go_field(omitempty=True)` follow the first rule, all others the second.
Times are `GoTime`, written in Go's RFC3339Nano form.

Writing is a plain walk over attrs fields, because every decision writes a trace and cattrs
costs more to import than the whole start-up budget. Reading goes through one cattrs converter
(built on first use) that rejects unknown keys and names every bad field.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, get_args, get_origin

import attrs

from gait.errors import InvalidInputError
from gait.timefmt import GoTime

if TYPE_CHECKING:
    import cattrs

T = TypeVar("T")
_OMITEMPTY = "gait_omitempty"


def go_field(*, omitempty: bool = False, default: Any = attrs.NOTHING, factory: Any = None) -> Any:
    """An attrs field with Go's JSON presence rule recorded in its metadata."""
    if factory is not None:
        return attrs.field(factory=factory, metadata={_OMITEMPTY: omitempty})
    return attrs.field(default=default, metadata={_OMITEMPTY: omitempty})


def _is_empty(value: Any) -> bool:
    if value is None or value is False:
        return True
    if isinstance(value, str | list | tuple | dict):
        return len(value) == 0
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0
    return False  # structs (GoTime included) are never empty to Go's encoder


_FIELDS: dict[type[Any], tuple[tuple[str, bool], ...]] = {}


def _fields_of(cls: type[Any]) -> tuple[tuple[str, bool], ...]:
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = tuple((f.name, bool(f.metadata.get(_OMITEMPTY))) for f in attrs.fields(cls))
        _FIELDS[cls] = fields
    return fields


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    # Exact-type checks first: most values are JSON already (a trace's relationship envelope
    # is a tree of dicts, lists and strings), and every decision writes a trace.
    kind = type(value)
    if kind in _JSON_SCALARS:
        return value
    if kind is dict:
        return {key: item if type(item) is str else _plain(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [item if type(item) is str else _plain(item) for item in value]
    if isinstance(value, GoTime):
        return value.format()
    if attrs.has(type(value)):
        return to_wire(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def to_wire(record: Any) -> dict[str, Any]:
    """The JSON object of a record, with Go's key presence."""
    out: dict[str, Any] = {}
    for name, omitempty in _fields_of(type(record)):
        value = getattr(record, name)
        if omitempty and _is_empty(value):
            continue
        out[name] = value if type(value) is str else _plain(value)
    return out


@functools.cache
def _reader() -> cattrs.Converter:
    import cattrs

    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(GoTime, lambda value, _: GoTime.parse(_exactly(value, str)))
    # cattrs would turn 5 into "5" and "5" into 5; a signed record's JSON types are part of it.
    for kind in (str, int, bool):
        converter.register_structure_hook(kind, _exactly)
    converter.register_structure_hook(float, lambda value, _: float(_exactly(value, float)))

    def tuple_hook(kind: Any) -> Any:
        item_kind = get_args(kind)[0]

        def structure(value: Any, _: Any) -> tuple[Any, ...]:
            return tuple(converter.structure(item, item_kind) for item in _exactly(value, list))

        return structure

    converter.register_structure_hook_factory(_is_tuple_type, tuple_hook)
    return converter


def _is_tuple_type(kind: Any) -> bool:
    origin: Any = get_origin(kind)
    return origin is tuple


def _exactly(value: Any, kind: type[Any]) -> Any:
    """`value` if its JSON type is `kind` (an integer counts as a number), else TypeError."""
    allowed: tuple[type[Any], ...] = (int, float) if kind is float else (kind,)
    if isinstance(value, bool) is not (kind is bool) or not isinstance(value, allowed):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def from_wire(data: Mapping[str, Any], cls: type[T]) -> T:
    """Structure a JSON object into a record; InvalidInputError names every bad field."""
    import cattrs

    try:
        return _reader().structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            message = "; ".join(cattrs.transform_error(exc))
        else:
            message = str(exc)
        raise InvalidInputError(f"invalid {cls.__name__}: {message}") from exc
