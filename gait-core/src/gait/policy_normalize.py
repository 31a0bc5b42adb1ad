"""Validation and normalization of a decoded policy (Go normalizePolicy).

Defaults, lowercasing, aliases, dedupe/sort, and rules sorted by priority then name, into a
frozen `Policy`. Match fields are normalized from their declarations (`MATCH_FIELDS`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from gait.gostrings import go_trim_lower, go_trim_space
from gait.policy_decode import decode_policy_document
from gait.policy_model import (
    _CONSTRAINT_ACTIONS,
    ALLOWED_REQUIRED_FIELDS,
    ALLOWED_REQUIRED_HIGH_RISK_FIELDS,
    DEFAULT_VERDICT,
    POLICY_SCHEMA_ID,
    POLICY_SCHEMA_VERSION,
    VERDICTS,
    Dataflow,
    Endpoint,
    FailClosed,
    MCPTrust,
    Policy,
    PolicyError,
    RateLimit,
    Rule,
    Scripts,
    go_quote,
    normalize_list,
    normalize_list_lower,
    normalize_match,
    unique_sorted,
)
from gait.vocabulary import ENDPOINT_CLASSES

__all__ = ["parse_policy", "policy_from_document"]

_RATE_LIMIT_WINDOWS: Final = frozenset({"minute", "hour"})
_RATE_LIMIT_SCOPES: Final = frozenset({"tool", "identity", "tool_identity"})
_DEFAULT_TAINTED_SOURCES: Final = ("external", "tool_output")

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


# --------------------------------------------------------------------------------------------
# Normalization and validation (Go normalizePolicy)
# --------------------------------------------------------------------------------------------


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
            raise PolicyError(f"unsupported {key}.window {go_quote(window)} for {rule_name}")
        scope = scope or "tool_identity"
        if scope not in _RATE_LIMIT_SCOPES:
            raise PolicyError(f"unsupported {key}.scope {go_quote(scope)} for {rule_name}")
    return RateLimit(requests, window, scope)


def _normalize_dataflow(raw: Mapping[str, Any], rule_name: str) -> Dataflow:
    tainted = normalize_list_lower(raw.get("tainted_sources", ()))
    kinds = normalize_list_lower(raw.get("destination_kinds", ()))
    values = normalize_list(raw.get("destination_values", ()))
    operations = normalize_list_lower(raw.get("destination_operations", ()))
    action = go_trim_lower(raw.get("action", ""))
    reason_code = go_trim_space(raw.get("reason_code", ""))
    violation = go_trim_space(raw.get("violation", ""))
    enabled = bool(raw.get("enabled", False) or tainted or kinds or values or operations)
    if not enabled:
        return Dataflow(False, tainted, kinds, values, operations, action, reason_code, violation)
    action = action or "require_approval"
    if action not in _CONSTRAINT_ACTIONS:
        raise PolicyError(f"unsupported dataflow.action {go_quote(action)} for {rule_name}")
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
    risk_classes = normalize_list_lower(raw.get("required_risk_classes", ()))
    publishers = normalize_list_lower(raw.get("publisher_allowlist", ()))
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
        raise PolicyError(f"unsupported mcp_trust.action {go_quote(action)}")
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
    return unique_sorted(values)


def _normalize_endpoint(raw: Mapping[str, Any], rule_name: str) -> Endpoint:
    path_allow = _normalize_path_patterns(raw.get("path_allowlist", ()))
    path_deny = _normalize_path_patterns(raw.get("path_denylist", ()))
    domain_allow = normalize_list_lower(raw.get("domain_allowlist", ()))
    domain_deny = normalize_list_lower(raw.get("domain_denylist", ()))
    egress = normalize_list_lower(raw.get("egress_classes", ()))
    for endpoint_class in egress:
        if endpoint_class not in ENDPOINT_CLASSES:
            raise PolicyError(
                f"unsupported endpoint.egress_class {go_quote(endpoint_class)} for {rule_name}"
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
            raise PolicyError(f"unsupported endpoint.action {go_quote(action)} for {rule_name}")
        if destructive_action and destructive_action not in _CONSTRAINT_ACTIONS:
            raise PolicyError(
                f"unsupported endpoint.destructive_action {go_quote(destructive_action)}"
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
        raise PolicyError(f"invalid rule effect {go_quote(effect)} for {name}")
    match = normalize_match(raw.get("match", {}), name)
    min_approvals = raw.get("min_approvals", 0)
    if min_approvals < 0:
        raise PolicyError(f"min_approvals must be >= 0 for {name}")
    distinct = bool(raw.get("require_distinct_approvers", False)) or min_approvals > 1
    return Rule(
        name=name,
        effect=effect,
        priority=raw.get("priority", 0),
        match=match,
        reason_codes=unique_sorted(raw.get("reason_codes", ())),
        violations=unique_sorted(raw.get("violations", ())),
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
    raw = decode_policy_document(document)
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
    risk_classes = normalize_list_lower(raw_fail_closed.get("risk_classes", ()))
    if enabled and not risk_classes:
        risk_classes = ("critical", "high")
    required_fields = normalize_list_lower(raw_fail_closed.get("required_fields", ()))
    for field in required_fields:
        if field not in ALLOWED_REQUIRED_FIELDS:
            raise PolicyError(f"unsupported fail_closed required_field: {field}")
    high_risk_fields = normalize_list_lower(raw_fail_closed.get("required_high_risk_fields", ()))
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
    from gait.policy_yaml import parse_policy_document  # not needed on a policy cache hit

    return policy_from_document(parse_policy_document(data))
