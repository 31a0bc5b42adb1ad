"""Library-level conformance: every shared gate case through `load_policy` + `evaluate`.

The expected values were recorded from the reference CLI (`gait gate eval --json`), so the
comparison applies the two CLI steps that every case goes through without extra flags:

- approvals: with no approval token, a `require_approval` verdict gains the reason
  `approval_token_missing` and the violation `approval_not_granted` (spec §8);
- a fail-closed `block` for an intent that could not be normalized is reported by the reference
  CLI as invalid input (exit 6), because it normalizes the intent again afterwards (spec §4).

No case passes tokens, rate-limit state or other flags, so nothing else happens after evaluation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gait.evaluate import EXIT_CODE_BY_VERDICT, Decision, evaluate
from gait.intent import IntentError
from gait.policy import PolicyError, load_policy

CASES_DIR = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "gate" / "cases"
CASES = [json.loads(path.read_text()) for path in sorted(CASES_DIR.glob("*.json"))]
INVALID_INPUT = 6


def _cli_view(decision: Decision) -> dict[str, Any]:
    """What `gait gate eval --json` reports for a decision, with no tokens or other flags."""
    if decision.intent is None:
        return {"ok": False, "exit_code": INVALID_INPUT}
    reasons = set(decision.reason_codes)
    violations = set(decision.violations)
    if decision.verdict == "require_approval":
        reasons.add("approval_token_missing")
        violations.add("approval_not_granted")
    view: dict[str, Any] = {
        "ok": True,
        "exit_code": EXIT_CODE_BY_VERDICT[decision.verdict],
        "verdict": decision.verdict,
        "reason_codes": sorted(reasons),
        "violations": sorted(violations),
        "phase": decision.phase,
        "policy_digest": decision.policy_digest,
        "intent_digest": decision.intent_digest,
        "trace_id": decision.trace_id,
    }
    if decision.matched_rule:
        view["matched_rule"] = decision.matched_rule
    return view


def _run(case: dict[str, Any]) -> dict[str, Any]:
    try:
        policy = load_policy(case["policy_yaml"])
        return _cli_view(evaluate(policy, case["intent"]))
    except (PolicyError, IntentError):
        return {"ok": False, "exit_code": INVALID_INPUT}


def test_there_are_200_cases() -> None:
    assert len(CASES) == 200


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_conformance_case(case: dict[str, Any]) -> None:
    expected = case["expected"]
    got = _run(case)
    for key, value in expected.items():
        assert got.get(key) == value, key
    # Keys the reference omits when empty are empty here too.
    if expected["ok"]:
        assert "matched_rule" in expected or "matched_rule" not in got
        assert "violations" in expected or got["violations"] == []


@pytest.mark.parametrize("case", CASES[:40], ids=[case["id"] for case in CASES[:40]])
def test_conformance_is_deterministic(case: dict[str, Any]) -> None:
    assert _run(case) == _run(case)
