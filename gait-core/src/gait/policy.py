"""Gate policies: strict YAML loading, validation, normalization, digest and a compiled form.

`load_policy(data)` is the usual entry point: YAML bytes in, a `CompiledPolicy` out (or a
`PolicyError`, which is invalid input, CLI exit 6). The steps are public for the CLI's
`gait policy validate|fmt` and for tests:

- `parse_policy_document(data)`: YAML → plain Python values, with the semantics of Go's
  goccy/go-yaml rather than PyYAML's YAML 1.1 ones (`yes`/`no`/`on`/`off` stay strings, no
  sexagesimal numbers, no implicit timestamps), duplicate keys refused at every level, size,
  nesting and alias-expansion limits, strict UTF-8.
- `policy_from_document(doc)`: strict typed decoding (unknown keys refused, Go type coercions)
  plus validation and normalization (defaults, lowercasing, aliases, dedupe/sort, rules sorted by
  priority then name) into a frozen `Policy`.
- `Policy.digest`: the reference `PolicyDigest` (PascalCase payload, JCS, SHA-256).
- `compile_policy(policy)`: match criteria turned into set tests, and each rule indexed under
  its most selective criterion (tool name first, then identity, target value, workspace prefix,
  ..., tool annotation hints last), so a decision walks only the rules whose indexed criterion
  the intent meets, in (priority, name) order. Rules with no criterion at all are checked for
  every intent.

Features of the reference policy language that this implementation does not evaluate are
refused with a `PolicyError` naming them, never silently ignored (see `UNSUPPORTED_RULE_KEYS`).
"""

from __future__ import annotations

import functools
import heapq
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from gait import canonical, limits
from gait.errors import InvalidInputError
from gait.gostrings import go_lower, go_trim_lower, go_trim_space
from gait.vocabulary import DISCOVERY_METHODS, ENDPOINT_CLASSES

__all__ = [
    "ALLOWED_REQUIRED_FIELDS",
    "ALLOWED_REQUIRED_HIGH_RISK_FIELDS",
    "INDEX_DIMENSIONS",
    "MAX_POLICY_DEPTH",
    "POLICY_SCHEMA_ID",
    "POLICY_SCHEMA_VERSION",
    "UNSUPPORTED_MATCH_KEYS",
    "UNSUPPORTED_RULE_KEYS",
    "VERDICTS",
    "CompiledPolicy",
    "CompiledRule",
    "Dataflow",
    "Endpoint",
    "FailClosed",
    "MCPTrust",
    "Match",
    "Policy",
    "PolicyError",
    "RateLimit",
    "Rule",
    "Scripts",
    "ToolAnnotations",
    "compile_policy",
    "load_policy",
    "load_policy_file",
    "parse_policy",
    "parse_policy_document",
    "policy_digest",
    "policy_from_document",
    "sanitize_rule_name",
]

POLICY_SCHEMA_ID: Final = "gait.gate.policy"
POLICY_SCHEMA_VERSION: Final = "1.0.0"
DEFAULT_VERDICT: Final = "require_approval"
VERDICTS: Final = frozenset({"allow", "block", "dry_run", "require_approval"})
_CONSTRAINT_ACTIONS: Final = frozenset({"block", "require_approval"})
ALLOWED_REQUIRED_FIELDS: Final = frozenset(
    {"targets", "arg_provenance", "endpoint_class", "delegation", "context_evidence"}
)
ALLOWED_REQUIRED_HIGH_RISK_FIELDS: Final = frozenset(
    {
        "agent_id",
        "agent_identity",
        "run_id",
        "workflow_id",
        "repo",
        "environment",
        "credential_ref",
        "credential_source",
        "credential_access_type",
        "credential_issuer",
        "credential_ttl_seconds",
        "approval_ref",
        "wrkr_inventory_ref",
        "agent_action_bom_ref",
    }
)
_RATE_LIMIT_WINDOWS: Final = frozenset({"minute", "hour"})
_RATE_LIMIT_SCOPES: Final = frozenset({"tool", "identity", "tool_identity"})
_DEFAULT_TAINTED_SOURCES: Final = ("external", "tool_output")
_GO_INT_MIN: Final = -(2**63)
_GO_INT_MAX: Final = 2**63 - 1

# Nesting allowed in a policy document; a real policy needs 5 levels.
MAX_POLICY_DEPTH: Final = limits.MAX_JSON_DEPTH
# Scalars and collections a document may expand to, aliases included (billion-laughs guard).
_MAX_EXPANDED_NODES: Final = 1_000_000

# Keys of the reference language that this implementation refuses instead of evaluating.
UNSUPPORTED_MATCH_KEYS: Final = frozenset(
    {
        "require_delegation",
        "allowed_delegator_identities",
        "allowed_delegate_identities",
        "delegation_scopes",
        "max_delegation_depth",
        "context_tool_names",
        "context_data_classes",
        "context_endpoint_classes",
        "context_autonomy_levels",
    }
)
UNSUPPORTED_RULE_KEYS: Final = frozenset(
    {
        # agent identity
        "require_declared_agent",
        "allowed_agent_ids",
        "denied_agent_ids",
        "required_agent_manifest_digest",
        "allowed_agent_manifest_publishers",
        "allowed_agent_manifest_sources",
        "required_agent_lifecycle_states",
        "require_agent_owner",
        "require_unexpired_agent",
        # credential posture
        "block_standing_credentials",
        "allowed_credential_sources",
        "allowed_credential_issuers",
        "allowed_credential_access_types",
        "max_credential_ttl_seconds",
        "require_jit_credential",
        # context evidence
        "require_context_evidence",
        "required_context_evidence_mode",
        "max_context_age_seconds",
        # credential broker
        "require_broker_credential",
        "broker_reference",
        "broker_scopes",
        # time and sandbox posture
        "freeze_window",
        "sandbox",
    }
)

