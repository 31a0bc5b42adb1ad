"""Strict typed decoding of a parsed policy document (Go struct semantics).

One decoder, driven by schemas: unknown keys are refused, YAML scalars are coerced the way
goccy/go-yaml fills Go fields, and keys of the reference language this implementation does not
evaluate are refused by name unless they hold Go's zero value. The match schema is derived
from the declarations of `gait.policy_model.Match` (see `MATCH_FIELDS`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from gait.gostrings import go_trim_space
from gait.policy_model import (
    MATCH_FIELDS,
    UNSUPPORTED_MATCH_KEYS,
    UNSUPPORTED_RULE_KEYS,
    PolicyError,
)

__all__ = ["decode_policy_document"]

_GO_INT_MIN: Final = -(2**63)
_GO_INT_MAX: Final = 2**63 - 1


def _go_format_float(value: float) -> str:
    """Go `fmt.Sprint(float64)` (%g, shortest digits): %e form when exp < -4 or exp >= 6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    from decimal import Decimal  # imported here: start-up budget (floats are rare in policies)

    sign, digits_tuple, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(str(d) for d in digits_tuple).rstrip("0") or "0"
    # Decimal exponent of the first digit.
    point = len(digits_tuple) + exponent
    exp = point - 1
    prefix = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        exp_sign = "+" if exp >= 0 else "-"
        return f"{prefix}{mantissa}e{exp_sign}{abs(exp):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{prefix}{digits}{'0' * (point - len(digits))}"
    return f"{prefix}{digits[:point]}.{digits[point:]}"


# --------------------------------------------------------------------------------------------
# Strict typed decoding (Go struct semantics)
# --------------------------------------------------------------------------------------------

_STR: Final = "str"
_INT: Final = "int"
_BOOL: Final = "bool"
_OPT_BOOL: Final = "*bool"
_STR_LIST: Final = "[]string"
_FLOAT64: Final = "float64"
_REFUSED: Final = "refused"

_ALIAS_KINDS: Final = {"str": _STR, "list": _STR_LIST}


def _match_schema() -> dict[str, Any]:
    """The `match` keys, from the field declarations (`MATCH_FIELDS`), and the refused ones."""
    schema: dict[str, Any] = {}
    for spec in MATCH_FIELDS:
        if spec.struct is not None:
            schema[spec.key] = {sub.key: _OPT_BOOL for sub in spec.fields}
            continue
        schema[spec.key] = _STR_LIST
        for alias, kind in spec.aliases:
            schema[alias] = _ALIAS_KINDS[kind]
    return {**schema, **dict.fromkeys(UNSUPPORTED_MATCH_KEYS, _REFUSED)}


_MATCH_SCHEMA: Final = _match_schema()
_RATE_LIMIT_SCHEMA: Final[dict[str, Any]] = {"requests": _INT, "window": _STR, "scope": _STR}
_DATAFLOW_SCHEMA: Final[dict[str, Any]] = {
    "enabled": _BOOL,
    "tainted_sources": _STR_LIST,
    "destination_kinds": _STR_LIST,
    "destination_values": _STR_LIST,
    "destination_operations": _STR_LIST,
    "action": _STR,
    "reason_code": _STR,
    "violation": _STR,
}
_ENDPOINT_SCHEMA: Final[dict[str, Any]] = {
    "enabled": _BOOL,
    "path_allowlist": _STR_LIST,
    "path_denylist": _STR_LIST,
    "domain_allowlist": _STR_LIST,
    "domain_denylist": _STR_LIST,
    "egress_classes": _STR_LIST,
    "action": _STR,
    "destructive_action": _STR,
    "reason_code": _STR,
    "violation": _STR,
}
_RULE_SCHEMA: Final[dict[str, Any]] = {
    "name": _STR,
    "priority": _INT,
    "effect": _STR,
    "action": _STR,
    "match": _MATCH_SCHEMA,
    "endpoint": _ENDPOINT_SCHEMA,
    "reason_codes": _STR_LIST,
    "violations": _STR_LIST,
    "min_approvals": _INT,
    "require_distinct_approvers": _BOOL,
    "rate_limit": _RATE_LIMIT_SCHEMA,
    "destructive_budget": _RATE_LIMIT_SCHEMA,
    "dataflow": _DATAFLOW_SCHEMA,
    **dict.fromkeys(UNSUPPORTED_RULE_KEYS, _REFUSED),
}
_FAIL_CLOSED_SCHEMA: Final[dict[str, Any]] = {
    "enabled": _BOOL,
    "risk_classes": _STR_LIST,
    "required_fields": _STR_LIST,
    "required_high_risk_fields": _STR_LIST,
}
_SCRIPTS_SCHEMA: Final[dict[str, Any]] = {
    "max_steps": _INT,
    "require_approval_above": _INT,
    "block_mixed_risk": _BOOL,
}
_MCP_TRUST_SCHEMA: Final[dict[str, Any]] = {
    "enabled": _BOOL,
    "snapshot": _STR,
    "action": _STR,
    "required_risk_classes": _STR_LIST,
    "min_score": _FLOAT64,
    "max_age": _STR,
    "publisher_allowlist": _STR_LIST,
    "require_registry": _BOOL,
}
_POLICY_SCHEMA: Final[dict[str, Any]] = {
    "schema_id": _STR,
    "schema_version": _STR,
    "default_verdict": _STR,
    "default_action": _STR,
    "scripts": _SCRIPTS_SCHEMA,
    "fail_closed": _FAIL_CLOSED_SCHEMA,
    "mcp_trust": _MCP_TRUST_SCHEMA,
    "rules": [_RULE_SCHEMA],
}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "sequence"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def _type_error(path: str, expected: str, value: Any) -> PolicyError:
    return PolicyError(
        f"parse policy yaml: cannot unmarshal {_type_name(value)} into {expected} field {path}"
    )


