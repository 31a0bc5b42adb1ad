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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs

from gait.globmatch import BadPatternError, path_match
from gait.gostrings import go_lower, go_trim_space
from gait.intent import (
    ArgProvenance,
    Context,
    IntentError,
    NormalizedIntent,
    Target,
    normalize_intent,
    prepare_for_evaluation,
    raw_risk_class,
)
from gait.policy_facts import FACT_BUILDERS, FACT_COUNT
from gait.policy_index import CompiledPolicy, CompiledRule
from gait.policy_model import Dataflow, Endpoint, FailClosed, RateLimit
from gait.trace import trace_id_for

if TYPE_CHECKING:
    from gait.intent_sections import SkillProvenance

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

VERDICT_RANK: Final = {"allow": 0, "dry_run": 1, "require_approval": 2, "block": 3}
EXIT_CODE_BY_VERDICT: Final = {"allow": 0, "dry_run": 0, "block": 3, "require_approval": 4}
MAX_SCRIPT_STEPS: Final = 64
_DEFAULT_EGRESS_KINDS: Final = frozenset({"host", "url", "bucket", "queue", "topic"})


def stricter(current: str, candidate: str) -> str:
    """Go mostRestrictiveVerdict: the candidate when it ranks above current (unknown ranks 0)."""
    if VERDICT_RANK.get(candidate, 0) > VERDICT_RANK.get(current, 0):
        return candidate
    return current


def most_restrictive(first: str, *others: str) -> str:
    """The most restrictive verdict: allow < dry_run < require_approval < block.

    For combining the policy's verdict with plugin evaluators. Unlike `stricter`, an unknown
    verdict is an error (ValueError), never silently ranked as `allow`.
    """
    best = first
    for verdict in (first, *others):
        if verdict not in VERDICT_RANK:
            raise ValueError(f"unknown verdict: {verdict!r}")
        if VERDICT_RANK[verdict] > VERDICT_RANK[best]:
            best = verdict
    return best


@attrs.frozen
class StepVerdict:
    """The decision for one script step (`step_verdicts[]` of a trace)."""

    index: int
    tool_name: str
    verdict: str
    reason_codes: tuple[str, ...]
    violations: tuple[str, ...]
    matched_rule: str

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "tool_name": self.tool_name,
            "verdict": self.verdict,
            "reason_codes": list(self.reason_codes),
            "violations": list(self.violations),
        }
        if self.matched_rule:
            out["matched_rule"] = self.matched_rule
        return out


@attrs.frozen(kw_only=True)
class Decision:
    """The outcome of one evaluation (reference `EvalOutcome`).

    `intent` is the prepared intent the rules saw, or None when normalization failed and the
    policy failed closed; the CLI reports that case as invalid input (exit 6), like the
    reference, whose CLI re-normalizes the intent and hits the same error.
    """

    verdict: str
    reason_codes: tuple[str, ...]
    violations: tuple[str, ...]
    matched_rule: str = ""
    min_approvals: int = 0
    require_distinct_approvers: bool = False
    rate_limit: RateLimit | None = None
    destructive_budget: RateLimit | None = None
    dataflow_triggered: bool = False
    intent: NormalizedIntent | None = None
    intent_digest: str = ""
    policy_digest: str = ""
    phase: str = ""
    script: bool = False
    step_count: int = 0
    script_hash: str = ""
    composite_risk_class: str = ""
    step_verdicts: tuple[StepVerdict, ...] = ()
    trace_id: str = ""

    @property
    def exit_code(self) -> int:
        """The CLI exit code of this verdict: allow/dry_run 0, block 3, require_approval 4."""
        return EXIT_CODE_BY_VERDICT[self.verdict]

    @property
    def intent_evaluable(self) -> bool:
        return self.intent is not None


# --------------------------------------------------------------------------------------------
# Subjects and facts
# --------------------------------------------------------------------------------------------


