"""The JSON wire converter: attrs records to and from the reference's JSON, byte for byte.

Go decides which keys exist: a field tagged `omitempty` is absent when it holds its zero value
("", 0, false, an empty list or map, nil); every other field is always written (nil as null).
Fields declared with `go_field(omitempty=True)` follow the first rule, all others the second.
Times are `GoTime`, written in Go's RFC3339Nano form. Unknown keys are rejected on input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs

from gait.errors import InvalidInputError
from gait.timefmt import GoTime

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


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_unstructure_hook(GoTime, GoTime.format)
    converter.register_structure_hook(GoTime, lambda value, _: GoTime.parse(value))

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
        fields = [(f.name, bool(f.metadata.get(_OMITEMPTY))) for f in attrs.fields(cls)]

        def unstructure(obj: Any) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, omitempty in fields:
                value = getattr(obj, name)
                if omitempty and _is_empty(value):
                    continue
                out[name] = converter.unstructure(value)
            return out

        return unstructure

    converter.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return converter


wire = _make_converter()


def to_wire(record: Any) -> dict[str, Any]:
    """The JSON object of a record, with Go's key presence."""
    result: dict[str, Any] = wire.unstructure(record)
    return result


def from_wire(data: Mapping[str, Any], cls: type[T]) -> T:
    """Structure a JSON object into a record; InvalidInputError names every bad field."""
    try:
        return wire.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            message = "; ".join(cattrs.transform_error(exc))
        else:
            message = str(exc)
        raise InvalidInputError(f"invalid {cls.__name__}: {message}") from exc