_LEGACY_FIELD_ORDER: Final = (
    "version",
    "name",
    "boundaries",
    "defaults",
    "trust_sources",
    "unknown_server",
)
_LEGACY_FIELD_DETAILS: Final = {
    "version": "version->schema_id|schema_version"
    " (set schema_id=gait.gate.policy and schema_version=1.0.0)",
    "name": "name->remove the top-level policy name; rule names remain under rules[].name"
    " when needed",
    "boundaries": "boundaries->rules|mcp_trust",
    "defaults": "defaults->default_verdict|fail_closed",
    "trust_sources": "trust_sources->mcp_trust.snapshot"
    " (render external trust data to a local snapshot before evaluation)",
    "unknown_server": "unknown_server->mcp_trust.action"
    " (enforce unknown servers through local snapshot coverage and a fail-closed action)",
}


class PolicyError(InvalidInputError):
    """The policy cannot be parsed, is invalid, or uses a feature this implementation refuses."""


# --------------------------------------------------------------------------------------------
# Rule names in reason codes
# --------------------------------------------------------------------------------------------

_GO_JSON_ESCAPES: Final = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
# What Go's HTML-safe json.Marshal escapes. Compiled (by `re`) on first use: most rule names are
# printable ASCII without any of `_ESCAPED_ASCII`, which needs no escaping (start-up budget).
_GO_JSON_NEEDS_ESCAPE: Final = '["\\\\<>&\\x00-\\x1f\u2028\u2029\ud800-\udfff]'
_ESCAPED_ASCII: Final = frozenset('"\\<>&')


def _go_json_escape_char(match: re.Match[str]) -> str:
    char = match.group()
    escaped = _GO_JSON_ESCAPES.get(char)
    if escaped is not None:
        return escaped
    if "\ud800" <= char <= "\udfff":
        return "\\ufffd"
    return f"\\u{ord(char):04x}"


def sanitize_rule_name(name: str) -> str:
    """The suffix of `matched_rule_<name>`.

    Go: json.Marshal (HTML-safe escaping), outer quotes trimmed, spaces and `-` → `_`, lowercase.
    """
    if name == "":
        return "rule"
    if name.isascii() and name.isprintable() and _ESCAPED_ASCII.isdisjoint(name):
        escaped = name
    else:
        escaped = re.sub(_GO_JSON_NEEDS_ESCAPE, _go_json_escape_char, name)
    encoded = '"' + escaped + '"'
    clean = encoded.strip('"').replace(" ", "_").replace("-", "_")
    return go_lower(clean)


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

_TOOL_ANNOTATIONS_SCHEMA: Final[dict[str, Any]] = {
    "readOnlyHint": _OPT_BOOL,
    "destructiveHint": _OPT_BOOL,
    "idempotentHint": _OPT_BOOL,
    "openWorldHint": _OPT_BOOL,
}
_MATCH_SCHEMA: Final[dict[str, Any]] = {
    "tool_name": _STR,
    "tool_names": _STR_LIST,
    "risk_classes": _STR_LIST,
    "target_kinds": _STR_LIST,
    "target_values": _STR_LIST,
    "endpoint_class": _STR_LIST,
    "endpoint_classes": _STR_LIST,
    "discovery_method": _STR_LIST,
    "tool_annotations": _TOOL_ANNOTATIONS_SCHEMA,
    "skill_publishers": _STR_LIST,
    "skill_sources": _STR_LIST,
    "data_classes": _STR_LIST,
    "destination_kinds": _STR_LIST,
    "destination_values": _STR_LIST,
    "destination_operations": _STR_LIST,
    "provenance_sources": _STR_LIST,
    "identities": _STR_LIST,
    "workspace_prefixes": _STR_LIST,
    **dict.fromkeys(UNSUPPORTED_MATCH_KEYS, _REFUSED),
}
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


# --------------------------------------------------------------------------------------------
# The normalized policy
# --------------------------------------------------------------------------------------------


@attrs.frozen
class RateLimit:
    requests: int = 0
    window: str = ""
    scope: str = ""

    def digest_payload(self) -> dict[str, Any]:
        return {"Requests": self.requests, "Window": self.window, "Scope": self.scope}


@attrs.frozen
class Dataflow:
    enabled: bool = False
    tainted_sources: tuple[str, ...] = ()
    destination_kinds: tuple[str, ...] = ()
    destination_values: tuple[str, ...] = ()
    destination_operations: tuple[str, ...] = ()
    action: str = ""
    reason_code: str = ""
    violation: str = ""


@attrs.frozen
class Endpoint:
    enabled: bool = False
    path_allowlist: tuple[str, ...] = ()
    path_denylist: tuple[str, ...] = ()
    domain_allowlist: tuple[str, ...] = ()
    domain_denylist: tuple[str, ...] = ()
    egress_classes: tuple[str, ...] = ()
    action: str = ""
    destructive_action: str = ""
    reason_code: str = ""
    violation: str = ""


@attrs.frozen
class ToolAnnotations:
    read_only_hint: bool | None = None
    destructive_hint: bool | None = None
    idempotent_hint: bool | None = None
    open_world_hint: bool | None = None


@attrs.frozen
class Match:
    tool_names: tuple[str, ...] = ()
    risk_classes: tuple[str, ...] = ()
    target_kinds: tuple[str, ...] = ()
    target_values: tuple[str, ...] = ()
    endpoint_classes: tuple[str, ...] = ()
    discovery_methods: tuple[str, ...] = ()
    tool_annotations: ToolAnnotations = ToolAnnotations()
    skill_publishers: tuple[str, ...] = ()
    skill_sources: tuple[str, ...] = ()
    data_classes: tuple[str, ...] = ()
    destination_kinds: tuple[str, ...] = ()
    destination_values: tuple[str, ...] = ()
    destination_operations: tuple[str, ...] = ()
    provenance_sources: tuple[str, ...] = ()
    identities: tuple[str, ...] = ()
    workspace_prefixes: tuple[str, ...] = ()


