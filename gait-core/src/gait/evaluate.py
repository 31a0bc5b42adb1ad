"""Gate evaluation: one intent against one compiled policy, deterministic and side-effect free.

`evaluate(policy, raw_intent)` is the reference `EvaluatePolicyDetailed` (spec §4, §5):

1. Normalize and prepare the intent. On a normalization error, fail closed (`block`,
   `fail_closed_intent_invalid`) when the policy's fail-closed block covers the intent's *raw*
   risk class; otherwise the `IntentError` propagates (invalid input, CLI exit 6).
2. Fail-closed required-field and unknown-endpoint-class checks.
3. Rules: the first matching priority tier, each matched rule adjusted (dataflow, endpoint,
   destructive/phase, approvals), the most restrictive adjusted effect wins; or, for a script,
   every step evaluated that way and combined, then the script limits.

What the CLI adds afterwards (approval and delegation tokens, rate-limit state, simulate mode,
kill switch, signing) is not done here. `Decision` carries what those steps need.

The layers: `gait.evaluate_result` (the verdict order, `Decision`, `StepVerdict`),
`gait.evaluate_constraints` (the dataflow and endpoint constraints), `gait.evaluate_rules` (one
subject against the rules); this module checks fail-closed, combines script steps, assembles the
`Decision`, and re-exports the public names of `gait.evaluate_result`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from gait.evaluate_result import (
    EXIT_CODE_BY_VERDICT,
    VERDICT_RANK,
    Decision,
    StepVerdict,
    most_restrictive,
    stricter,
)
from gait.evaluate_rules import Outcome, Subject, evaluate_subject, merge_rate_limit, sorted_codes
from gait.gostrings import go_trim_space
from gait.intent import (
    IntentError,
    NormalizedIntent,
    Target,
    normalize_intent,
    prepare_for_evaluation,
    raw_risk_class,
)
from gait.policy_index import CompiledPolicy
from gait.policy_model import FailClosed, RateLimit
from gait.trace import trace_id_for

__all__ = [
    "EXIT_CODE_BY_VERDICT",
    "MAX_SCRIPT_STEPS",
    "VERDICT_RANK",
    "Decision",
    "StepVerdict",
    "evaluate",
    "evaluate_intent",
    "most_restrictive",
    "stricter",
]

MAX_SCRIPT_STEPS: Final = 64


# --------------------------------------------------------------------------------------------
# Fail closed, the decision, scripts (spec §5.4) and the entry points
# --------------------------------------------------------------------------------------------


def _step_risk_class(targets: Iterable[Target]) -> str:
    risk = "low"
    for target in targets:
        endpoint_class = target.endpoint_class
        if endpoint_class in ("fs.delete", "proc.exec") or target.destructive:
            return "high"
        if endpoint_class in ("fs.write", "net.http", "net.dns"):
            risk = "medium"
    return risk


def _fail_closed_reasons(
    fail_closed: FailClosed, intent: NormalizedIntent
) -> tuple[list[str], list[str]]:
    reasons: list[str] = []
    violations: list[str] = []
    context = intent.context
    for field in fail_closed.required_fields:
        if field == "targets":
            missing = not intent.targets
        elif field == "arg_provenance":
            missing = not intent.arg_provenance
        elif field == "endpoint_class":
            missing = any(t.endpoint_class in ("", "other") for t in intent.targets)
        elif field == "delegation":
            missing = intent.delegation is None
        elif field == "context_evidence":
            if not go_trim_space(context.context_set_digest or ""):
                reasons.append("context_evidence_missing")
                violations.append("missing_context_evidence")
            continue
        else:  # pragma: no cover - validated when the policy was loaded
            continue
        if missing:
            reasons.append("fail_closed_missing_" + field)
            violations.append("missing_" + field)
    for field in fail_closed.required_high_risk_fields:
        value = getattr(context, field, None)
        if field == "credential_ttl_seconds":
            missing = not isinstance(value, int | float) or value <= 0
        elif field == "agent_identity":
            missing = value is None
        else:
            missing = not isinstance(value, str) or not go_trim_space(value)
        if missing:
            reasons.append("fail_closed_missing_" + field)
            violations.append("missing_" + field)
    if any(t.endpoint_class in ("", "other") for t in intent.targets):
        reasons.append("fail_closed_endpoint_class_unknown")
        violations.append("endpoint_class_unknown")
    return reasons, violations


def _decision(
    policy: CompiledPolicy,
    intent: NormalizedIntent | None,
    outcome: Outcome,
    **script_fields: Any,
) -> Decision:
    intent_digest = intent.intent_digest if intent is not None else ""
    return Decision(
        verdict=outcome.verdict,
        reason_codes=outcome.reasons,
        violations=outcome.violations,
        matched_rule=outcome.matched_rule,
        min_approvals=outcome.min_approvals,
        require_distinct_approvers=outcome.require_distinct_approvers,
        rate_limit=outcome.rate_limit,
        destructive_budget=outcome.destructive_budget,
        dataflow_triggered=outcome.dataflow_triggered,
        intent=intent,
        intent_digest=intent_digest,
        policy_digest=policy.digest,
        phase=intent.context.phase if intent is not None else "",
        trace_id=trace_id_for(policy.digest, intent_digest, outcome.verdict),
        **script_fields,
    )


def _evaluate_script(policy: CompiledPolicy, intent: NormalizedIntent) -> Decision:
    assert intent.script is not None
    steps = intent.script.steps
    verdict = "allow"
    reasons: set[str] = set()
    violations: set[str] = set()
    matched_rules: set[str] = set()
    min_approvals = 0
    distinct = False
    dataflow_triggered = False
    rate_limit: RateLimit | None = None
    destructive_budget: RateLimit | None = None
    risk_classes: set[str] = set()
    step_verdicts: list[StepVerdict] = []
    for index, step in enumerate(steps):
        subject = Subject(
            step.tool_name,
            step.targets,
            step.arg_provenance,
            intent.context,
            intent.skill_provenance,
        )
        outcome = evaluate_subject(policy, subject)
        step_verdicts.append(
            StepVerdict(
                index,
                step.tool_name,
                outcome.verdict,
                outcome.reasons,
                outcome.violations,
                outcome.matched_rule,
            )
        )
        verdict = stricter(verdict, outcome.verdict)
        reasons.update(outcome.reasons)
        violations.update(outcome.violations)
        if outcome.matched_rule:
            matched_rules.add(outcome.matched_rule)
        min_approvals = max(min_approvals, outcome.min_approvals)
        distinct = distinct or outcome.require_distinct_approvers
        dataflow_triggered = dataflow_triggered or outcome.dataflow_triggered
        if outcome.rate_limit is not None:
            rate_limit = merge_rate_limit(rate_limit, outcome.rate_limit)
        if outcome.destructive_budget is not None:
            destructive_budget = merge_rate_limit(destructive_budget, outcome.destructive_budget)
        risk_classes.add(_step_risk_class(step.targets))

    scripts = policy.policy.scripts
    max_steps = scripts.max_steps if scripts.max_steps > 0 else MAX_SCRIPT_STEPS
    if len(steps) > max_steps:
        verdict = "block"
        reasons.add("script_max_steps_exceeded")
        violations.add("script_max_steps_exceeded")
    if scripts.require_approval_above > 0 and len(steps) > scripts.require_approval_above:
        verdict = stricter(verdict, "require_approval")
        reasons.add("script_step_threshold_approval")
        min_approvals = max(min_approvals, 1)
    if scripts.block_mixed_risk and len(risk_classes) > 1:
        verdict = "block"
        reasons.add("script_mixed_risk_blocked")
        violations.add("script_mixed_risk")
    composite = (
        "high" if "high" in risk_classes else "medium" if "medium" in risk_classes else "low"
    )
    outcome = Outcome(
        verdict,
        sorted_codes(reasons),
        sorted_codes(violations),
        matched_rule=",".join(sorted(matched_rules)),
        min_approvals=min_approvals,
        require_distinct_approvers=distinct,
        rate_limit=rate_limit,
        destructive_budget=destructive_budget,
        dataflow_triggered=dataflow_triggered,
    )
    return _decision(
        policy,
        intent,
        outcome,
        script=True,
        step_count=len(steps),
        script_hash=intent.script_hash,
        composite_risk_class=composite,
        step_verdicts=tuple(step_verdicts),
    )


def evaluate_intent(policy: CompiledPolicy, intent: NormalizedIntent) -> Decision:
    """Evaluate an intent that is already normalized and prepared (`prepare_for_evaluation`)."""
    fail_closed = policy.policy.fail_closed
    if fail_closed.enabled and fail_closed.applies(intent.context.risk_class):
        reasons, violations = _fail_closed_reasons(fail_closed, intent)
        if reasons:
            return _decision(
                policy,
                intent,
                Outcome("block", sorted_codes(reasons), sorted_codes(violations)),
            )
    if intent.script is not None:
        return _evaluate_script(policy, intent)
    subject = Subject(
        intent.tool_name,
        intent.targets,
        intent.arg_provenance,
        intent.context,
        intent.skill_provenance,
    )
    return _decision(policy, intent, evaluate_subject(policy, subject))


def evaluate(policy: CompiledPolicy, raw_intent: Mapping[str, Any]) -> Decision:
    """Normalize, prepare and evaluate a raw intent (a decoded `gait.gate.intent_request`).

    Raises `IntentError` when the intent cannot be normalized and the policy does not fail
    closed for its raw risk class (the CLI maps that to exit 6).
    """
    try:
        intent = prepare_for_evaluation(normalize_intent(raw_intent))
    except IntentError:
        if policy.policy.fail_closed.applies(raw_risk_class(raw_intent)):
            return _decision(
                policy,
                None,
                Outcome("block", ("fail_closed_intent_invalid",), ("intent_not_evaluable",)),
            )
        raise
    return evaluate_intent(policy, intent)
