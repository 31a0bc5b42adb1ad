"""The normalized policy: constants, records, match field declarations and the digest.

`Policy` is what `gait.policy_normalize` makes of a policy document; `Policy.digest` is the
reference `PolicyDigest` (PascalCase payload, JCS, SHA-256). Each match criterion is declared
once, on its `Match` field (`match_field`): its YAML key and aliases, its Go name and presence in
the digest, its normalization (lowercased or not, allowed values) and the intent fact it tests.
Decoding schema, normalization, digest payload, `policy fmt` output and the compiled policy's
set tests derive from `MATCH_FIELDS`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from gait import canonical, limits
from gait.errors import InvalidInputError
from gait.gostrings import go_trim_lower, go_trim_space
from gait.policy_facts import (
    FACT_DESTRUCTIVE_HINT,
    FACT_DISCOVERY_METHOD,
    FACT_ENDPOINT_CLASS,
    FACT_IDEMPOTENT_HINT,
    FACT_IDENTITY,
    FACT_OPEN_WORLD_HINT,
    FACT_OPERATION,
    FACT_PROVENANCE_SOURCE,
    FACT_READ_ONLY_HINT,
    FACT_RISK_CLASS,
    FACT_SENSITIVITY,
    FACT_SKILL_PUBLISHER,
    FACT_SKILL_SOURCE,
    FACT_TARGET_KIND,
    FACT_TARGET_VALUE,
    FACT_TOOL_NAME,
    FACT_WORKSPACE,
)
from gait.vocabulary import DISCOVERY_METHODS, ENDPOINT_CLASSES

__all__ = [
    "ALLOWED_REQUIRED_FIELDS",
    "ALLOWED_REQUIRED_HIGH_RISK_FIELDS",
    "MATCH_FIELDS",
    "MAX_POLICY_DEPTH",
    "POLICY_SCHEMA_ID",
    "POLICY_SCHEMA_VERSION",
    "UNSUPPORTED_MATCH_KEYS",
    "UNSUPPORTED_RULE_KEYS",
    "VERDICTS",
    "Dataflow",
    "Endpoint",
    "FailClosed",
    "MCPTrust",
    "Match",
    "MatchField",
    "Policy",
    "PolicyError",
    "RateLimit",
    "Rule",
    "Scripts",
    "ToolAnnotations",
    "match_digest_payload",
    "match_field",
    "normalize_match",
    "policy_digest",
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

# Nesting allowed in a policy document; a real policy needs 5 levels.
MAX_POLICY_DEPTH: Final = limits.MAX_JSON_DEPTH

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


class PolicyError(InvalidInputError):
    """The policy cannot be parsed, is invalid, or uses a feature this implementation refuses."""


# --------------------------------------------------------------------------------------------
# Match field declarations
# --------------------------------------------------------------------------------------------

_MATCH_FIELD: Final = "gait_match_field"


class MatchField:
    """One match criterion, declared once on its `Match` (or `ToolAnnotations`) field.

    `key`: the YAML key (and `policy fmt`'s); `aliases`: other YAML keys folded into it, each
    `(key, "str" | "list")`; `go`: the Go field name in the digest payload; `always`: present in
    the digest even when empty (else omitted when empty); `lower`: values are lowercased (else
    only trimmed); `allowed`: the only values accepted, `label` naming the field in the error;
    `fact`: the intent fact (`gait.policy_facts`) the criterion tests, as "some value of the
    intent is allowed", or with `prefix` as "the value starts with an allowed prefix";
    `struct`: a nested record whose own fields are declared (`fields`), each an optional bool.
    """

    __slots__ = (
        "aliases",
        "allowed",
        "always",
        "fact",
        "fields",
        "go",
        "key",
        "label",
        "lower",
        "name",
        "prefix",
        "struct",
    )

    def __init__(
        self,
        key: str,
        go: str,
        fact: int | None,
        *,
        always: bool = False,
        lower: bool = True,
        aliases: tuple[tuple[str, str], ...] = (),
        allowed: frozenset[str] | None = None,
        label: str = "",
        prefix: bool = False,
        struct: type[Any] | None = None,
    ) -> None:
        self.name = ""  # the attribute, filled in from the attrs field
        self.key = key
        self.go = go
        self.fact = fact
        self.always = always
        self.lower = lower
        self.aliases = aliases
        self.allowed = allowed
        self.label = label or key
        self.prefix = prefix
        self.struct = struct
        self.fields: tuple[MatchField, ...] = ()


def match_field(key: str, go: str, fact: int | None, *, hint: bool = False, **options: Any) -> Any:
    """An attrs field of `Match` (or `ToolAnnotations`) carrying its `MatchField` declaration;
    `hint`: an optional bool (None: not constrained), else a tuple of strings."""
    spec = MatchField(key, go, fact, **options)
    if spec.struct is not None:
        return attrs.field(default=spec.struct(), metadata={_MATCH_FIELD: spec})
    return attrs.field(default=None if hint else (), metadata={_MATCH_FIELD: spec})


# --------------------------------------------------------------------------------------------
# List normalization (Go uniqueSorted)
# --------------------------------------------------------------------------------------------


def unique_sorted(values: Iterable[str]) -> tuple[str, ...]:
    """Go uniqueSorted: trimmed, empties dropped, deduplicated, sorted by code point."""
    return tuple(sorted({trimmed for value in values if (trimmed := go_trim_space(value))}))


def normalize_list(values: Iterable[str]) -> tuple[str, ...]:
    return unique_sorted(values)


def normalize_list_lower(values: Iterable[str]) -> tuple[str, ...]:
    return unique_sorted(go_trim_lower(value) for value in values)


def go_quote(text: str) -> str:
    """Go %q for the common case (used only in error messages)."""
    return json.dumps(text, ensure_ascii=False)


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
    read_only_hint: bool | None = match_field(
        "readOnlyHint", "ReadOnlyHint", FACT_READ_ONLY_HINT, hint=True
    )
    destructive_hint: bool | None = match_field(
        "destructiveHint", "DestructiveHint", FACT_DESTRUCTIVE_HINT, hint=True
    )
    idempotent_hint: bool | None = match_field(
        "idempotentHint", "IdempotentHint", FACT_IDEMPOTENT_HINT, hint=True
    )
    open_world_hint: bool | None = match_field(
        "openWorldHint", "OpenWorldHint", FACT_OPEN_WORLD_HINT, hint=True
    )


@attrs.frozen
class Match:
    """A rule's match criteria, each declared once (see `match_field`); field order is the
    order `policy fmt` writes them in."""

    tool_names: tuple[str, ...] = match_field(
        "tool_names", "ToolNames", FACT_TOOL_NAME, always=True, aliases=(("tool_name", "str"),)
    )
    risk_classes: tuple[str, ...] = match_field(
        "risk_classes", "RiskClasses", FACT_RISK_CLASS, always=True
    )
    target_kinds: tuple[str, ...] = match_field(
        "target_kinds", "TargetKinds", FACT_TARGET_KIND, always=True
    )
    target_values: tuple[str, ...] = match_field(
        "target_values", "TargetValues", FACT_TARGET_VALUE, always=True, lower=False
    )
    endpoint_classes: tuple[str, ...] = match_field(
        "endpoint_classes",
        "EndpointClasses",
        FACT_ENDPOINT_CLASS,
        aliases=(("endpoint_class", "list"),),
        allowed=ENDPOINT_CLASSES,
        label="endpoint_class",
    )
    discovery_methods: tuple[str, ...] = match_field(
        "discovery_method", "DiscoveryMethods", FACT_DISCOVERY_METHOD, allowed=DISCOVERY_METHODS
    )
    tool_annotations: ToolAnnotations = match_field(
        "tool_annotations", "ToolAnnotations", None, struct=ToolAnnotations
    )
    skill_publishers: tuple[str, ...] = match_field(
        "skill_publishers", "SkillPublishers", FACT_SKILL_PUBLISHER
    )
    skill_sources: tuple[str, ...] = match_field("skill_sources", "SkillSources", FACT_SKILL_SOURCE)
    data_classes: tuple[str, ...] = match_field("data_classes", "DataClasses", FACT_SENSITIVITY)
    destination_kinds: tuple[str, ...] = match_field(
        "destination_kinds", "DestinationKinds", FACT_TARGET_KIND
    )
    destination_values: tuple[str, ...] = match_field(
        "destination_values", "DestinationValues", FACT_TARGET_VALUE, lower=False
    )
    destination_operations: tuple[str, ...] = match_field(
        "destination_operations", "DestinationOps", FACT_OPERATION
    )
    provenance_sources: tuple[str, ...] = match_field(
        "provenance_sources", "ProvenanceSources", FACT_PROVENANCE_SOURCE, always=True
    )
    identities: tuple[str, ...] = match_field(
        "identities", "Identities", FACT_IDENTITY, always=True, lower=False
    )
    workspace_prefixes: tuple[str, ...] = match_field(
        "workspace_prefixes",
        "WorkspacePrefixes",
        FACT_WORKSPACE,
        always=True,
        lower=False,
        prefix=True,
    )


def _declared(cls: type[Any]) -> tuple[MatchField, ...]:
    fields = []
    for field in attrs.fields(cls):
        spec: MatchField = field.metadata[_MATCH_FIELD]
        spec.name = field.name
        if spec.struct is not None:
            spec.fields = _declared(spec.struct)
        fields.append(spec)
    return tuple(fields)


MATCH_FIELDS: Final = _declared(Match)
"""The declarations of `Match`, in its field order: schema, normalization, digest payload,
`policy fmt` output and the compiled policy's set tests all derive from them."""


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


def match_digest_payload(match: Match) -> dict[str, Any]:
    """The reference's `Match` map: Go field names; `always` fields present even when empty."""
    payload: dict[str, Any] = {}
    for spec in MATCH_FIELDS:
        value = getattr(match, spec.name)
        if spec.struct is not None:
            inner = {
                sub.go: item
                for sub in spec.fields
                if (item := getattr(value, sub.name)) is not None
            }
            if inner:
                payload[spec.go] = inner
        elif spec.always or value:
            payload[spec.go] = list(value)
    return payload


def _rule_digest_payload(rule: Rule) -> dict[str, Any]:
    match_payload = match_digest_payload(rule.match)
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


def normalize_match(raw: Mapping[str, Any], rule_name: str) -> Match:
    """Go's match normalization, driven by `MATCH_FIELDS` (`raw` is decoded already)."""
    values: dict[str, Any] = {}
    for spec in MATCH_FIELDS:
        if spec.struct is not None:
            inner = raw.get(spec.key, {})
            values[spec.name] = spec.struct(*(inner.get(sub.key) for sub in spec.fields))
            continue
        items = list(raw.get(spec.key, ()))
        for alias, kind in spec.aliases:
            if kind == "str":
                items.append(raw.get(alias, ""))
            else:
                items.extend(raw.get(alias, ()))
        normalized = normalize_list_lower(items) if spec.lower else normalize_list(items)
        if spec.allowed is not None:
            for value in normalized:
                if value not in spec.allowed:
                    raise PolicyError(
                        f"unsupported match {spec.label} {go_quote(value)} for {rule_name}"
                    )
        values[spec.name] = normalized
    return Match(**values)
