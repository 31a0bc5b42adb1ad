"""Normalization of the whole intent request (spec §2.2, §2.3): context, relationship
envelope, the request, and what evaluation strips (§2.5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from gait.canonical import sha256_hex
from gait.gostrings import go_trim_lower, go_trim_space
from gait.intent_decode import decode_request
from gait.intent_model import (
    CONTEXT_PLAIN_STRING_SET,
    Context,
    NormalizedIntent,
    fast_domain,
    jcs,
)
from gait.intent_text import (
    IntentError,
    enum_value,
    get_norm,
    get_trim,
    is_hex64,
    unique_sorted,
)
from gait.intent_values import (
    CREDENTIAL_ACCESS_TYPES,
    CREDENTIAL_SOURCES,
    dedupe_sorted_provenance,
    dedupe_sorted_targets,
    normalize_args,
    normalize_object,
    normalize_provenance,
    normalize_targets,
    reject_raw_credentials,
)

# ---- context -----------------------------------------------------------------------------------


def _normalize_auth_context(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        normalized = normalize_object(value, 1)
    except IntentError as exc:
        raise IntentError(f"normalize context.auth_context: {exc}") from None
    if not normalized:
        return None
    reject_raw_credentials("context.auth_context", normalized)
    return normalized


_BASIC_CONTEXT_KEYS: Final = frozenset({"identity", "workspace", "risk_class"})


def normalize_context(raw: Mapping[str, Any]) -> Context:
    identity = get_trim(raw, "identity")
    workspace = get_trim(raw, "workspace")
    risk_class = get_norm(raw, "risk_class")
    if not identity:
        raise IntentError("context.identity is required")
    if not workspace:
        raise IntentError("context.workspace is required")
    if not risk_class:
        raise IntentError("context.risk_class is required")
    if _BASIC_CONTEXT_KEYS.issuperset(raw):
        # The common context: only the required fields, everything else at its default.
        return Context(identity, workspace.replace("\\", "/"), risk_class)

    auth_context = _normalize_auth_context(raw.get("auth_context"))
    sandbox_raw = raw.get("sandbox")
    sandbox = None
    if sandbox_raw is not None:
        from gait.intent_sections import normalize_sandbox

        sandbox = normalize_sandbox(sandbox_raw)
    identity_raw = raw.get("agent_identity")
    agent_identity = None
    if identity_raw is not None:
        from gait.intent_sections import normalize_agent_identity

        agent_identity = normalize_agent_identity(identity_raw)
    context_set_digest = get_norm(raw, "context_set_digest")
    if context_set_digest and not is_hex64(context_set_digest):
        raise IntentError("context.context_set_digest must be sha256 hex")
    ttl: int = raw.get("credential_ttl_seconds", 0)
    if ttl < 0:
        raise IntentError("context.credential_ttl_seconds must be >= 0")
    credential_source = enum_value(
        get_norm(raw, "credential_source"),
        CREDENTIAL_SOURCES,
        "context.credential_source is unsupported",
    )
    credential_access_type = enum_value(
        get_norm(raw, "credential_access_type"),
        CREDENTIAL_ACCESS_TYPES,
        "context.credential_access_type is unsupported",
    )
    evidence_mode = get_norm(raw, "context_evidence_mode")
    if evidence_mode and evidence_mode not in ("best_effort", "required"):
        raise IntentError("context.context_evidence_mode must be best_effort or required")
    phase = get_norm(raw, "phase") or "apply"
    if phase not in ("plan", "apply"):
        raise IntentError("context.phase must be plan or apply")

    extras: dict[str, Any] = {}
    for name in CONTEXT_PLAIN_STRING_SET.intersection(raw):
        value = go_trim_space(raw[name])
        if value:
            extras[name] = value
    scopes = raw.get("credential_scopes")
    if scopes:
        extras["credential_scopes"] = unique_sorted(scopes)
    refs = raw.get("context_refs")
    if refs:
        extras["context_refs"] = unique_sorted(refs)
    return Context(
        identity=identity,
        workspace=workspace.replace("\\", "/"),
        risk_class=risk_class,
        phase=phase,
        credential_source=credential_source,
        credential_access_type=credential_access_type,
        context_set_digest=context_set_digest,
        context_evidence_mode=evidence_mode,
        credential_ttl_seconds=ttl,
        auth_context=auth_context,
        agent_identity=agent_identity,
        sandbox=sandbox,
        **extras,
    )


# ---- relationship envelope (normalized, never digested) ---------------------------------------

_RELATIONSHIP_PARENT_KINDS: Final = frozenset(
    {"trace", "run", "session", "intent", "policy", "agent", "evidence"}
)
_RELATIONSHIP_ENTITY_KINDS: Final = frozenset(
    {"agent", "tool", "resource", "policy", "run", "trace", "delegation", "evidence"}
)
_RELATIONSHIP_AGENT_ROLES: Final = frozenset({"requester", "delegator", "delegate"})
_RELATIONSHIP_EDGE_KINDS: Final = frozenset(
    {"delegates_to", "calls", "governed_by", "targets", "derived_from", "emits_evidence"}
)


def _node(raw: Mapping[str, Any] | None) -> tuple[str, str]:
    raw = raw or {}
    return get_norm(raw, "kind"), get_trim(raw, "id")


def normalize_relationship(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    kind, node_id = _node(raw.get("parent_ref"))
    if kind and node_id and kind in _RELATIONSHIP_PARENT_KINDS:
        out["parent_ref"] = {"kind": kind, "id": node_id}

    refs: set[tuple[str, str]] = set()
    for item in raw.get("entity_refs") or ():
        kind, node_id = _node(item)
        if kind and node_id and kind in _RELATIONSHIP_ENTITY_KINDS:
            refs.add((kind, node_id))
    if refs:
        out["entity_refs"] = [{"kind": kind, "id": node_id} for kind, node_id in sorted(refs)]

    policy = raw.get("policy_ref")
    if policy is not None:
        policy_ref: dict[str, Any] = {}
        for name in ("policy_id", "policy_version"):
            value = go_trim_space(policy.get(name, ""))
            if value:
                policy_ref[name] = value
        policy_digest = go_trim_lower(policy.get("policy_digest", ""))
        if policy_digest:
            policy_ref["policy_digest"] = policy_digest
        matched = unique_sorted(policy.get("matched_rule_ids") or ())
        if matched:
            policy_ref["matched_rule_ids"] = list(matched)
        if policy_ref:
            out["policy_ref"] = policy_ref

    chain: set[tuple[str, str]] = set()
    for item in raw.get("agent_chain") or ():
        role = go_trim_lower(item.get("role", ""))
        identity = go_trim_space(item.get("identity", ""))
        if role and identity and role in _RELATIONSHIP_AGENT_ROLES:
            chain.add((role, identity))
    if chain:
        out["agent_chain"] = [
            {"identity": identity, "role": role} for role, identity in sorted(chain)
        ]

    edges: set[tuple[str, str, str, str, str]] = set()
    for item in raw.get("edges") or ():
        edge_kind = go_trim_lower(item.get("kind", ""))
        from_kind, from_id = _node(item.get("from"))
        to_kind, to_id = _node(item.get("to"))
        if edge_kind in _RELATIONSHIP_EDGE_KINDS and from_kind and from_id and to_kind and to_id:
            edges.add((edge_kind, from_kind, from_id, to_kind, to_id))
    if edges:
        out["edges"] = [
            {
                "kind": edge[0],
                "from": {"kind": edge[1], "id": edge[2]},
                "to": {"kind": edge[3], "id": edge[4]},
            }
            for edge in sorted(edges)
        ]

    parent_record_id = get_trim(raw, "parent_record_id")
    if parent_record_id:
        out["parent_record_id"] = parent_record_id
    related_records = unique_sorted(raw.get("related_record_ids") or ())
    if related_records:
        out["related_record_ids"] = list(related_records)
    related_entities = unique_sorted(raw.get("related_entity_ids") or ()) or unique_sorted(
        node_id for _, node_id in refs
    )
    if related_entities:
        out["related_entity_ids"] = list(related_entities)

    lineage: set[tuple[str, str, str]] = set()
    for item in raw.get("agent_lineage") or ():
        agent_id = go_trim_space(item.get("agent_id", ""))
        if agent_id:
            lineage.add(
                (
                    agent_id,
                    go_trim_space(item.get("delegated_by", "")),
                    go_trim_space(item.get("delegation_record_id", "")),
                )
            )
    if lineage:
        entries = []
        for agent_id, delegated_by, record_id in sorted(lineage):
            entry = {"agent_id": agent_id}
            if delegated_by:
                entry["delegated_by"] = delegated_by
            if record_id:
                entry["delegation_record_id"] = record_id
            entries.append(entry)
        out["agent_lineage"] = entries
    return out or None


# ---- the whole request -------------------------------------------------------------------------


def normalize_intent(raw: Mapping[str, Any]) -> NormalizedIntent:
    """Normalize a raw intent (spec §2.2). Any problem raises `IntentError`."""
    request = decode_request(raw)

    script_raw = request.get("script")
    script = None
    if script_raw is not None:
        from gait.intent_sections import normalize_script

        script = normalize_script(script_raw)

    tool_name = "script" if script is not None else go_trim_lower(request.get("tool_name", ""))
    if not tool_name:
        raise IntentError("tool_name is required")

    args = normalize_args(request.get("args"), "normalize args")
    if args:
        reject_raw_credentials("args", args)

    targets_in = request.get("targets")
    if script is not None and not targets_in:
        targets = dedupe_sorted_targets(target for step in script.steps for target in step.targets)
    else:
        targets = normalize_targets(tool_name, targets_in)

    provenance_in = request.get("arg_provenance")
    if script is not None and not provenance_in:
        provenance = dedupe_sorted_provenance(
            entry for step in script.steps for entry in step.arg_provenance
        )
    else:
        provenance = normalize_provenance(provenance_in)

    skill_raw = request.get("skill_provenance")
    skill = None
    if skill_raw is not None:
        from gait.intent_sections import normalize_skill_provenance

        skill = normalize_skill_provenance(skill_raw)
    context = normalize_context(request.get("context") or {})
    delegation_raw = request.get("delegation")
    delegation = None
    if delegation_raw is not None:
        from gait.intent_sections import normalize_delegation

        delegation = normalize_delegation(delegation_raw)
    script_hash = ""
    if script is not None:
        fast = all(fast_domain(step.args) for step in script.steps)
        script_hash = sha256_hex(jcs(script.to_json(), fast))
    relationship_raw = request.get("relationship")
    relationship = None if relationship_raw is None else normalize_relationship(relationship_raw)

    return NormalizedIntent(
        tool_name=tool_name,
        args=args,
        targets=targets,
        arg_provenance=provenance,
        skill_provenance=skill,
        delegation=delegation,
        script=script,
        script_hash=script_hash,
        context=context,
        created_at=request.get("created_at"),
        producer_version=request.get("producer_version", ""),
        relationship=relationship,
    )


def prepare_for_evaluation(intent: NormalizedIntent) -> NormalizedIntent:
    """Spec §2.5 without a context envelope: drop the unverified context-evidence claims.

    Returns `intent` itself (with its cached digests) when there is nothing to strip.
    """
    context = intent.context
    auth = context.auth_context
    has_age = auth is not None and "context_age_seconds" in auth
    if (
        not (context.context_set_digest or context.context_evidence_mode or context.context_refs)
        and not has_age
    ):
        return intent
    if auth is not None and has_age:
        auth = {key: value for key, value in auth.items() if key != "context_age_seconds"} or None
    stripped = attrs.evolve(
        context,
        context_set_digest="",
        context_evidence_mode="",
        context_refs=(),
        auth_context=auth,
    )
    return attrs.evolve(intent, context=stripped)


def raw_risk_class(raw: Mapping[str, Any]) -> str:
    """The trimmed, lowercased `context.risk_class` of a raw intent, normalizable or not.

    Keys match as Go decodes them (case-insensitively). Returns "" when the value is absent or
    when the document cannot be decoded at all (Go rejects those before evaluation).
    """
    try:
        request = decode_request(raw)
    except IntentError:
        return ""
    context: Mapping[str, Any] = request.get("context") or {}
    return go_trim_lower(context.get("risk_class", ""))