class _Subject:
    """What rules are matched against: the intent, or one script step within its context."""

    __slots__ = (
        "_destructive",
        "context",
        "facts",
        "provenance",
        "skill",
        "targets",
        "tool_name",
    )

    def __init__(
        self,
        tool_name: str,
        targets: Sequence[Target],
        provenance: Sequence[ArgProvenance],
        context: Context,
        skill: SkillProvenance | None,
    ) -> None:
        self.tool_name = tool_name
        self.targets = targets
        self.provenance = provenance
        self.context = context
        self.skill = skill
        self.facts: list[Any] = [None] * FACT_COUNT
        self._destructive: bool | None = None

    def fact(self, index: int) -> Any:
        value = self.facts[index]
        if value is None:
            value = self.facts[index] = FACT_BUILDERS[index](self)
        return value

    @property
    def destructive(self) -> bool:
        if self._destructive is None:
            self._destructive = any(target.destructive for target in self.targets)
        return self._destructive


def _rule_matches(compiled: CompiledRule, subject: _Subject) -> bool:
    facts = subject.facts
    for index, allowed in compiled.checks:
        fact = facts[index]
        if fact is None:
            fact = facts[index] = FACT_BUILDERS[index](subject)
        if allowed.isdisjoint(fact):
            return False
    prefixes = compiled.workspace_prefixes
    if prefixes:
        workspace = subject.context.workspace
        return any(workspace.startswith(prefix) for prefix in prefixes)
    return True


# --------------------------------------------------------------------------------------------
# Per-rule constraints (spec §5.3)
# --------------------------------------------------------------------------------------------


def _dataflow_triggered(dataflow: Dataflow, subject: _Subject) -> bool:
    tainted = dataflow.tainted_sources
    if not any(entry.source in tainted for entry in subject.provenance):
        return False
    targets = subject.targets
    if not targets:
        return False
    kinds, values, operations = (
        dataflow.destination_kinds,
        dataflow.destination_values,
        dataflow.destination_operations,
    )
    if not kinds and not values and not operations:
        return any(target.kind in _DEFAULT_EGRESS_KINDS for target in targets)
    for target in targets:
        if kinds and target.kind not in kinds:
            continue
        if values and target.value not in values:
            continue
        if operations and target.operation not in operations:
            continue
        return True
    return False


def _path_matches(value: str, pattern: str) -> bool:
    if not pattern:
        return False
    value = go_trim_space(value)
    pattern = go_trim_space(pattern)
    if pattern == value:
        return True
    if pattern.endswith("/**"):
        prefix = pattern[:-3]
        if value == prefix or value.startswith(prefix + "/"):
            return True
    try:
        return path_match(pattern, value)
    except BadPatternError:
        return False


def _domain_matches(value: str, patterns: Iterable[str]) -> bool:
    value = go_lower(go_trim_space(value))
    for raw_pattern in patterns:
        pattern = go_lower(go_trim_space(raw_pattern))
        if not pattern:
            continue
        if value == pattern:
            return True
        if pattern.startswith("*.") and value.endswith(pattern[1:]):
            return True
        try:
            if path_match(pattern, value):
                return True
        except BadPatternError:
            continue
    return False


def _endpoint_outcome(
    endpoint: Endpoint, subject: _Subject
) -> tuple[str, list[str], list[str]] | None:
    reasons: list[str] = []
    violations: list[str] = []

    def flag(code: str) -> None:
        reasons.append(code)
        violations.append(code)

    for target in subject.targets:
        if target.kind == "path":
            path = go_trim_space(target.value)
            if endpoint.path_denylist and any(
                _path_matches(path, pattern) for pattern in endpoint.path_denylist
            ):
                flag("endpoint_path_denied")
            if endpoint.path_allowlist and not any(
                _path_matches(path, pattern) for pattern in endpoint.path_allowlist
            ):
                flag("endpoint_path_not_allowlisted")
        domain = go_lower(go_trim_space(target.endpoint_domain))
        if domain:
            if endpoint.domain_denylist and _domain_matches(domain, endpoint.domain_denylist):
                flag("endpoint_domain_denied")
            if endpoint.domain_allowlist and not _domain_matches(domain, endpoint.domain_allowlist):
                flag("endpoint_domain_not_allowlisted")
        endpoint_class = target.endpoint_class
        if (
            endpoint.egress_classes
            and endpoint_class.startswith("net.")
            and endpoint_class not in endpoint.egress_classes
        ):
            flag("endpoint_egress_class_not_allowed")
    effect = endpoint.action or "block"
    if endpoint.destructive_action and subject.destructive:
        effect = stricter(effect, endpoint.destructive_action)
        reasons.append("endpoint_destructive_operation")
        violations.append("destructive_operation")
    if not reasons:
        return None
    if endpoint.reason_code:
        reasons.append(endpoint.reason_code)
    if endpoint.violation:
        violations.append(endpoint.violation)
    return effect, reasons, violations


