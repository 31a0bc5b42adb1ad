"""The output a decision answers with (a wire contract per command): `gait gate eval`'s JSON
for the intent form, and the proxy output of §1.6 (`gait mcp proxy`, each service request, the
Gas Town hook's local path) for the adapter form. Built by the pipeline's persist stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from gait.contracts.trace import TraceRecord
    from gait.exports import DecisionEvent
    from gait.gate import GateOutcome

_ALWAYS: Final = frozenset({"ok", "executed"})


def call_output(
    outcome: GateOutcome,
    trace: TraceRecord,
    *,
    adapter: str,
    run_id: str,
    trace_path: str,
    runpack_path: str,
    latency_ms: int,
    warnings: Sequence[str],
) -> dict[str, Any]:
    decision = outcome.decision
    intent = decision.evaluation.intent
    assert intent is not None
    output = {
        "ok": True,
        "executed": False,
        "adapter": adapter,
        "run_id": run_id,
        "job_id": intent.context.job_id,
        "phase": intent.context.phase,
        "session_id": intent.context.session_id,
        "tool_name": intent.tool_name,
        "verdict": outcome.verdict,
        "reason_codes": list(outcome.reason_codes),
        "violations": list(outcome.violations),
        "policy_digest": decision.policy_digest,
        "policy_id": trace.policy_id,
        "policy_version": trace.policy_version,
        "matched_rule_ids": list(trace.matched_rule_ids),
        "intent_digest": decision.intent_digest,
        "decision_latency_ms": latency_ms,
        "trace_id": trace.trace_id,
        "trace_path": trace_path,
        "runpack_path": runpack_path,
        "mcp_trust": decision.mcp_trust,
        "warnings": list(warnings),
        "relationship": trace.relationship,
    }
    return {k: v for k, v in output.items() if v not in ("", [], None, 0) or k in _ALWAYS}


def gate_output(
    outcome: GateOutcome, trace_path: str, profile: str, warnings: Sequence[str]
) -> dict[str, Any]:
    decision = outcome.decision
    evaluation = decision.evaluation
    intent = evaluation.intent
    payload: dict[str, Any] = {
        "verdict": outcome.verdict,
        "reason_codes": list(outcome.reason_codes),
        "trace_id": outcome.trace_id,
        "trace_path": trace_path,
        "policy_digest": decision.policy_digest,
        "intent_digest": decision.intent_digest,
        "phase": intent.context.phase if intent else "",
        "matched_rule": evaluation.matched_rule,
        "violations": list(outcome.violations),
        "warnings": list(warnings),
    }
    if profile != "standard":
        payload["profile"] = profile
    if evaluation.script:
        payload.update(
            script=True,
            step_count=evaluation.step_count,
            script_hash=evaluation.script_hash,
            composite_risk_class=evaluation.composite_risk_class,
            step_verdicts=[step.to_json() for step in evaluation.step_verdicts],
        )
    if outcome.approval is not None:
        payload.update(
            approval_ref=outcome.approval.approval_ref,
            required_approvals=outcome.approval.required,
            valid_approvals=outcome.approval.valid_count,
        )
    for name, result in (
        ("rate_limit", outcome.rate_limit),
        ("destructive_budget", outcome.destructive_budget),
    ):
        if result is not None:
            payload.update(
                {
                    f"{name}_scope": result.scope,
                    f"{name}_key": result.key,
                    f"{name}_used": result.used,
                    f"{name}_remaining": result.remaining,
                }
            )
    if outcome.simulated_verdict:
        payload.update(
            simulate_mode=True,
            would_have_blocked=outcome.would_have_blocked,
            simulated_verdict=outcome.simulated_verdict,
            simulated_reason_codes=list(outcome.simulated_reason_codes),
        )
    # The reference omits empty values (Go omitempty) in this output.
    return {k: v for k, v in payload.items() if v not in ("", [], None)}


def gate_event(
    outcome: GateOutcome, trace: TraceRecord, trace_path: str, latency_ms: int
) -> DecisionEvent:
    """The event of a `gait gate eval` decision. It has no run id of its own, so the run id
    is derived from the intent digest as `gait mcp proxy` derives its default
    (`run_gate_<12 hex>`)."""
    from gait.exports import DecisionEvent

    intent = outcome.decision.evaluation.intent
    return DecisionEvent(
        source="gate.eval",
        created_at=trace.created_at,
        observed_at=trace.observed_at,
        producer_version=trace.producer_version,
        run_id="run_gate_" + trace.intent_digest[:12],
        session_id=intent.context.session_id if intent is not None else "",
        trace_id=trace.trace_id,
        trace_path=trace_path,
        tool_name=trace.tool_name,
        verdict=outcome.verdict,
        reason_codes=outcome.reason_codes,
        policy_digest=trace.policy_digest,
        intent_digest=trace.intent_digest,
        decision_latency_ms=max(latency_ms, 0),
    )
