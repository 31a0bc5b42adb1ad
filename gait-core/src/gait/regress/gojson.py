"""Go's `encoding/json` where regress files depend on it: how the reference writes them
(`json.MarshalIndent`) and how it reads them (`json.Unmarshal` into a struct).

Writing: 2-space indentation, a trailing newline, UTF-8, and Go's HTML-safe escaping of `<`, `>`,
`&`, U+2028 and U+2029 (a lone surrogate becomes U+FFFD, as Go replaces invalid UTF-8).

Reading: unknown keys are ignored, a key matches a field exactly or else case-insensitively,
`null` leaves a field at its zero value (and resets a list), and a value of the wrong JSON type
is an error that names the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from gait.gostrings import go_json_text

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def marshal_indent(value: Any) -> bytes:
    """`json.MarshalIndent(value, "", "  ")` plus the newline the reference appends."""
    text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
    return (go_json_text(text) + "\n").encode("utf-8")


@attrs.frozen
class ListOf:
    """A Go slice field; `go_type` names it in error messages."""

    item: Kind
    go_type: str


@attrs.frozen
class Struct:
    """A Go struct: JSON key → field kind."""

    go_type: str
    fields: Mapping[str, Kind]


Kind = type[str] | type[int] | type[bool] | ListOf | Struct

_GO_TYPE_OF = {str: "string", int: "int", bool: "bool"}


class GoDecodeError(ValueError):
    """The document does not decode into the struct; the message reads like Go's."""


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "number"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__  # only reachable from YAML (dates, for example)


def _kind_name(kind: Kind) -> str:
    if isinstance(kind, ListOf | Struct):
        return kind.go_type
    return _GO_TYPE_OF[kind]


def _type_error(value: Any, kind: Kind, where: str) -> GoDecodeError:
    target = f"Go struct field {where}" if where else "Go value"
    return GoDecodeError(
        f"json: cannot unmarshal {_json_type(value)} into {target} of type {_kind_name(kind)}"
    )


def _decode(value: Any, kind: Kind, where: str) -> Any:
    if isinstance(kind, Struct):
        return decode_struct(value, kind, where=where)
    if isinstance(kind, ListOf):
        if not isinstance(value, list):
            raise _type_error(value, kind, where)
        # A null element is the element type's zero value.
        return [
            _zero(kind.item) if item is None else _decode(item, kind.item, where) for item in value
        ]
    if kind is bool:
        if not isinstance(value, bool):
            raise _type_error(value, kind, where)
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(value, kind, where)
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise GoDecodeError(
                f"json: cannot unmarshal number {value} into Go struct field {where} of type int"
            )
        return value
    if not isinstance(value, str):
        raise _type_error(value, kind, where)
    return value


def _zero(kind: Kind) -> Any:
    if isinstance(kind, Struct):
        return decode_struct(None, kind)
    if isinstance(kind, ListOf):
        return []
    return kind()


def decode_struct(value: Any, struct: Struct, *, where: str = "") -> dict[str, Any]:
    """The fields of `struct` decoded from `value`, every field present (zero when absent)."""
    out = {name: _zero(kind) for name, kind in struct.fields.items()}
    if value is None:
        return out
    if not isinstance(value, dict):
        raise _type_error(value, struct, where)
    by_folded_name = {name.casefold(): name for name in struct.fields}
    prefix = where or struct.go_type.rpartition(".")[2]
    for key, item in value.items():
        name = key if key in struct.fields else by_folded_name.get(str(key).casefold())
        if name is None:
            continue
        kind = struct.fields[name]
        if item is None:
            if isinstance(kind, ListOf):
                out[name] = []
            continue
        out[name] = _decode(item, kind, f"{prefix}.{key}")
    return out
