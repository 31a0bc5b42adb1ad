"""JSON bytes to a raw intent mapping, and that mapping decoded the way `json.Unmarshal` fills
the reference's Go structs (see `gait.intent` for the rules)."""

from __future__ import annotations

import functools
import json
import json.encoder
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from gait.intent_model import CONTEXT_OPTIONAL_STRINGS
from gait.intent_text import IntentDecodeError, fold_key
from gait.limits import MAX_INTENT_BYTES, MAX_JSON_DEPTH
from gait.strictjson import strict_decoder
from gait.timefmt import GoTime

# --------------------------------------------------------------------------------------------
# JSON bytes -> raw mapping
# --------------------------------------------------------------------------------------------


class _LiteralFloat(float):
    """A JSON number written with a fraction or exponent (Go will not decode it into an int)."""

    __slots__ = ()


def _number_out_of_range(text: str) -> IntentDecodeError:
    return IntentDecodeError(f"json: cannot unmarshal number {text} into Go value of type float64")


def _parse_json_int(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _number_out_of_range(text)
    return value


def _parse_json_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _number_out_of_range(text)
    return _LiteralFloat(value)


def _reject_json_constant(text: str) -> Any:
    raise IntentDecodeError(f"invalid character '{text[0]}' looking for beginning of value")


# One reading only: duplicate and case-variant keys are refused (gait.strictjson).
_json_decoder: Final = strict_decoder(
    parse_int=_parse_json_int,
    parse_float=_parse_json_float,
    parse_constant=_reject_json_constant,
)


def check_depth(value: Any, limit: int, what: str = "intent") -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise IntentDecodeError(f"{what} exceeds maximum JSON nesting depth ({limit})")
        children = item.values() if type(item) is dict else item
        for child in children:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))


