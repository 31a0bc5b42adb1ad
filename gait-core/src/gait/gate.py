"""The one decision pipeline every entry point shares: the CLI, the Python API and the service.

    raw intent --evaluate--> policy Decision --+ plugin evaluators (most restrictive wins)
        --> post-evaluation: rate limit, destructive budget, approval tokens, simulate
        --> GateOutcome --> (explicit) signed trace --> export events

`Gate.evaluate` is the pure part (no state, no I/O). `Gate.enforce` adds the post-evaluation
steps, which read and write state files. Signing and writing a trace is a separate call.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from gait import __version__
from gait.canonical import digest
from gait.contracts.trace import TraceRecord
from gait.evaluate import Decision, evaluate, most_restrictive
from gait.keys import SigningKey, VerifyKey
from gait.policy import CompiledPolicy, load_policy, load_policy_file
from gait.timefmt import GoTime
from gait.trace import (
    TraceInput,
    build_trace,
    sign_trace_wire,
    trace_id_for,
    trace_json_bytes,
    write_trace_bytes,
)

if TYPE_CHECKING:
    # Approvals, rate limits and plugins are imported where they are used: most decisions need
    # none of them, and every import costs start-up time (`gait gate eval` runs once per tool
    # call).
    from gait.approval import ApprovalContext, ApprovalOutcome
    from gait.hookspecs import EvaluatorVerdict, ExportEvent
    from gait.plugins import ExportFailure, PluginHost
    from gait.ratelimit import LimitResult

ZERO_CREATED_AT = GoTime.parse("1980-01-01T00:00:00Z")


@attrs.frozen(kw_only=True)
class GateDecision:
    """A decision: the policy's, made stricter by plugin evaluators when any disagree."""

    verdict: str
    reason_codes: tuple[str, ...]
    violations: tuple[str, ...]
    intent_digest: str
    policy_digest: str
    evaluation: Decision
    plugin_verdicts: tuple[tuple[str, EvaluatorVerdict], ...] = ()
    plugins: tuple[Mapping[str, str], ...] = ()
    latency_ms: float = 0.0
    # The MCP server trust decision object, when the MCP boundary checked one (gait.mcp.trust).
    mcp_trust: Mapping[str, Any] | None = None

    @property
    def trace_id(self) -> str:
        return trace_id_for(self.policy_digest, self.intent_digest, self.verdict)

    @property
    def matched_rule(self) -> str:
        return self.evaluation.matched_rule

    @property
    def allowed(self) -> bool:
        """True only for `allow`: every other verdict means do not execute."""
        return self.verdict == "allow"


def combine(
    decision: Decision,
    answers: Sequence[tuple[str, EvaluatorVerdict]],
    *,
    plugins: tuple[Mapping[str, str], ...] = (),
    latency_ms: float = 0.0,
) -> GateDecision:
    """Most restrictive wins; reasons come from every source whose verdict is the final one."""
    if not answers:  # the policy alone: its verdict and codes as they are (built once)
        return GateDecision(
            verdict=decision.verdict,
            reason_codes=tuple(sorted(set(decision.reason_codes))),
            violations=tuple(sorted(set(decision.violations))),
            intent_digest=decision.intent_digest,
            policy_digest=decision.policy_digest,
            evaluation=decision,
            plugins=plugins,
            latency_ms=latency_ms,
        )
    verdict = most_restrictive(decision.verdict, *(answer.verdict for _, answer in answers))
    reasons = set(decision.reason_codes) if decision.verdict == verdict else set()
    violations = set(decision.violations) if decision.verdict == verdict else set()
    for _, answer in answers:
        if answer.verdict == verdict:
            reasons.update(answer.reason_codes)
            violations.update(answer.violations)
    return GateDecision(
        verdict=verdict,
        reason_codes=tuple(sorted(reasons)),
        violations=tuple(sorted(violations)),
        intent_digest=decision.intent_digest,
        policy_digest=decision.policy_digest,
        evaluation=decision,
        plugin_verdicts=tuple(answers),
        plugins=plugins,
        latency_ms=latency_ms,
    )


@attrs.frozen(kw_only=True)
class EnforceOptions:
    """The post-evaluation inputs of `gait gate eval`."""

    approval_tokens: Sequence[Mapping[str, Any]] = ()
    approval_key: VerifyKey | None = None
    rate_limit_state: Path | None = None
    simulate: bool = False
    now: GoTime | None = None


