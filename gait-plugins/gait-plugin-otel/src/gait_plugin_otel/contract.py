"""The attribute contract of a decision's OpenTelemetry log record (docs/otel_contract.md).

These names and types are stable: a collector rule, a SIEM field mapping or an alert written
against them keeps working across releases. New attributes may be added; none is renamed,
retyped or removed. Only identifiers, digests, the verdict and timing leave the process, never
a tool call's arguments. No SDK import here.
"""

from __future__ import annotations

from typing import Any, Final

from gait.exports import DecisionEvent

EVENT_NAME: Final = "gait.decision"
SCOPE_NAME: Final = "gait"

# name -> OTLP value type, in the order docs/otel_contract.md lists them.
ATTRIBUTES: Final = {
    "gait.source": "string",
    "gait.run_id": "string",
    "gait.session_id": "string",
    "gait.trace_id": "string",
    "gait.trace_path": "string",
    "gait.tool_name": "string",
    "gait.verdict": "string",
    "gait.reason_codes": "string[]",
    "gait.policy_digest": "string",
    "gait.intent_digest": "string",
    "gait.decision_latency_ms": "int",
}

# Severity by verdict: what must not run is a warning, so that a SIEM can alert on severity.
SEVERITY: Final = {
    "allow": ("INFO", 9),
    "dry_run": ("INFO", 9),
    "require_approval": ("WARN", 13),
    "block": ("WARN", 13),
}


def decision_attributes(event: DecisionEvent) -> dict[str, Any]:
    """Every contract attribute, always present (an empty string when the decision has no
    value, e.g. no session)."""
    return {
        "gait.source": event.source,
        "gait.run_id": event.run_id,
        "gait.session_id": event.session_id,
        "gait.trace_id": event.trace_id,
        "gait.trace_path": event.trace_path,
        "gait.tool_name": event.tool_name,
        "gait.verdict": event.verdict,
        "gait.reason_codes": list(event.reason_codes),
        "gait.policy_digest": event.policy_digest,
        "gait.intent_digest": event.intent_digest,
        "gait.decision_latency_ms": event.decision_latency_ms,
    }


def severity(verdict: str) -> tuple[str, int]:
    """(severity text, OTLP severity number); an unknown verdict is treated as a block."""
    return SEVERITY.get(verdict, SEVERITY["block"])