@attrs.frozen
class Rule:
    name: str
    effect: str
    priority: int = 0
    match: Match = Match()
    reason_codes: tuple[str, ...] = ()
    violations: tuple[str, ...] = ()
    min_approvals: int = 0
    require_distinct_approvers: bool = False
    rate_limit: RateLimit = RateLimit()
    destructive_budget: RateLimit = RateLimit()
    dataflow: Dataflow = Dataflow()
    endpoint: Endpoint = Endpoint()


@attrs.frozen
class FailClosed:
    enabled: bool = False
    risk_classes: tuple[str, ...] = ()
    required_fields: tuple[str, ...] = ()
    required_high_risk_fields: tuple[str, ...] = ()

    def applies(self, risk_class: str) -> bool:
        """Go shouldFailClosed: enabled and the (trimmed, lowercased) risk class is covered."""
        return self.enabled and go_trim_lower(risk_class) in self.risk_classes


@attrs.frozen
class Scripts:
    max_steps: int = 0
    require_approval_above: int = 0
    block_mixed_risk: bool = False


@attrs.frozen
class MCPTrust:
    """The `mcp_trust` block: MCP server trust, checked by `gait mcp proxy|serve|verify` only
    (`gait gate eval` has no server to check). `max_age` is Go's duration text (`1h0m0s`)."""

    enabled: bool = False
    snapshot: str = ""
    action: str = ""
    required_risk_classes: tuple[str, ...] = ()
    min_score: float = 0.0
    max_age: str = ""
    publisher_allowlist: tuple[str, ...] = ()
    require_registry: bool = False

    @functools.cached_property
    def max_age_seconds(self) -> int:
        """Whole seconds of `max_age`, as the reference checks freshness (0: no check)."""
        if not self.max_age:
            return 0
        from gait.timefmt import parse_go_duration

        return max(parse_go_duration(self.max_age), 0) // 1_000_000_000

    def digest_payload(self) -> dict[str, Any]:
        return {
            "Enabled": self.enabled,
            "SnapshotPath": self.snapshot,
            "Action": self.action,
            "RequiredRiskClasses": list(self.required_risk_classes),
            "MinScore": self.min_score,
            "MaxAge": self.max_age,
            "PublisherAllowlist": list(self.publisher_allowlist),
            "RequireRegistry": self.require_registry,
        }


@attrs.frozen
class Policy:
    """A validated, normalized gate policy; `rules` are sorted by (priority, name)."""

    schema_id: str = POLICY_SCHEMA_ID
    schema_version: str = POLICY_SCHEMA_VERSION
    default_verdict: str = DEFAULT_VERDICT
    fail_closed: FailClosed = FailClosed()
    scripts: Scripts = Scripts()
    mcp_trust: MCPTrust = MCPTrust()
    rules: tuple[Rule, ...] = ()

    def digest_payload(self) -> dict[str, Any]:
        """The map the reference `PolicyDigest` hashes (Go field names, presence rules)."""
        fail_closed: dict[str, Any] = {
            "Enabled": self.fail_closed.enabled,
            "RiskClasses": list(self.fail_closed.risk_classes),
            "RequiredFields": list(self.fail_closed.required_fields),
        }
        if self.fail_closed.required_high_risk_fields:
            fail_closed["RequiredHighRiskFields"] = list(self.fail_closed.required_high_risk_fields)
        payload: dict[str, Any] = {
            "SchemaID": self.schema_id,
            "SchemaVersion": self.schema_version,
            "DefaultVerdict": self.default_verdict,
            "FailClosed": fail_closed,
            "Rules": [_rule_digest_payload(rule) for rule in self.rules],
        }
        scripts = self.scripts
        if scripts.max_steps > 0 or scripts.require_approval_above > 0 or scripts.block_mixed_risk:
            payload["Scripts"] = {
                "MaxSteps": scripts.max_steps,
                "RequireApprovalAbove": scripts.require_approval_above,
                "BlockMixedRisk": scripts.block_mixed_risk,
            }
        if self.mcp_trust.enabled:
            payload["MCPTrust"] = self.mcp_trust.digest_payload()
        return payload

    @functools.cached_property
    def digest(self) -> str:
        return canonical.digest(self.digest_payload())