@attrs.frozen(kw_only=True)
class GateOutcome:
    """The final answer after post-evaluation; `decision` is before it."""

    decision: GateDecision
    verdict: str
    reason_codes: tuple[str, ...]
    violations: tuple[str, ...]
    approval: ApprovalOutcome | None = None
    approval_context: ApprovalContext | None = None
    rate_limit: LimitResult | None = None
    destructive_budget: LimitResult | None = None
    simulated_verdict: str = ""
    simulated_reason_codes: tuple[str, ...] = ()

    @property
    def trace_id(self) -> str:
        return trace_id_for(self.decision.policy_digest, self.decision.intent_digest, self.verdict)

    @property
    def would_have_blocked(self) -> bool:
        return self.simulated_verdict in ("block", "require_approval")


class Gate:
    """A compiled policy plus the plugins that take part in its decisions.

    >>> gate = Gate.load("policy.yaml")                          # doctest: +SKIP
    >>> decision = gate.evaluate(intent_dict)                    # doctest: +SKIP
    >>> decision.verdict, decision.reason_codes                  # doctest: +SKIP
    """

    def __init__(self, policy: CompiledPolicy, plugins: PluginHost | None = None) -> None:
        self.policy = policy
        self.plugins = plugins

    @classmethod
    def load(cls, path: str | Path, *, plugins: PluginHost | None = None) -> Gate:
        return cls(load_policy_file(path), plugins)

    @classmethod
    def from_yaml(cls, text: str | bytes, *, plugins: PluginHost | None = None) -> Gate:
        return cls(load_policy(text), plugins)

    @property
    def policy_digest(self) -> str:
        return self.policy.digest

    def evaluate(self, intent: Mapping[str, Any]) -> GateDecision:
        """Decide one intent (a decoded `gait.gate.intent_request`). Raises IntentError for an
        intent that cannot be evaluated and is not covered by fail-closed."""
        started = time.perf_counter()
        decision = evaluate(self.policy, intent)
        answers: list[tuple[str, EvaluatorVerdict]] = []
        participants: tuple[Mapping[str, str], ...] = ()
        if self.plugins is not None and decision.intent is not None:
            answers = self.plugins.evaluate(decision.intent, decision.policy_digest)
            participants = tuple(self.plugins.participants()) if answers else ()
        return combine(
            decision,
            answers,
            plugins=participants,
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    def enforce(self, intent: Mapping[str, Any], options: EnforceOptions) -> GateOutcome:
        """Evaluate, then apply rate limits, approval tokens and simulate mode, in that order."""
        return enforce(self.evaluate(intent), options)

    def sign_trace(
        self,
        outcome: GateOutcome | GateDecision,
        key: SigningKey,
        *,
        path: Path | None = None,
        correlation_id: str = "",
        observed_at: GoTime | None = None,
        approval_token_ref: str = "",
    ) -> TraceRecord:
        """Build, sign and (when `path` is given) atomically write the trace of a decision.

        `approval_token_ref` is recorded when no approval token was valid.
        """
        trace, wire = self.sign_trace_wire(
            outcome,
            key,
            correlation_id=correlation_id,
            observed_at=observed_at,
            approval_token_ref=approval_token_ref,
        )
        if path is not None:
            write_trace_bytes(path, trace_json_bytes(wire))
        return trace

    def sign_trace_wire(
        self,
        outcome: GateOutcome | GateDecision,
        key: SigningKey,
        *,
        correlation_id: str = "",
        observed_at: GoTime | None = None,
        approval_token_ref: str = "",
    ) -> tuple[TraceRecord, dict[str, Any]]:
        """`sign_trace` without the write: the signed trace and its wire form, for a caller
        that writes the file itself (the service names traces uniquely)."""
        source = trace_input(outcome, correlation_id)
        if not source.approval_token_ref and approval_token_ref:
            source = attrs.evolve(source, approval_token_ref=approval_token_ref)
        trace, wire = sign_trace_wire(build_trace(source, observed_at=observed_at), key)
        if self.plugins is not None and self.plugins.hookimpls("gait_export"):
            from gait.hookspecs import ExportEvent

            self.export(ExportEvent(kind="decision", record=wire))
        return trace, wire

    def export(self, event: ExportEvent) -> list[ExportFailure]:
        return [] if self.plugins is None else self.plugins.export(event)


def _limit(
    spec: Any, state: Path, *, tool_name: str, identity: str, now: GoTime
) -> LimitResult | None:
    if spec is None or spec.requests <= 0:
        return None
    from gait.ratelimit import LimitSpec, consume

    return consume(
        state,
        LimitSpec(requests=spec.requests, window=spec.window, scope=spec.scope),
        tool_name=tool_name,
        identity=identity,
        now=now,
    )


def approval_context(decision: GateDecision) -> ApprovalContext:
    from gait.approval import ApprovalContext

    intent = decision.evaluation.intent
    assert intent is not None
    scope = [f"tool:{intent.tool_name}"]
    if intent.context.phase == "apply" and intent.is_destructive:
        scope += ["phase:apply", "destructive:apply"]
    targets = (
        sum(len(step.targets) for step in intent.script.steps)
        if intent.script is not None
        else len(intent.targets)
    )
    ops = len(intent.script.steps) if intent.script is not None else len(intent.targets)
    delegation = intent.digest_payload().get("delegation")
    return ApprovalContext(
        intent_digest=decision.intent_digest,
        policy_digest=decision.policy_digest,
        required_scope=tuple(sorted(scope)),
        delegation_binding=digest(delegation) if delegation else "",
        target_count=targets,
        op_count=max(ops, 1),
    )


def enforce(decision: GateDecision, options: EnforceOptions) -> GateOutcome:
    now = options.now or GoTime.now()
    verdict = decision.verdict
    reasons = set(decision.reason_codes)
    violations = set(decision.violations)
    intent = decision.evaluation.intent
    limits: dict[str, LimitResult | None] = {"rate_limit": None, "destructive_budget": None}
    if intent is not None and options.rate_limit_state is not None:
        identity = intent.context.identity
        limits["rate_limit"] = _limit(
            decision.evaluation.rate_limit,
            options.rate_limit_state,
            tool_name=intent.tool_name,
            identity=identity,
            now=now,
        )
        if intent.is_destructive:
            limits["destructive_budget"] = _limit(
                decision.evaluation.destructive_budget,
                options.rate_limit_state,
                tool_name=f"destructive_budget|{intent.tool_name}",
                identity=identity,
                now=now,
            )
        for name, result in limits.items():
            if result is not None and not result.allowed:
                verdict = "block"
                reasons.add(f"{name}_exceeded")
                violations.add(f"{name}_exceeded")
    approval: ApprovalOutcome | None = None
    context: ApprovalContext | None = None
    if verdict == "require_approval" and intent is not None:
        from gait.approval import TokenCheck, check_token, decide_approvals

        context = approval_context(decision)
        checks: list[TokenCheck] = []
        for raw in options.approval_tokens:
            if options.approval_key is None:
                checks.append(TokenCheck(token=None, error_code="approval_token_signature_invalid"))
            else:
                checks.append(check_token(raw, key=options.approval_key, context=context, now=now))
        approval = decide_approvals(
            checks,
            min_approvals=decision.evaluation.min_approvals,
            distinct_required=decision.evaluation.require_distinct_approvers,
        )
        reasons.update(approval.reason_codes)
        violations.update(approval.violations)
        if approval.granted:
            verdict = "allow"
    simulated_verdict = ""
    simulated_reasons: tuple[str, ...] = ()
    if options.simulate:
        simulated_verdict, simulated_reasons = verdict, tuple(sorted(reasons))
        reasons.add("simulate_mode_non_enforcing")
        if verdict in ("block", "require_approval"):
            reasons.add(f"simulated_{verdict}")
            violations.clear()
            verdict = "allow"
    return GateOutcome(
        decision=decision,
        verdict=verdict,
        reason_codes=tuple(sorted(reasons)),
        violations=tuple(sorted(violations)),
        approval=approval,
        approval_context=context,
        rate_limit=limits["rate_limit"],
        destructive_budget=limits["destructive_budget"],
        simulated_verdict=simulated_verdict,
        simulated_reason_codes=simulated_reasons,
    )


def trace_input(outcome: GateOutcome | GateDecision, correlation_id: str) -> TraceInput:
    decision = outcome.decision if isinstance(outcome, GateOutcome) else outcome
    intent = decision.evaluation.intent
    if intent is None:
        raise ValueError("a decision on an intent that could not be normalized has no trace")
    evaluation = decision.evaluation
    script: dict[str, Any] = {}
    if evaluation.script:
        script = {
            "step_count": evaluation.step_count,
            "script_hash": evaluation.script_hash,
            "composite_risk_class": evaluation.composite_risk_class,
            "step_verdicts": [step.to_json() for step in evaluation.step_verdicts],
        }
    approval_ref = ""
    if isinstance(outcome, GateOutcome) and outcome.approval is not None:
        approval_ref = outcome.approval.approval_ref
    payload = intent.digest_payload()
    return TraceInput(
        created_at=(intent.created_at.utc() if intent.created_at else ZERO_CREATED_AT),
        producer_version=__version__,
        tool_name=intent.tool_name,
        args_digest=intent.args_digest,
        intent_digest=decision.intent_digest,
        policy_digest=decision.policy_digest,
        verdict=outcome.verdict,
        violations=outcome.violations,
        identity=intent.context.identity,
        context=payload["context"],
        correlation_id=correlation_id,
        latency_ms=decision.latency_ms,
        script=script,
        approval_token_ref=approval_ref,
        skill_provenance=payload.get("skill_provenance"),
        plugins=decision.plugins,
        mcp_trust=decision.mcp_trust,
    )