def parse_intent_json(
    data: bytes, *, what: str = "intent", go_type: str = "gate.IntentRequest"
) -> dict[str, Any]:
    """Untrusted bytes to a raw intent mapping, or `IntentDecodeError`.

    Enforces `MAX_INTENT_BYTES`, strict UTF-8 and `MAX_JSON_DEPTH`; rejects NaN and Infinity,
    numbers outside float64, and duplicate or case-variant keys at any depth. Every number
    becomes a float, as in Go (`1` -> `1.0`). `what` and `go_type` name the document in
    messages (tool calls are read the same way).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise IntentDecodeError(f"{what} must be JSON bytes")
    if len(data) > MAX_INTENT_BYTES:
        raise IntentDecodeError(f"{what} exceeds maximum size ({MAX_INTENT_BYTES} bytes)")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntentDecodeError(f"{what} is not valid UTF-8: {exc.reason}") from None
    try:
        value = _json_decoder.decode(text)
    except IntentDecodeError:
        raise
    except json.JSONDecodeError as exc:
        raise IntentDecodeError(f"parse {what} json: {exc.msg} (offset {exc.pos})") from None
    except RecursionError:
        raise IntentDecodeError(
            f"{what} exceeds maximum JSON nesting depth ({MAX_JSON_DEPTH})"
        ) from None
    except (ValueError, OverflowError) as exc:
        raise IntentDecodeError(f"parse {what} json: {exc}") from None
    if type(value) is not dict:
        raise IntentDecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go value of type {go_type}"
        )
    check_depth(value, MAX_JSON_DEPTH, what)
    return value


def decode_json_prefix(text: str, *, what: str) -> tuple[Any, int]:
    """The first JSON value of `text` read as Go reads it into `any` (every number a float64,
    no NaN or Infinity, at most `MAX_JSON_DEPTH` deep) and the offset just after it, for a
    caller that rejects trailing data itself. Raises `IntentDecodeError`."""
    start = len(text) - len(text.lstrip(" \t\n\r"))
    try:
        value, end = _json_decoder.raw_decode(text, start)
    except IntentDecodeError:
        raise
    except json.JSONDecodeError as exc:
        raise IntentDecodeError(f"{exc.msg} (offset {exc.pos})") from None
    except RecursionError:
        raise IntentDecodeError(
            f"{what} exceeds maximum JSON nesting depth ({MAX_JSON_DEPTH})"
        ) from None
    except (ValueError, OverflowError) as exc:
        raise IntentDecodeError(str(exc)) from None
    if type(value) is dict or type(value) is list:
        check_depth(value, MAX_JSON_DEPTH, what)
    return value, end


# --------------------------------------------------------------------------------------------
# Decoding a raw mapping the way json.Unmarshal fills the Go structs
# --------------------------------------------------------------------------------------------

_STR: Final = "string"
_BOOL: Final = "bool"
_INT: Final = "int64"
_TIME: Final = "time.Time"
_MAP: Final = "map[string]interface {}"
_STRS: Final = "[]string"


class _Shape:
    """The JSON fields of one Go struct: name -> kind."""

    __slots__ = ("go_name", "kinds")

    def __init__(self, go_name: str, kinds: dict[str, Any]) -> None:
        self.go_name = go_name
        self.kinds = kinds


class _Ref:
    """A nested struct field: `struct` (value), `ptr` (pointer) or `list` (slice of structs)."""

    __slots__ = ("container", "shape")

    def __init__(self, container: str, shape: _Shape) -> None:
        self.container = container
        self.shape = shape


_TARGET_SHAPE: Final = _Shape(
    "IntentTarget",
    {
        "kind": _STR,
        "value": _STR,
        "operation": _STR,
        "sensitivity": _STR,
        "endpoint_class": _STR,
        "endpoint_domain": _STR,
        "destructive": _BOOL,
        "discovery_method": _STR,
        "read_only_hint": _BOOL,
        "destructive_hint": _BOOL,
        "idempotent_hint": _BOOL,
        "open_world_hint": _BOOL,
    },
)
_PROVENANCE_SHAPE: Final = _Shape(
    "IntentArgProvenance",
    {"arg_path": _STR, "source": _STR, "source_ref": _STR, "integrity_digest": _STR},
)
_STEP_SHAPE: Final = _Shape(
    "IntentScriptStep",
    {
        "tool_name": _STR,
        "args": _MAP,
        "targets": _Ref("list", _TARGET_SHAPE),
        "arg_provenance": _Ref("list", _PROVENANCE_SHAPE),
    },
)
_SCRIPT_SHAPE: Final = _Shape("IntentScript", {"steps": _Ref("list", _STEP_SHAPE)})
_SKILL_SHAPE: Final = _Shape(
    "SkillProvenance",
    {
        "skill_name": _STR,
        "skill_version": _STR,
        "source": _STR,
        "publisher": _STR,
        "digest": _STR,
        "signature_key_id": _STR,
    },
)
_LINK_SHAPE: Final = _Shape(
    "DelegationLink",
    {
        "delegator_identity": _STR,
        "delegate_identity": _STR,
        "scope_class": _STR,
        "token_ref": _STR,
        "issued_at": _TIME,
        "expires_at": _TIME,
    },
)
_DELEGATION_SHAPE: Final = _Shape(
    "IntentDelegation",
    {
        "requester_identity": _STR,
        "scope_class": _STR,
        "token_refs": _STRS,
        "chain": _Ref("list", _LINK_SHAPE),
        "issued_at": _TIME,
        "expires_at": _TIME,
    },
)
_AGENT_IDENTITY_SHAPE: Final = _Shape(
    "AgentIdentity",
    {
        "lifecycle_states": _STRS,
        "owner": _STR,
        "manifest_digest": _STR,
        "publisher": _STR,
        "source": _STR,
        "issued_at": _TIME,
        "approved_at": _TIME,
        "expires_at": _TIME,
        "revoked": _BOOL,
    },
)
_SANDBOX_SHAPE: Final = _Shape(
    "SandboxMetadata",
    {
        "network_mode": _STR,
        "writable_paths": _STRS,
        "read_only_roots": _STRS,
        "env_exposure_mode": _STR,
        "timeout_seconds": _INT,
        "filesystem_isolation": _STR,
        "user_mode": _STR,
        "evidence_ref": _STR,
        "evidence_digest": _STR,
    },
)
_CONTEXT_SHAPE: Final = _Shape(
    "IntentContext",
    {
        "identity": _STR,
        "workspace": _STR,
        "risk_class": _STR,
        "phase": _STR,
        **dict.fromkeys(CONTEXT_OPTIONAL_STRINGS, _STR),
        "credential_ttl_seconds": _INT,
        "credential_scopes": _STRS,
        "context_refs": _STRS,
        "auth_context": _MAP,
        "agent_identity": _Ref("ptr", _AGENT_IDENTITY_SHAPE),
        "sandbox": _Ref("ptr", _SANDBOX_SHAPE),
    },
)
_NODE_REF_SHAPE: Final = _Shape("RelationshipNodeRef", {"kind": _STR, "id": _STR})
_RELATIONSHIP_SHAPE: Final = _Shape(
    "RelationshipEnvelope",
    {
        "parent_ref": _Ref("ptr", _NODE_REF_SHAPE),
        "entity_refs": _Ref("list", _Shape("RelationshipRef", {"kind": _STR, "id": _STR})),
        "policy_ref": _Ref(
            "ptr",
            _Shape(
                "PolicyRef",
                {
                    "policy_id": _STR,
                    "policy_version": _STR,
                    "policy_digest": _STR,
                    "matched_rule_ids": _STRS,
                },
            ),
        ),
        "agent_chain": _Ref("list", _Shape("AgentLink", {"identity": _STR, "role": _STR})),
        "edges": _Ref(
            "list",
            _Shape(
                "RelationshipEdge",
                {
                    "kind": _STR,
                    "from": _Ref("struct", _NODE_REF_SHAPE),
                    "to": _Ref("struct", _NODE_REF_SHAPE),
                },
            ),
        ),
        "parent_record_id": _STR,
        "related_record_ids": _STRS,
        "related_entity_ids": _STRS,
        "agent_lineage": _Ref(
            "list",
            _Shape(
                "AgentLineage",
                {"agent_id": _STR, "delegated_by": _STR, "delegation_record_id": _STR},
            ),
        ),
    },
)
_REQUEST_SHAPE: Final = _Shape(
    "IntentRequest",
    {
        "schema_id": _STR,
        "schema_version": _STR,
        "created_at": _TIME,
        "producer_version": _STR,
        "tool_name": _STR,
        "args": _MAP,
        "args_digest": _STR,
        "intent_digest": _STR,
        "script_hash": _STR,
        "script": _Ref("ptr", _SCRIPT_SHAPE),
        "targets": _Ref("list", _TARGET_SHAPE),
        "arg_provenance": _Ref("list", _PROVENANCE_SHAPE),
        "skill_provenance": _Ref("ptr", _SKILL_SHAPE),
        "delegation": _Ref("ptr", _DELEGATION_SHAPE),
        "relationship": _Ref("ptr", _RELATIONSHIP_SHAPE),
        "context": _Ref("struct", _CONTEXT_SHAPE),
    },
)


def _json_kind(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _type_error(value: Any, shape: _Shape, path: str, name: str, go_type: str) -> IntentDecodeError:
    field = f"{path}.{name}" if path else name
    return IntentDecodeError(
        f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
        f"{shape.go_name}.{field} of type {go_type}"
    )


_INT64_LIMIT: Final = 2**63
_ZERO_MOMENT: Final = datetime(1, 1, 1, tzinfo=UTC)


def _decode_int(value: Any, shape: _Shape, path: str, name: str) -> int:
    kind = type(value)
    if kind is float:  # a JSON integer literal (parse_int=float) or a Python float
        if value.is_integer() and -_INT64_LIMIT <= value < _INT64_LIMIT:
            return int(value)
    elif kind is int and -_INT64_LIMIT <= value < _INT64_LIMIT:
        return int(value)
    raise _type_error(value, shape, path, name, _INT)


@functools.lru_cache(maxsize=1024)
def _parse_time(text: str) -> GoTime | None:
    # Go requires the upper-case "T" and "Z".
    if "t" in text or "z" in text:
        raise ValueError(text)
    parsed = GoTime.parse(text)
    utc = parsed.utc()
    if utc.moment == _ZERO_MOMENT and utc.nanos == 0:
        return None
    return parsed


def _decode_time(value: Any, shape: _Shape, path: str, name: str) -> GoTime | None:
    """RFC 3339 text as Go's `time.Time.UnmarshalJSON` reads it; `None` for the zero time."""
    if type(value) is not str:
        raise _type_error(value, shape, path, name, _TIME)
    try:
        return _parse_time(value)
    except (ValueError, OverflowError):
        raise IntentDecodeError(f'parsing time "{value}" as RFC3339: cannot parse') from None