def _rule_digest_payload(rule: Rule) -> dict[str, Any]:
    match = rule.match
    match_payload: dict[str, Any] = {
        "ToolNames": list(match.tool_names),
        "RiskClasses": list(match.risk_classes),
        "TargetKinds": list(match.target_kinds),
        "TargetValues": list(match.target_values),
        "ProvenanceSources": list(match.provenance_sources),
        "Identities": list(match.identities),
        "WorkspacePrefixes": list(match.workspace_prefixes),
    }
    optional_lists = (
        ("EndpointClasses", match.endpoint_classes),
        ("DiscoveryMethods", match.discovery_methods),
        ("SkillPublishers", match.skill_publishers),
        ("SkillSources", match.skill_sources),
        ("DataClasses", match.data_classes),
        ("DestinationKinds", match.destination_kinds),
        ("DestinationValues", match.destination_values),
        ("DestinationOps", match.destination_operations),
    )
    for key, values in optional_lists:
        if values:
            match_payload[key] = list(values)
    hints = match.tool_annotations
    annotations = {
        key: value
        for key, value in (
            ("ReadOnlyHint", hints.read_only_hint),
            ("DestructiveHint", hints.destructive_hint),
            ("IdempotentHint", hints.idempotent_hint),
            ("OpenWorldHint", hints.open_world_hint),
        )
        if value is not None
    }
    if annotations:
        match_payload["ToolAnnotations"] = annotations
    payload: dict[str, Any] = {
        "Name": rule.name,
        "Priority": rule.priority,
        "Effect": rule.effect,
        "Match": match_payload,
        "ReasonCodes": list(rule.reason_codes),
        "Violations": list(rule.violations),
    }
    if rule.min_approvals > 0:
        payload["MinApprovals"] = rule.min_approvals
    if rule.require_distinct_approvers:
        payload["RequireDistinctApprovers"] = True
    if rule.rate_limit.requests > 0:
        payload["RateLimit"] = rule.rate_limit.digest_payload()
    if rule.destructive_budget.requests > 0:
        payload["DestructiveBudget"] = rule.destructive_budget.digest_payload()
    dataflow = rule.dataflow
    if dataflow.enabled:
        dataflow_payload: dict[str, Any] = {
            "Enabled": True,
            "TaintedSources": list(dataflow.tainted_sources),
            "Action": dataflow.action,
            "ReasonCode": dataflow.reason_code,
            "Violation": dataflow.violation,
        }
        if dataflow.destination_kinds:
            dataflow_payload["DestinationKinds"] = list(dataflow.destination_kinds)
        if dataflow.destination_values:
            dataflow_payload["DestinationValues"] = list(dataflow.destination_values)
        if dataflow.destination_operations:
            dataflow_payload["DestinationOperations"] = list(dataflow.destination_operations)
        payload["Dataflow"] = dataflow_payload
    endpoint = rule.endpoint
    if endpoint.enabled:
        payload["Endpoint"] = {
            "Enabled": True,
            "PathAllowlist": list(endpoint.path_allowlist),
            "PathDenylist": list(endpoint.path_denylist),
            "DomainAllowlist": list(endpoint.domain_allowlist),
            "DomainDenylist": list(endpoint.domain_denylist),
            "EgressClasses": list(endpoint.egress_classes),
            "Action": endpoint.action,
            "DestructiveAction": endpoint.destructive_action,
            "ReasonCode": endpoint.reason_code,
            "Violation": endpoint.violation,
        }
    return payload


def policy_digest(policy: Policy) -> str:
    """Lowercase hex SHA-256 of the JCS form of `policy.digest_payload()`."""
    return policy.digest


# --------------------------------------------------------------------------------------------
# Normalization and validation (Go normalizePolicy)
# --------------------------------------------------------------------------------------------


def _unique_sorted(values: Iterable[str]) -> tuple[str, ...]:
    """Go uniqueSorted: trimmed, empties dropped, deduplicated, sorted by code point."""
    return tuple(sorted({trimmed for value in values if (trimmed := go_trim_space(value))}))


def _normalize_list(values: Iterable[str]) -> tuple[str, ...]:
    return _unique_sorted(values)


def _normalize_list_lower(values: Iterable[str]) -> tuple[str, ...]:
    return _unique_sorted(go_trim_lower(value) for value in values)


def _normalize_rate_limit(raw: Mapping[str, Any], key: str, rule_name: str) -> RateLimit:
    requests = raw.get("requests", 0)
    window = go_trim_lower(raw.get("window", ""))
    scope = go_trim_lower(raw.get("scope", ""))
    if requests < 0:
        raise PolicyError(f"{key}.requests must be >= 0 for {rule_name}")
    configured = requests > 0 if key == "rate_limit" else bool(requests > 0 or window or scope)
    if configured:
        if requests <= 0:
            raise PolicyError(f"{key}.requests must be >= 1 for {rule_name}")
        window = window or "minute"
        if window not in _RATE_LIMIT_WINDOWS:
            raise PolicyError(f"unsupported {key}.window {_go_quote(window)} for {rule_name}")
        scope = scope or "tool_identity"
        if scope not in _RATE_LIMIT_SCOPES:
            raise PolicyError(f"unsupported {key}.scope {_go_quote(scope)} for {rule_name}")
    return RateLimit(requests, window, scope)


def _go_quote(text: str) -> str:
    """Go %q for the common case (used only in error messages)."""
    return json.dumps(text, ensure_ascii=False)


def _normalize_dataflow(raw: Mapping[str, Any], rule_name: str) -> Dataflow:
    tainted = _normalize_list_lower(raw.get("tainted_sources", ()))
    kinds = _normalize_list_lower(raw.get("destination_kinds", ()))
    values = _normalize_list(raw.get("destination_values", ()))
    operations = _normalize_list_lower(raw.get("destination_operations", ()))
    action = go_trim_lower(raw.get("action", ""))
    reason_code = go_trim_space(raw.get("reason_code", ""))
    violation = go_trim_space(raw.get("violation", ""))
    enabled = bool(raw.get("enabled", False) or tainted or kinds or values or operations)
    if not enabled:
        return Dataflow(False, tainted, kinds, values, operations, action, reason_code, violation)
    action = action or "require_approval"
    if action not in _CONSTRAINT_ACTIONS:
        raise PolicyError(f"unsupported dataflow.action {_go_quote(action)} for {rule_name}")
    return Dataflow(
        True,
        tainted or _DEFAULT_TAINTED_SOURCES,
        kinds,
        values,
        operations,
        action,
        reason_code or "dataflow_tainted_destination",
        violation or "tainted_dataflow",
    )