def _decode_str(value: Any, path: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_format_float(value)
    raise _type_error(path, "string", value)


def _decode_int(value: Any, path: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(path, "integer", value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise PolicyError(f"parse policy yaml: cannot unmarshal {value} into integer {path}")
        value = int(value)
    if not _GO_INT_MIN <= value <= _GO_INT_MAX:
        raise PolicyError(f"parse policy yaml: integer overflow in field {path}")
    return int(value)


def _decode(value: Any, spec: Any, path: str, rule_name: str | None) -> Any:
    if spec == _STR:
        return _decode_str(value, path)
    if spec == _INT:
        return _decode_int(value, path)
    if spec == _FLOAT64:
        if value is None:
            return 0.0
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(path, "float", value)
        try:
            return float(value)
        except OverflowError:
            raise PolicyError(f"parse policy yaml: float overflow in field {path}") from None
    if spec == _BOOL:
        if value is None:
            return False
        if not isinstance(value, bool):
            raise _type_error(path, "bool", value)
        return value
    if spec == _OPT_BOOL:
        if value is not None and not isinstance(value, bool):
            raise _type_error(path, "bool", value)
        return value
    if spec == _STR_LIST:
        if value is None:
            return []
        if not isinstance(value, list):
            raise _type_error(path, "list", value)
        return [_decode_str(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(spec, list):
        if value is None:
            return []
        if not isinstance(value, list):
            raise _type_error(path, "list", value)
        return [
            _decode_struct(item, spec[0], f"{path}[{index}]", _rule_name(item, index))
            for index, item in enumerate(value)
        ]
    return _decode_struct(value, spec, path, rule_name)


def _rule_name(item: Any, index: int) -> str:
    """The name by which errors inside `rules[index]` refer to that rule."""
    name = item.get("name") if isinstance(item, dict) else None
    if isinstance(name, str) and go_trim_space(name):
        return go_trim_space(name)
    if name is not None and not isinstance(name, dict | list):
        return _decode_str(name, "name")
    return f"rules[{index}]"


def _is_go_zero(value: Any) -> bool:
    """Whether a YAML value decodes to Go's zero value (`null`, false, 0, "", empty, or a map of
    zero values), which the reference treats like an absent key."""
    if isinstance(value, dict):
        return all(_is_go_zero(item) for item in value.values())
    return value is None or value is False or value in (0, "") or value == []


def _refuse(key: str, rule_name: str | None) -> PolicyError:
    if rule_name is None:
        return PolicyError(f'policy uses unsupported feature "{key}"')
    return PolicyError(f'policy uses unsupported feature "{key}" (rule "{rule_name}")')


def _decode_struct(
    value: Any, schema: Mapping[str, Any], path: str, rule_name: str | None
) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _type_error(path or "policy", "object", value)
    out: dict[str, Any] = {}
    for key, item in value.items():
        spec = schema.get(key) if isinstance(key, str) else None
        field_path = f"{path}.{key}" if path else str(key)
        if spec is None:
            raise PolicyError(f'parse policy yaml: unknown field "{key}" in {path or "policy"}')
        if spec == _REFUSED:
            # Go's zero value is the same as an absent key, and the reference's own `policy
            # fmt` writes every refused key that way. `max_delegation_depth: 0` is a real limit.
            if _is_go_zero(item) and key != "max_delegation_depth":
                continue
            raise _refuse(key, rule_name)
        out[key] = _decode(item, spec, field_path, rule_name)
    return out


def decode_policy_document(document: Any) -> dict[str, Any]:
    """The document as plain dicts holding only known keys, each of its Go type."""
    return _decode_struct(document, _POLICY_SCHEMA, "", None)