def _decode_strings(value: Any, shape: _Shape, path: str, name: str, previous: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise _type_error(value, shape, path, name, _STRS)
    old = previous if isinstance(previous, list) else []
    out: list[str] = []
    for index, item in enumerate(value):
        if type(item) is str:
            out.append(item)
        elif item is None:  # null leaves the element as it was
            out.append(old[index] if index < len(old) else "")
        else:
            raise _type_error(item, shape, path, name, _STR)
    return out


def decode_struct(
    raw: Mapping[Any, Any], shape: _Shape, path: str, into: dict[str, Any] | None
) -> dict[str, Any]:
    """Decode `raw` into a new dict, or into the partly decoded struct `into` (Go merges)."""
    out: dict[str, Any] = {} if into is None else into
    kinds = shape.kinds
    for key, value in raw.items():
        kind = kinds.get(key)
        name = key
        if kind is None:
            if type(key) is not str:
                raise IntentDecodeError(f"json: object key {key!r} is not a string")
            name = fold_key(key)
            kind = kinds.get(name)
            if kind is None:
                continue
        if kind is _STR:
            if type(value) is str:
                out[name] = value
            elif value is not None:
                raise _type_error(value, shape, path, name, _STR)
        elif type(kind) is _Ref:
            if value is None:
                if kind.container != "struct":
                    out[name] = None
                continue
            child_path = f"{path}.{name}" if path else name
            if kind.container == "list":
                out[name] = _decode_struct_list(value, kind.shape, child_path, out.get(name))
            elif type(value) is dict or isinstance(value, Mapping):
                previous = out.get(name)
                out[name] = decode_struct(
                    value, kind.shape, child_path, previous if type(previous) is dict else None
                )
            else:
                raise _type_error(value, shape, path, name, kind.shape.go_name)
        elif value is None:
            if kind is _MAP or kind is _STRS:
                out[name] = None
        elif kind is _BOOL:
            if type(value) is not bool:
                raise _type_error(value, shape, path, name, _BOOL)
            out[name] = value
        elif kind is _MAP:
            if type(value) is not dict and not isinstance(value, Mapping):
                raise _type_error(value, shape, path, name, _MAP)
            previous = out.get(name)
            if type(previous) is dict:  # Go decodes into the existing map
                previous.update(value)
            else:
                out[name] = dict(value)
        elif kind is _STRS:
            out[name] = _decode_strings(value, shape, path, name, out.get(name))
        elif kind is _INT:
            out[name] = _decode_int(value, shape, path, name)
        else:  # _TIME
            out[name] = _decode_time(value, shape, path, name)
    return out


def _decode_struct_list(
    value: Any, shape: _Shape, path: str, previous: Any
) -> list[dict[str, Any]]:
    if type(value) is not list and not isinstance(value, tuple):
        raise IntentDecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
            f"{shape.go_name}.{path} of type []{shape.go_name}"
        )
    old = previous if isinstance(previous, list) else ()
    out: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        # Go decodes into the existing element, so fields of an earlier value survive.
        base = old[index] if index < len(old) else None
        if type(item) is dict or isinstance(item, Mapping):
            out.append(decode_struct(item, shape, path, base))
        elif item is None:
            out.append(base if base is not None else {})
        else:
            raise IntentDecodeError(
                f"json: cannot unmarshal {_json_kind(item)} into Go struct field "
                f"{shape.go_name}.{path} of type {shape.go_name}"
            )
    return out


def decode_request(raw: Any) -> dict[str, Any]:
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise IntentDecodeError(
            f"json: cannot unmarshal {_json_kind(raw)} into Go value of type gate.IntentRequest"
        )
    return decode_struct(raw, _REQUEST_SHAPE, "", None)
