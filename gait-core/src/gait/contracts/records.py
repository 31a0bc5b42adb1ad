"""The v1 records Gait writes and reads, with the reference's field names and presence rules.

Field order follows the reference's Go structs, which is the order of indented files on disk;
digests and signatures use canonical JSON, where order does not matter.
"""

from __future__ import annotations

from typing import Any

import attrs

from gait.contracts.wire import go_field
from gait.timefmt import GoTime

ZERO_TIME = GoTime.parse("1980-01-01T00:00:00Z")


@attrs.frozen(kw_only=True)
class SignatureRecord:
    alg: str
    key_id: str
    sig: str
    signed_digest: str = go_field(omitempty=True, default="")


# --- gate -------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class GateResult:
    """`gait.gate.result`: every key is always present."""

    schema_id: str = "gait.gate.result"
    schema_version: str = "1.0.0"
    created_at: GoTime = ZERO_TIME
    producer_version: str = "0.0.0-dev"
    verdict: str
    reason_codes: tuple[str, ...] = ()
    violations: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class TraceRecord:
    """`gait.gate.trace`. Fields this implementation does not produce stay at their zero value."""

    schema_id: str = "gait.gate.trace"
    schema_version: str = "1.0.0"
    created_at: GoTime
    observed_at: GoTime
    producer_version: str
    trace_id: str
    event_id: str = go_field(omitempty=True, default="")
    correlation_id: str = go_field(omitempty=True, default="")
    tool_name: str
    args_digest: str
    intent_digest: str
    policy_digest: str
    policy_id: str = go_field(omitempty=True, default="")
    policy_version: str = go_field(omitempty=True, default="")
    verdict: str
    violations: tuple[str, ...] = go_field(omitempty=True, default=())
    agent_id: str = go_field(omitempty=True, default="")
    run_id: str = go_field(omitempty=True, default="")
    workflow_id: str = go_field(omitempty=True, default="")
    repo: str = go_field(omitempty=True, default="")
    environment: str = go_field(omitempty=True, default="")
    credential_ref: str = go_field(omitempty=True, default="")
    matched_rule_ids: tuple[str, ...] = go_field(omitempty=True, default=())
    script: bool = go_field(omitempty=True, default=False)
    step_count: int = go_field(omitempty=True, default=0)
    script_hash: str = go_field(omitempty=True, default="")
    composite_risk_class: str = go_field(omitempty=True, default="")
    step_verdicts: tuple[dict[str, Any], ...] = go_field(omitempty=True, default=())
    latency_ms: float = go_field(omitempty=True, default=0.0)
    approval_token_ref: str = go_field(omitempty=True, default="")
    relationship: dict[str, Any] | None = go_field(omitempty=True, default=None)
    skill_provenance: dict[str, Any] | None = go_field(omitempty=True, default=None)
    signature: SignatureRecord | None = go_field(omitempty=True, default=None)


@attrs.frozen(kw_only=True)
class ApprovalToken:
    """`gait.gate.approval_token`."""

    schema_id: str = "gait.gate.approval_token"
    schema_version: str = "1.0.0"
    created_at: GoTime
    producer_version: str
    token_id: str
    approver_identity: str
    reason_code: str
    intent_digest: str
    policy_digest: str
    delegation_binding_digest: str = go_field(omitempty=True, default="")
    scope: tuple[str, ...]
    max_targets: int = go_field(omitempty=True, default=0)
    max_ops: int = go_field(omitempty=True, default=0)
    expires_at: GoTime
    signature: SignatureRecord | None = go_field(omitempty=True, default=None)


# --- runpack ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ManifestFile:
    path: str
    sha256: str


@attrs.frozen(kw_only=True)
class RunpackManifest:
    """`gait.runpack.manifest`; `manifest_digest` is always present (empty while digesting)."""

    schema_id: str = "gait.runpack.manifest"
    schema_version: str = "1.0.0"
    created_at: GoTime
    producer_version: str
    run_id: str
    capture_mode: str
    files: tuple[ManifestFile, ...]
    manifest_digest: str
    signatures: tuple[SignatureRecord, ...] = go_field(omitempty=True, default=())


@attrs.frozen(kw_only=True)
class RunEnv:
    os: str
    arch: str
    runtime: str


@attrs.frozen(kw_only=True)
class TimelineEvent:
    event: str
    ts: GoTime
    ref: str = go_field(omitempty=True, default="")
    relationship: dict[str, Any] | None = go_field(omitempty=True, default=None)


@attrs.frozen(kw_only=True)
class RunRecord:
    """`gait.runpack.run`. The reference writes a nil timeline as null; we always write a list."""

    schema_id: str = "gait.runpack.run"
    schema_version: str = "1.0.0"
    created_at: GoTime
    producer_version: str
    run_id: str
    env: RunEnv
    timeline: tuple[TimelineEvent, ...] | None = ()


@attrs.frozen(kw_only=True)
class IntentRecord:
    """`gait.runpack.intent`; `args` only in raw capture mode."""

    schema_id: str = "gait.runpack.intent"
    schema_version: str = "1.0.0"
    created_at: GoTime
    producer_version: str
    run_id: str
    intent_id: str
    tool_name: str
    args_digest: str
    args: dict[str, Any] | None = go_field(omitempty=True, default=None)


@attrs.frozen(kw_only=True)
class ResultRecord:
    """`gait.runpack.result`; `result` only in raw capture mode."""

    schema_id: str = "gait.runpack.result"
    schema_version: str = "1.0.0"
    created_at: GoTime
    producer_version: str
    run_id: str
    intent_id: str
    status: str
    result_digest: str
    result: dict[str, Any] | None = go_field(omitempty=True, default=None)


@attrs.frozen(kw_only=True)
class Receipt:
    ref_id: str
    source_type: str
    source_locator: str
    query_digest: str
    content_digest: str
    retrieved_at: GoTime
    redaction_mode: str
    immutability: str = go_field(omitempty=True, default="")
    freshness_sla_seconds: int = go_field(omitempty=True, default=0)
    sensitivity_label: str = go_field(omitempty=True, default="")
    retrieval_params: dict[str, Any] | None = go_field(omitempty=True, default=None)


@attrs.frozen(kw_only=True)
class RefsRecord:
    """`gait.runpack.refs`; `receipts` is always present."""

    schema_id: str = "gait.runpack.refs"
    schema_version: str = "1.0.0"
    created_at: GoTime
    producer_version: str
    run_id: str
    context_set_digest: str = go_field(omitempty=True, default="")
    context_evidence_mode: str = go_field(omitempty=True, default="")
    context_ref_count: int = go_field(omitempty=True, default=0)
    receipts: tuple[Receipt, ...] = ()
