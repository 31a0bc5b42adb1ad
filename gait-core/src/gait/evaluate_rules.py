"""Rule matching (spec §5.1, §5.3): one subject (an intent, or one script step in its
context) against a compiled policy. The first priority tier with a matching rule wins; each
matched rule is adjusted (dataflow and endpoint constraints, destructive targets by phase,
approvals) and the most restrictive adjusted effect is the subject's verdict.

`gait.evaluate` turns the outcome into a `Decision`, and combines script steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from gait.evaluate_constraints import dataflow_matches, endpoint_outcome
from gait.evaluate_result import VERDICT_RANK, stricter
from gait.gostrings import go_trim_space
from gait.intent_model import Context
from gait.intent_targets import ArgProvenance, Target
from gait.policy_facts import FACT_BUILDERS, FACT_COUNT
from gait.policy_index import CompiledPolicy, CompiledRule
from gait.policy_model import RateLimit

if TYPE_CHECKING:
    from gait.intent_sections import SkillProvenance

# --------------------------------------------------------------------------------------------
# Subjects and facts
# --------------------------------------------------------------------------------------------


class Subject:
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


def _rule_matches(compiled: CompiledRule, subject: Subject) -> bool:
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
# Each matched rule adjusted (spec §5.3)
# --------------------------------------------------------------------------------------------


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


def _adjust(compiled: CompiledRule, subject: Subject) -> _RuleOutcome:
    """Go evaluateMatchedRule, for the supported constraints, in the reference order."""
    rule = compiled.rule
    effect = rule.effect
    reasons: Sequence[str] = compiled.reasons
    violations: Sequence[str] = rule.violations
    dataflow_triggered = False
    if compiled.has_constraints:
        reasons, violations = list(reasons), list(violations)
        if rule.dataflow.enabled and dataflow_matches(
            rule.dataflow, subject.targets, subject.provenance
        ):
            dataflow_triggered = True
            effect = rule.dataflow.action  # replaced, not made stricter
            reasons.append(rule.dataflow.reason_code)
            violations.append(rule.dataflow.violation)
        if rule.endpoint.enabled:
            endpoint = endpoint_outcome(rule.endpoint, subject.targets, subject.destructive)
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


def merge_rate_limit(current: RateLimit | None, candidate: RateLimit) -> RateLimit | None:
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
# One subject against the rules (spec §5.1)
# --------------------------------------------------------------------------------------------


class Outcome:
    """The verdict for one subject (an intent, or one script step) and what goes with it."""

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


def evaluate_subject(policy: CompiledPolicy, subject: Subject) -> Outcome:
    """The first matching priority tier's rules, each adjusted; the most restrictive adjusted
    effect wins (spec §5.1). No rule: the policy's default verdict."""
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
        return Outcome(
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
            return Outcome(
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
        rate_limit = merge_rate_limit(rate_limit, rule.rate_limit)
        destructive_budget = merge_rate_limit(destructive_budget, rule.destructive_budget)
    if verdict != "require_approval":
        min_approvals, distinct = 0, False
    return Outcome(
        verdict,
        sorted_codes(reasons),
        sorted_codes(violations),
        matched_rule=",".join(sorted(compiled.rule.name for compiled in matched)),
        min_approvals=min_approvals,
        require_distinct_approvers=distinct,
        rate_limit=rate_limit,
        destructive_budget=destructive_budget,
        dataflow_triggered=dataflow_triggered,
    )


def sorted_codes(codes: Iterable[str]) -> tuple[str, ...]:
    """Go uniqueSorted: trimmed, empties dropped, deduplicated, sorted."""
    return tuple(sorted({trimmed for code in codes if (trimmed := go_trim_space(code))}))
