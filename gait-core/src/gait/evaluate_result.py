"""What an evaluation answers: the verdict order, `Decision` and `StepVerdict`.

The records `gait.evaluate` assembles and everything after it (the gate, the pipeline, the CLI)
reads; the rule matching (`gait.evaluate_rules`) uses the verdict order too.
"""

from __future__ import annotations

from typing import Any, Final

import attrs

from gait.intent_model import NormalizedIntent
from gait.policy_model import RateLimit

__all__ = [
    "EXIT_CODE_BY_VERDICT",
    "VERDICT_RANK",
    "Decision",
    "StepVerdict",
    "most_restrictive",
    "stricter",
]

VERDICT_RANK: Final = {"allow": 0, "dry_run": 1, "require_approval": 2, "block": 3}
EXIT_CODE_BY_VERDICT: Final = {"allow": 0, "dry_run": 0, "block": 3, "require_approval": 4}


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