class _RuleOutcome:
    __slots__ = (
        "compiled",
        "dataflow_triggered",
        "effect",
        "min_approvals",
        "reasons",
        "violations",
    )

    def __init__(
        self,
        compiled: CompiledRule,
        effect: str,
        reasons: Sequence[str],
        violations: Sequence[str],
        min_approvals: int,
        dataflow_triggered: bool,
    ) -> None:
        self.compiled = compiled
        self.effect = effect
        self.reasons = reasons
        self.violations = violations
        self.min_approvals = min_approvals
        self.dataflow_triggered = dataflow_triggered


def _adjust(compiled: CompiledRule, subject: _Subject) -> _RuleOutcome:
    """Go evaluateMatchedRule, for the supported constraints, in the reference order."""
    rule = compiled.rule
    effect = rule.effect
    reasons: Sequence[str] = compiled.reasons
    violations: Sequence[str] = rule.violations
    dataflow_triggered = False
    if compiled.has_constraints:
        reasons, violations = list(reasons), list(violations)
        if rule.dataflow.enabled and _dataflow_triggered(rule.dataflow, subject):
            dataflow_triggered = True
            effect = rule.dataflow.action  # replaced, not made stricter
            reasons.append(rule.dataflow.reason_code)
            violations.append(rule.dataflow.violation)
        if rule.endpoint.enabled:
            endpoint = _endpoint_outcome(rule.endpoint, subject)
            if endpoint is not None:
                effect = stricter(effect, endpoint[0])
                reasons.extend(endpoint[1])
                violations.extend(endpoint[2])
    if subject.destructive:
        phase = subject.context.phase
        if phase == "plan":
            effect = stricter(effect, "dry_run")
            reasons = [*reasons, "plan_phase_non_destructive"]
        elif phase in ("", "apply"):
            effect = stricter(effect, "require_approval")
            reasons = [*reasons, "destructive_apply_requires_approval"]
    min_approvals = rule.min_approvals
    if effect == "require_approval" and min_approvals == 0:
        min_approvals = 1
    return _RuleOutcome(compiled, effect, reasons, violations, min_approvals, dataflow_triggered)


def _merge_rate_limit(current: RateLimit | None, candidate: RateLimit) -> RateLimit | None:
    """Go mergeRateLimitPolicy: fewest requests, then minute before hour, then smaller scope."""
    if candidate.requests <= 0:
        return current
    if current is None:
        return candidate
    if candidate.requests != current.requests:
        return candidate if candidate.requests < current.requests else current
    windows = {"minute": 0, "hour": 1}
    candidate_window = windows.get(candidate.window, 2)
    current_window = windows.get(current.window, 2)
    if candidate_window != current_window:
        return candidate if candidate_window < current_window else current
    return candidate if candidate.scope < current.scope else current


# --------------------------------------------------------------------------------------------
# Single intent (spec §5.1) and scripts (§5.4)
# --------------------------------------------------------------------------------------------


class _Outcome:
    __slots__ = (
        "dataflow_triggered",
        "destructive_budget",
        "matched_rule",
        "min_approvals",
        "rate_limit",
        "reasons",
        "require_distinct_approvers",
        "verdict",
        "violations",
    )

    def __init__(
        self,
        verdict: str,
        reasons: tuple[str, ...],
        violations: tuple[str, ...],
        matched_rule: str = "",
        min_approvals: int = 0,
        require_distinct_approvers: bool = False,
        rate_limit: RateLimit | None = None,
        destructive_budget: RateLimit | None = None,
        dataflow_triggered: bool = False,
    ) -> None:
        self.verdict = verdict
        self.reasons = reasons
        self.violations = violations
        self.matched_rule = matched_rule
        self.min_approvals = min_approvals
        self.require_distinct_approvers = require_distinct_approvers
        self.rate_limit = rate_limit
        self.destructive_budget = destructive_budget
        self.dataflow_triggered = dataflow_triggered


