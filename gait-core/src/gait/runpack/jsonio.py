"""JSON for runpacks: Go's number rules, and records read with exact JSON types.

Go decodes every number inside `args`, `result` and other free-form objects as a float64, so an
integer beyond +-(2**53 - 1) loses precision and is written back in ES6 float form. Parsing such
integers as floats here gives the same canonical bytes, hence the same digests.

Records are read strictly: the reference's JSON Schemas forbid unknown keys, every key the
reference always writes must be present, and a value of the wrong JSON type (a number where a
string belongs) is an error rather than a conversion, because digests are recomputed from what
was read.
"""

from __future__ import annotations

import functools
import math
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs
import cattrs

from gait.contracts.wire import to_wire
from gait.strictjson import JSONReadError, loads, strict_decoder
from gait.timefmt import ZERO_TIME_TEXT, GoTime

T = TypeVar("T")
_MAX_SAFE_INT = 2**53 - 1


class RecordFormatError(ValueError):
    """A record that is not valid JSON or does not match its contract; the caller categorizes it."""


def _go_int(text: str) -> int | float:
    value = int(text)
    return value if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT else float(value)


def _go_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise RecordFormatError(f"number {text} is out of range")
    return value


def _reject_constant(name: str) -> Any:
    raise RecordFormatError(f"{name} is not valid JSON")


_DECODER = strict_decoder(parse_int=_go_int, parse_float=_go_float, parse_constant=_reject_constant)


def parse_json(data: bytes | str) -> Any:
    """Parse JSON text as Go does for free-form values; RecordFormatError when it is not JSON,
    or has more than one reading (duplicate or case-variant keys, see gait.strictjson)."""
    try:
        return loads(data, _DECODER)
    except (JSONReadError, RecordFormatError) as exc:
        message = str(exc)
        if not message.startswith("invalid JSON"):
            message = f"invalid JSON: {message}"
        raise RecordFormatError(message) from exc


def go_json_value(value: Any) -> Any:
    """A Python JSON value with Go's float64 view of large integers (for values not parsed here)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return value if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT else float(value)
    if isinstance(value, Mapping):
        return {key: go_json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [go_json_value(item) for item in value]
    return value


def _exact_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _exact_int(value: Any, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _go_time(value: Any, _: type) -> GoTime:
    return GoTime.parse(_exact_str(value, str))


@functools.cache
def _converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(str, _exact_str)
    converter.register_structure_hook(int, _exact_int)
    converter.register_structure_hook(GoTime, _go_time)
    return converter


def read_record(data: Any, cls: type[T], *, what: str) -> T:
    """Structure a parsed JSON object as the record `cls`, strictly (see the module docstring)."""
    if not isinstance(data, Mapping):
        raise RecordFormatError(f"{what} must be a JSON object")
    try:
        record = _converter().structure(data, cls)
    except cattrs.BaseValidationError as exc:
        raise RecordFormatError(f"{what}: " + "; ".join(cattrs.transform_error(exc))) from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise RecordFormatError(f"{what}: {exc}") from exc
    # Fields with defaults filled in for absent keys: the reference always writes these keys.
    absent = sorted(set(to_wire(record)) - set(data))
    if absent:
        raise RecordFormatError(f"{what}: missing required field(s) {', '.join(absent)}")
    return record


def _record_items(field_type: Any) -> type[Any] | None:
    """The record class of a `tuple[Record, ...]` (or optional) field, if that is its type."""
    for candidate in (field_type, *typing.get_args(field_type)):
        if typing.get_origin(candidate) is tuple:
            item = typing.get_args(candidate)[0]
            return item if attrs.has(item) else None
    return None


def _zero_filled(data: Mapping[str, Any], cls: type[Any]) -> dict[str, Any]:
    """`data` as Go decodes it into a struct: null and absent keys become zero values."""
    filled = {key: value for key, value in data.items() if value is not None}
    for field in attrs.fields(attrs.resolve_types(cls)):
        value = filled.get(field.name)
        item_cls = _record_items(field.type)
        if field.type is GoTime:
            filled.setdefault(field.name, ZERO_TIME_TEXT)
        elif attrs.has(field.type) and (value is None or isinstance(value, Mapping)):
            filled[field.name] = _zero_filled(value or {}, field.type)
        elif item_cls is not None and isinstance(value, list):
            filled[field.name] = [
                _zero_filled(item, item_cls) if isinstance(item, Mapping) else item
                for item in value
            ]
        elif value is None and field.default is attrs.NOTHING:
            filled[field.name] = ""
    return filled


def structure_input(data: Any, cls: type[T], *, what: str) -> T:
    """Structure user input as the record `cls`: absent or null fields take Go's zero value
    (the recorder fills in defaults for them), unknown keys and wrong types are refused."""
    if not isinstance(data, Mapping):
        raise RecordFormatError(f"{what} must be a JSON object")
    try:
        return _converter().structure(_zero_filled(data, cls), cls)
    except cattrs.BaseValidationError as exc:
        raise RecordFormatError(f"{what}: " + "; ".join(cattrs.transform_error(exc))) from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise RecordFormatError(f"{what}: {exc}") from exc


def parse_record(data: bytes, cls: type[T], *, what: str) -> T:
    """`read_record` over JSON text."""
    try:
        value = parse_json(data)
    except RecordFormatError as exc:
        raise RecordFormatError(f"{what}: {exc}") from exc
    return read_record(value, cls, what=what)


def read_jsonl(data: bytes, cls: type[T], *, what: str, max_line_bytes: int) -> list[T]:
    """One record per line; blank lines are skipped, as the reference's scanner does."""
    records = []
    for number, line in enumerate(data.split(b"\n"), 1):
        if len(line) > max_line_bytes:
            raise RecordFormatError(f"{what} line {number} exceeds {max_line_bytes} bytes")
        stripped = line.strip()
        if stripped:
            records.append(parse_record(stripped, cls, what=f"{what} line {number}"))
    return records
