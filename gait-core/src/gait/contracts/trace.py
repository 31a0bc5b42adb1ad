"""The records every decision writes: the signed trace (`gait.gate.trace`) and its signature.

Field order follows the reference's Go structs, which is the order of indented files on disk;
digests and signatures use canonical JSON, where order does not matter. The other v1 records
live in `gait.contracts.gate` and `gait.contracts.runpack`, imported only by what uses them.
"""

from __future__ import annotations

from typing import Any

import attrs

from gait.contracts.wire import go_field
from gait.timefmt import GoTime


@attrs.frozen(kw_only=True)
class SignatureRecord:
    alg: str
    key_id: str
    sig: str
    signed_digest: str = go_field(omitempty=True, default="")


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
    mcp_trust: dict[str, Any] | None = go_field(omitempty=True, default=None)
    relationship: dict[str, Any] | None = go_field(omitempty=True, default=None)
    skill_provenance: dict[str, Any] | None = go_field(omitempty=True, default=None)
    signature: SignatureRecord | None = go_field(omitempty=True, default=None)