def _normalize_mcp_trust(raw: Mapping[str, Any]) -> MCPTrust:
    """Go normalizePolicy's mcp_trust step: setting any field turns the block on."""
    snapshot = go_trim_space(raw.get("snapshot", ""))
    action = go_trim_lower(raw.get("action", ""))
    risk_classes = _normalize_list_lower(raw.get("required_risk_classes", ()))
    publishers = _normalize_list_lower(raw.get("publisher_allowlist", ()))
    min_score = raw.get("min_score", 0.0)
    max_age = go_trim_space(raw.get("max_age", ""))
    require_registry = raw.get("require_registry", False)
    enabled = bool(
        raw.get("enabled", False)
        or snapshot
        or action
        or risk_classes
        or min_score > 0
        or max_age
        or publishers
        or require_registry
    )
    if not enabled:
        return MCPTrust()
    if not snapshot:
        raise PolicyError("mcp_trust.snapshot is required when mcp_trust is configured")
    action = action or "block"
    if action not in _CONSTRAINT_ACTIONS:
        raise PolicyError(f"unsupported mcp_trust.action {_go_quote(action)}")
    # NaN fails here too: the reference accepts it and then cannot digest the policy.
    if not 0 <= min_score <= 1:
        raise PolicyError("mcp_trust.min_score must be between 0 and 1")
    if max_age:
        from gait.timefmt import format_go_duration, parse_go_duration

        try:
            nanos = parse_go_duration(max_age)
        except ValueError as exc:
            raise PolicyError(f"parse mcp_trust.max_age: {exc}") from None
        if nanos <= 0:
            raise PolicyError("mcp_trust.max_age must be > 0")
        max_age = format_go_duration(nanos)
    return MCPTrust(
        enabled=True,
        snapshot=snapshot,
        action=action,
        required_risk_classes=risk_classes or ("critical", "high"),
        min_score=min_score,
        max_age=max_age,
        publisher_allowlist=publishers,
        require_registry=require_registry,
    )


def _normalize_path_patterns(values: Iterable[str]) -> tuple[str, ...]:
    # Go filepath.ToSlash is the identity on the reference platforms (Linux, macOS).
    return _unique_sorted(values)


def _normalize_endpoint(raw: Mapping[str, Any], rule_name: str) -> Endpoint:
    path_allow = _normalize_path_patterns(raw.get("path_allowlist", ()))
    path_deny = _normalize_path_patterns(raw.get("path_denylist", ()))
    domain_allow = _normalize_list_lower(raw.get("domain_allowlist", ()))
    domain_deny = _normalize_list_lower(raw.get("domain_denylist", ()))
    egress = _normalize_list_lower(raw.get("egress_classes", ()))
    for endpoint_class in egress:
        if endpoint_class not in ENDPOINT_CLASSES:
            raise PolicyError(
                f"unsupported endpoint.egress_class {_go_quote(endpoint_class)} for {rule_name}"
            )
        if not endpoint_class.startswith("net."):
            raise PolicyError(f"endpoint.egress_class must be network class for {rule_name}")
    action = go_trim_lower(raw.get("action", ""))
    destructive_action = go_trim_lower(raw.get("destructive_action", ""))
    reason_code = go_trim_space(raw.get("reason_code", ""))
    violation = go_trim_space(raw.get("violation", ""))
    enabled = bool(
        raw.get("enabled", False)
        or path_allow
        or path_deny
        or domain_allow
        or domain_deny
        or egress
        or destructive_action
    )
    if enabled:
        action = action or "block"
        if action not in _CONSTRAINT_ACTIONS:
            raise PolicyError(f"unsupported endpoint.action {_go_quote(action)} for {rule_name}")
        if destructive_action and destructive_action not in _CONSTRAINT_ACTIONS:
            raise PolicyError(
                f"unsupported endpoint.destructive_action {_go_quote(destructive_action)}"
                f" for {rule_name}"
            )
        reason_code = reason_code or "endpoint_constraint_violation"
        violation = violation or "endpoint_constraint_violation"
    return Endpoint(
        enabled,
        path_allow,
        path_deny,
        domain_allow,
        domain_deny,
        egress,
        action,
        destructive_action,
        reason_code,
        violation,
    )


def _normalize_match(raw: Mapping[str, Any], rule_name: str) -> Match:
    tool_names = list(raw.get("tool_names", ()))
    alias = go_trim_space(raw.get("tool_name", ""))
    if alias:
        tool_names.append(alias)
    endpoint_classes = _normalize_list_lower(
        [*raw.get("endpoint_classes", ()), *raw.get("endpoint_class", ())]
    )
    for endpoint_class in endpoint_classes:
        if endpoint_class not in ENDPOINT_CLASSES:
            raise PolicyError(
                f"unsupported match endpoint_class {_go_quote(endpoint_class)} for {rule_name}"
            )
    discovery_methods = _normalize_list_lower(raw.get("discovery_method", ()))
    for method in discovery_methods:
        if method not in DISCOVERY_METHODS:
            raise PolicyError(
                f"unsupported match discovery_method {_go_quote(method)} for {rule_name}"
            )
    hints = raw.get("tool_annotations", {})
    return Match(
        tool_names=_normalize_list_lower(tool_names),
        risk_classes=_normalize_list_lower(raw.get("risk_classes", ())),
        target_kinds=_normalize_list_lower(raw.get("target_kinds", ())),
        target_values=_normalize_list(raw.get("target_values", ())),
        endpoint_classes=endpoint_classes,
        discovery_methods=discovery_methods,
        tool_annotations=ToolAnnotations(
            hints.get("readOnlyHint"),
            hints.get("destructiveHint"),
            hints.get("idempotentHint"),
            hints.get("openWorldHint"),
        ),
        skill_publishers=_normalize_list_lower(raw.get("skill_publishers", ())),
        skill_sources=_normalize_list_lower(raw.get("skill_sources", ())),
        data_classes=_normalize_list_lower(raw.get("data_classes", ())),
        destination_kinds=_normalize_list_lower(raw.get("destination_kinds", ())),
        destination_values=_normalize_list(raw.get("destination_values", ())),
        destination_operations=_normalize_list_lower(raw.get("destination_operations", ())),
        provenance_sources=_normalize_list_lower(raw.get("provenance_sources", ())),
        identities=_normalize_list(raw.get("identities", ())),
        workspace_prefixes=_normalize_list(raw.get("workspace_prefixes", ())),
    )