def _evaluate_subject(policy: CompiledPolicy, subject: _Subject) -> _Outcome:
    tier: int | None = None
    matched: list[CompiledRule] = []
    for compiled in policy.candidates(subject.fact):
        priority = compiled.rule.priority
        if tier is not None and priority != tier:
            break
        if _rule_matches(compiled, subject):
            tier = priority
            matched.append(compiled)
    if not matched:
        default = policy.policy.default_verdict
        return _Outcome(
            default,
            ("default_" + default,),
            (),
            min_approvals=1 if default == "require_approval" else 0,
        )
    if len(matched) == 1:
        only = _adjust(matched[0], subject)
        rule = matched[0].rule
        if only.reasons is matched[0].reasons and only.violations is rule.violations:
            # Unadjusted codes are already normalized (trimmed, unique, sorted).
            verdict = only.effect
            required = verdict == "require_approval"
            limit = rule.rate_limit
            budget = rule.destructive_budget
            return _Outcome(
                verdict,
                only.reasons,
                only.violations,
                matched_rule=rule.name,
                min_approvals=only.min_approvals if required else 0,
                require_distinct_approvers=rule.require_distinct_approvers and required,
                rate_limit=limit if limit.requests > 0 else None,
                destructive_budget=budget if budget.requests > 0 else None,
            )
        verdict = only.effect
        selected = [only]
    else:
        outcomes = [_adjust(compiled, subject) for compiled in matched]
        verdict = max((outcome.effect for outcome in outcomes), key=VERDICT_RANK.__getitem__)
        selected = [outcome for outcome in outcomes if outcome.effect == verdict]
    reasons: set[str] = set()
    violations: set[str] = set()
    rate_limit: RateLimit | None = None
    destructive_budget: RateLimit | None = None
    min_approvals = 0
    distinct = False
    dataflow_triggered = False
    for outcome in selected:
        reasons.update(outcome.reasons)
        violations.update(outcome.violations)
        rule = outcome.compiled.rule
        min_approvals = max(min_approvals, outcome.min_approvals)
        distinct = distinct or rule.require_distinct_approvers
        dataflow_triggered = dataflow_triggered or outcome.dataflow_triggered
        rate_limit = _merge_rate_limit(rate_limit, rule.rate_limit)
        destructive_budget = _merge_rate_limit(destructive_budget, rule.destructive_budget)
    if verdict != "require_approval":
        min_approvals, distinct = 0, False
    return _Outcome(
        verdict,
        _sorted_codes(reasons),
        _sorted_codes(violations),
        matched_rule=",".join(sorted(compiled.rule.name for compiled in matched)),
        min_approvals=min_approvals,
        require_distinct_approvers=distinct,
        rate_limit=rate_limit,
        destructive_budget=destructive_budget,
        dataflow_triggered=dataflow_triggered,
    )


def _sorted_codes(codes: Iterable[str]) -> tuple[str, ...]:
    """Go uniqueSorted: trimmed, empties dropped, deduplicated, sorted."""
    return tuple(sorted({trimmed for code in codes if (trimmed := go_trim_space(code))}))


def _step_risk_class(targets: Iterable[Target]) -> str:
    risk = "low"
    for target in targets:
        endpoint_class = target.endpoint_class
        if endpoint_class in ("fs.delete", "proc.exec") or target.destructive:
            return "high"
        if endpoint_class in ("fs.write", "net.http", "net.dns"):
            risk = "medium"
    return risk


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


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
    outcome: _Outcome,
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
        subject = _Subject(
            step.tool_name,
            step.targets,
            step.arg_provenance,
            intent.context,
            intent.skill_provenance,
        )
        outcome = _evaluate_subject(policy, subject)
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
            rate_limit = _merge_rate_limit(rate_limit, outcome.rate_limit)
        if outcome.destructive_budget is not None:
            destructive_budget = _merge_rate_limit(destructive_budget, outcome.destructive_budget)
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
    outcome = _Outcome(
        verdict,
        _sorted_codes(reasons),
        _sorted_codes(violations),
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
                _Outcome("block", _sorted_codes(reasons), _sorted_codes(violations)),
            )
    if intent.script is not None:
        return _evaluate_script(policy, intent)
    subject = _Subject(
        intent.tool_name,
        intent.targets,
        intent.arg_provenance,
        intent.context,
        intent.skill_provenance,
    )
    return _decision(policy, intent, _evaluate_subject(policy, subject))


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
                _Outcome("block", ("fail_closed_intent_invalid",), ("intent_not_evaluable",)),
            )
        raise
    return evaluate_intent(policy, intent)