def _normalize_rule(raw: Mapping[str, Any]) -> Rule:
    name = go_trim_space(raw.get("name", ""))
    if not name:
        raise PolicyError("rule name is required")
    effect = go_trim_lower(raw.get("effect", ""))
    action = go_trim_lower(raw.get("action", ""))
    effect = effect or action
    if action and effect != action:
        raise PolicyError(f"rule action must match effect for {name}")
    if not effect:
        raise PolicyError(f"rule effect is required for {name}")
    if effect not in VERDICTS:
        raise PolicyError(f"invalid rule effect {_go_quote(effect)} for {name}")
    match = _normalize_match(raw.get("match", {}), name)
    min_approvals = raw.get("min_approvals", 0)
    if min_approvals < 0:
        raise PolicyError(f"min_approvals must be >= 0 for {name}")
    distinct = bool(raw.get("require_distinct_approvers", False)) or min_approvals > 1
    return Rule(
        name=name,
        effect=effect,
        priority=raw.get("priority", 0),
        match=match,
        reason_codes=_unique_sorted(raw.get("reason_codes", ())),
        violations=_unique_sorted(raw.get("violations", ())),
        min_approvals=min_approvals,
        require_distinct_approvers=distinct,
        rate_limit=_normalize_rate_limit(raw.get("rate_limit", {}), "rate_limit", name),
        destructive_budget=_normalize_rate_limit(
            raw.get("destructive_budget", {}), "destructive_budget", name
        ),
        dataflow=_normalize_dataflow(raw.get("dataflow", {}), name),
        endpoint=_normalize_endpoint(raw.get("endpoint", {}), name),
    )


def _check_legacy_fields(document: Any) -> None:
    if not isinstance(document, dict):
        return
    present = {go_trim_space(key) for key in document if isinstance(key, str)}
    fields = [field for field in _LEGACY_FIELD_ORDER if field in present]
    if fields:
        details = "; ".join(_LEGACY_FIELD_DETAILS[field] for field in fields)
        raise PolicyError(
            f"legacy policy proposal fields are not supported [{', '.join(fields)}]: {details}"
        )


def policy_from_document(document: Any) -> Policy:
    """Decode, validate and normalize a parsed policy document (a mapping, or None)."""
    _check_legacy_fields(document)
    raw = _decode_struct(document, _POLICY_SCHEMA, "", None)
    schema_id = raw.get("schema_id", "") or POLICY_SCHEMA_ID
    if schema_id != POLICY_SCHEMA_ID:
        raise PolicyError(f"unsupported policy schema_id: {schema_id}")
    schema_version = raw.get("schema_version", "") or POLICY_SCHEMA_VERSION
    if schema_version != POLICY_SCHEMA_VERSION:
        raise PolicyError(f"unsupported policy schema_version: {schema_version}")
    default_verdict = go_trim_lower(raw.get("default_verdict", ""))
    default_action = go_trim_lower(raw.get("default_action", ""))
    default_verdict = default_verdict or default_action
    if default_action and default_verdict != default_action:
        raise PolicyError("default_action must match default_verdict when both are set")
    default_verdict = default_verdict or DEFAULT_VERDICT
    if default_verdict not in VERDICTS:
        raise PolicyError(f"invalid default_verdict: {default_verdict}")

    raw_fail_closed = raw.get("fail_closed", {})
    enabled = raw_fail_closed.get("enabled", False)
    risk_classes = _normalize_list_lower(raw_fail_closed.get("risk_classes", ()))
    if enabled and not risk_classes:
        risk_classes = ("critical", "high")
    required_fields = _normalize_list_lower(raw_fail_closed.get("required_fields", ()))
    for field in required_fields:
        if field not in ALLOWED_REQUIRED_FIELDS:
            raise PolicyError(f"unsupported fail_closed required_field: {field}")
    high_risk_fields = _normalize_list_lower(raw_fail_closed.get("required_high_risk_fields", ()))
    for field in high_risk_fields:
        if field not in ALLOWED_REQUIRED_HIGH_RISK_FIELDS:
            raise PolicyError(f"unsupported fail_closed required_high_risk_field: {field}")

    mcp_trust = _normalize_mcp_trust(raw.get("mcp_trust", {}))

    raw_scripts = raw.get("scripts", {})
    scripts = Scripts(
        raw_scripts.get("max_steps", 0),
        raw_scripts.get("require_approval_above", 0),
        raw_scripts.get("block_mixed_risk", False),
    )
    if scripts.max_steps < 0:
        raise PolicyError("scripts.max_steps must be >= 0")
    if scripts.require_approval_above < 0:
        raise PolicyError("scripts.require_approval_above must be >= 0")

    rules = [_normalize_rule(rule) for rule in raw.get("rules", ())]
    rules.sort(key=lambda rule: (rule.priority, rule.name))
    return Policy(
        schema_id=schema_id,
        schema_version=schema_version,
        default_verdict=default_verdict,
        fail_closed=FailClosed(enabled, risk_classes, required_fields, high_risk_fields),
        scripts=scripts,
        mcp_trust=mcp_trust,
        rules=tuple(rules),
    )


def parse_policy(data: bytes | str) -> Policy:
    """Policy YAML → a validated, normalized `Policy` (PolicyError otherwise)."""
    return policy_from_document(parse_policy_document(data))


# --------------------------------------------------------------------------------------------
# The compiled form
# --------------------------------------------------------------------------------------------

# Intent facts a compiled rule tests, by index; evaluate.py computes each one lazily per intent.
FACT_TOOL_NAME: Final = 0
FACT_RISK_CLASS: Final = 1
FACT_IDENTITY: Final = 2
FACT_TARGET_KIND: Final = 3
FACT_TARGET_VALUE: Final = 4
FACT_ENDPOINT_CLASS: Final = 5
FACT_DISCOVERY_METHOD: Final = 6
FACT_SENSITIVITY: Final = 7
FACT_OPERATION: Final = 8
FACT_PROVENANCE_SOURCE: Final = 9
FACT_SKILL_PUBLISHER: Final = 10
FACT_SKILL_SOURCE: Final = 11
FACT_READ_ONLY_HINT: Final = 12
FACT_DESTRUCTIVE_HINT: Final = 13
FACT_IDEMPOTENT_HINT: Final = 14
FACT_OPEN_WORLD_HINT: Final = 15
FACT_WORKSPACE: Final = 16
FACT_COUNT: Final = 17


# Dimensions a rule can be indexed under, most selective first. A rule sits in the bucket of each
# allowed value of the first dimension it constrains (but see `_index_rank`); rules that
# constrain none are "residual".
# Every dimension but one is "some value of the intent is in the allowed set"; the workspace is
# "the intent's workspace starts with an allowed prefix", whose buckets are keyed by prefix.
# Either way, being found through a bucket proves that criterion, and it is dropped from the
# rule's remaining checks.
INDEX_DIMENSIONS: Final = (
    FACT_TOOL_NAME,
    FACT_IDENTITY,
    FACT_TARGET_VALUE,
    FACT_WORKSPACE,
    FACT_SKILL_PUBLISHER,
    FACT_OPERATION,
    FACT_ENDPOINT_CLASS,
    FACT_TARGET_KIND,
    FACT_SENSITIVITY,
    FACT_DISCOVERY_METHOD,
    FACT_PROVENANCE_SOURCE,
    FACT_SKILL_SOURCE,
    FACT_RISK_CLASS,
    FACT_READ_ONLY_HINT,
    FACT_DESTRUCTIVE_HINT,
    FACT_IDEMPOTENT_HINT,
    FACT_OPEN_WORLD_HINT,
)
_INDEX_RANK: Final = {fact: rank for rank, fact in enumerate(INDEX_DIMENSIONS)}
_HINT_FACTS: Final = frozenset(
    {FACT_READ_ONLY_HINT, FACT_DESTRUCTIVE_HINT, FACT_IDEMPOTENT_HINT, FACT_OPEN_WORLD_HINT}
)
_MAX_CACHED_CANDIDATE_LISTS: Final = 4096


def _index_rank(criterion: tuple[int, frozenset[Any]]) -> tuple[bool, int]:
    """How selective a criterion is as an index key (lower is more selective).

    Targets rarely carry a hint, so a hint that must be false selects almost every intent: such
    a criterion comes after all others.
    """
    fact, allowed = criterion
    return fact in _HINT_FACTS and True not in allowed, _INDEX_RANK[fact]


@attrs.frozen
class CompiledRule:
    """A rule with its match criteria as (fact index, allowed values) set tests.

    `checks` are the criteria left to test once the rule was found through its index bucket
    (`index_fact`, or None for a residual rule, which keeps all its checks).
    """

    rule: Rule
    position: int
    checks: tuple[tuple[int, frozenset[Any]], ...]
    workspace_prefixes: tuple[str, ...]
    reasons: tuple[str, ...]
    has_constraints: bool
    index_fact: int | None
    index_values: frozenset[Any]


def _rule_checks(rule: Rule) -> list[tuple[int, frozenset[Any]]]:
    match = rule.match
    checks: list[tuple[int, frozenset[Any]]] = []

    def add(fact: int, values: Iterable[Any]) -> None:
        allowed = frozenset(values)
        if allowed:
            checks.append((fact, allowed))

    add(FACT_TOOL_NAME, match.tool_names)
    add(FACT_RISK_CLASS, match.risk_classes)
    add(FACT_IDENTITY, match.identities)
    add(FACT_TARGET_KIND, match.target_kinds)
    add(FACT_TARGET_VALUE, match.target_values)
    add(FACT_ENDPOINT_CLASS, match.endpoint_classes)
    add(FACT_DISCOVERY_METHOD, match.discovery_methods)
    hints = match.tool_annotations
    for fact, hint in (
        (FACT_READ_ONLY_HINT, hints.read_only_hint),
        (FACT_DESTRUCTIVE_HINT, hints.destructive_hint),
        (FACT_IDEMPOTENT_HINT, hints.idempotent_hint),
        (FACT_OPEN_WORLD_HINT, hints.open_world_hint),
    ):
        if hint is not None:
            add(fact, (hint,))
    add(FACT_SKILL_PUBLISHER, match.skill_publishers)
    add(FACT_SKILL_SOURCE, match.skill_sources)
    add(FACT_SENSITIVITY, match.data_classes)
    add(FACT_TARGET_KIND, match.destination_kinds)
    add(FACT_TARGET_VALUE, match.destination_values)
    add(FACT_OPERATION, match.destination_operations)
    add(FACT_PROVENANCE_SOURCE, match.provenance_sources)
    return checks


def _compile_rule(rule: Rule, position: int, *, indexed: bool) -> CompiledRule:
    checks = _rule_checks(rule)
    prefixes = rule.match.workspace_prefixes
    index_fact: int | None = None
    index_values: frozenset[Any] = frozenset()
    criteria = [*checks, (FACT_WORKSPACE, frozenset(prefixes))] if prefixes else checks
    if indexed and criteria:
        index_fact, index_values = min(criteria, key=_index_rank)
        if index_fact == FACT_WORKSPACE:
            prefixes = ()
        else:
            checks.remove((index_fact, index_values))
    reasons = rule.reason_codes or ("matched_rule_" + sanitize_rule_name(rule.name),)
    return CompiledRule(
        rule=rule,
        position=position,
        checks=tuple(checks),
        workspace_prefixes=prefixes,
        reasons=reasons,
        has_constraints=rule.dataflow.enabled or rule.endpoint.enabled,
        index_fact=index_fact,
        index_values=index_values,
    )


def _position(compiled: CompiledRule) -> int:
    return compiled.position


@attrs.frozen
class CompiledPolicy:
    """A policy ready for evaluating many intents.

    Each rule sits in index buckets keyed by (dimension, value) (see INDEX_DIMENSIONS), or in
    `residual`. `candidates(fact)` returns, in the policy's (priority, name) order, exactly the
    rules whose indexed criterion the intent satisfies plus the residual ones, so a decision only
    walks rules that can match. `fact(dimension)` gives the intent's values for a dimension.
    Merged lists are cached per combination of bucket keys the intent hits.
    `prefix_lengths` are the lengths of the workspace prefixes that key buckets: a workspace
    reaches the buckets of its own prefixes of those lengths.
    """

    policy: Policy
    digest: str
    rules: tuple[CompiledRule, ...]
    residual: tuple[CompiledRule, ...]
    index: Mapping[int, Mapping[Any, tuple[CompiledRule, ...]]]
    dimensions: tuple[int, ...]
    prefix_lengths: tuple[int, ...]
    _cache: dict[Any, tuple[CompiledRule, ...]] = attrs.field(factory=dict, eq=False, repr=False)

    def candidates(self, fact: Callable[[int], Iterable[Any]]) -> tuple[CompiledRule, ...]:
        dimensions = self.dimensions
        if not dimensions:
            return self.residual
        if len(dimensions) == 1 and dimensions[0] == FACT_TOOL_NAME:
            # The common shape: only tool names are indexed; the key is the tool name.
            (tool_name,) = fact(FACT_TOOL_NAME)
            key: Any = tool_name if tool_name in self.index[FACT_TOOL_NAME] else None
        else:
            key = tuple(self._bucket_keys(dimension, fact) for dimension in dimensions)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        merged = self._merge(fact)
        if len(self._cache) >= _MAX_CACHED_CANDIDATE_LISTS:
            self._cache.clear()
        self._cache[key] = merged
        return merged

    def _bucket_keys(self, dimension: int, fact: Callable[[int], Iterable[Any]]) -> frozenset[Any]:
        """The keys of the buckets of `dimension` that the intent reaches."""
        buckets = self.index[dimension]
        if dimension == FACT_WORKSPACE:
            return frozenset(
                prefix
                for workspace in fact(dimension)
                for length in self.prefix_lengths
                if (prefix := workspace[:length]) in buckets
            )
        return frozenset(value for value in fact(dimension) if value in buckets)

    def _merge(self, fact: Callable[[int], Iterable[Any]]) -> tuple[CompiledRule, ...]:
        lists: list[tuple[CompiledRule, ...]] = [self.residual]
        for dimension in self.dimensions:
            buckets = self.index[dimension]
            lists.extend(buckets[key] for key in self._bucket_keys(dimension, fact))
        if len(lists) == 1:
            return self.residual
        merged: list[CompiledRule] = []
        last = -1
        for compiled in heapq.merge(*lists, key=_position):
            if compiled.position != last:  # a rule may sit in several buckets of one dimension
                merged.append(compiled)
                last = compiled.position
        return tuple(merged)


def compile_policy(policy: Policy, *, indexed: bool = True) -> CompiledPolicy:
    """Index a normalized policy for fast evaluation.

    `indexed=False` keeps every rule residual, so each decision scans all rules in order: the
    plain reference semantics, kept for tests that prove the index changes no decision.
    """
    compiled: list[CompiledRule] = []
    residual: list[CompiledRule] = []
    index: dict[int, dict[Any, list[CompiledRule]]] = {}
    for position, rule in enumerate(policy.rules):
        entry = _compile_rule(rule, position, indexed=indexed)
        compiled.append(entry)
        if entry.index_fact is None:
            residual.append(entry)
            continue
        buckets = index.setdefault(entry.index_fact, {})
        for value in entry.index_values:
            buckets.setdefault(value, []).append(entry)
    return CompiledPolicy(
        policy=policy,
        digest=policy.digest,
        rules=tuple(compiled),
        residual=tuple(residual),
        index={
            fact: {value: tuple(entries) for value, entries in buckets.items()}
            for fact, buckets in index.items()
        },
        dimensions=tuple(fact for fact in INDEX_DIMENSIONS if fact in index),
        prefix_lengths=tuple(sorted({len(prefix) for prefix in index.get(FACT_WORKSPACE, ())})),
    )


def load_policy(data: bytes | str) -> CompiledPolicy:
    """Policy YAML → a compiled policy (PolicyError when it cannot be used)."""
    return compile_policy(parse_policy(data))


def load_policy_file(path: str | Path) -> CompiledPolicy:
    """Read, parse and compile a policy file (a regular file of at most MAX_POLICY_BYTES)."""
    from gait.fsutil import read_regular_file

    try:
        data = read_regular_file(path, limits.MAX_POLICY_BYTES, what="policy")
    except InvalidInputError as exc:
        raise PolicyError(f"read policy: {exc}") from exc
    return load_policy(data)
