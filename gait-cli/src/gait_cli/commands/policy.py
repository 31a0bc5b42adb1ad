"""`gait policy validate|test`: check a policy, and decide an intent with the library alone."""

from __future__ import annotations

import click

from gait.errors import ExitCode
from gait.evaluate import EXIT_CODE_BY_VERDICT, evaluate
from gait.intent import normalize_intent
from gait.policy import load_policy_file
from gait.timefmt import GoTime
from gait_cli.app import cli
from gait_cli.inputs import read_intent
from gait_cli.output import Report, gait_command

SUMMARY_LIMIT = 240


@cli.group("policy")
def policy() -> None:
    """Validate, format, create and test policies."""


@gait_command(policy, "validate", exit_codes=(0, 6), help="Parse and validate a policy file.")
@click.argument("path")
def validate(path: str) -> Report:
    compiled = load_policy_file(path)
    loaded = compiled.policy
    summary = (
        f"policy validate ok: default={loaded.default_verdict} rules={len(loaded.rules)} "
        f"digest={compiled.digest}"
    )
    return Report(
        payload={
            "schema_id": loaded.schema_id,
            "schema_version": loaded.schema_version,
            "policy_digest": compiled.digest,
            "default_verdict": loaded.default_verdict,
            "rule_count": len(loaded.rules),
            "summary": summary,
        },
        text=[summary],
    )


def _summary(verdict: str, reasons: tuple[str, ...], violations: tuple[str, ...]) -> str:
    text = (
        f"policy test verdict={verdict} reasons={','.join(reasons) or 'none'} "
        f"violations={','.join(violations) or 'none'}"
    )
    if len(text) <= SUMMARY_LIMIT:
        return text
    suffix = f"...(+{len(text) - SUMMARY_LIMIT})"
    return text[: SUMMARY_LIMIT - len(suffix)] + suffix


@gait_command(
    policy,
    "test",
    exit_codes=(0, 3, 4, 6),
    help=(
        "Decide INTENT under POLICY with the policy alone: no tokens, rate limits, plugins or "
        "trace. Exit 3 for block, 4 for require_approval."
    ),
)
@click.argument("policy_path", metavar="POLICY")
@click.argument("intent_path", metavar="INTENT")
def test(policy_path: str, intent_path: str) -> Report:
    compiled = load_policy_file(policy_path)
    raw = read_intent(intent_path)
    decision = evaluate(compiled, raw)
    # The reference reports the digest of the raw normalized intent here, not the prepared one.
    intent_digest = normalize_intent(raw).intent_digest if decision.intent else ""
    summary = _summary(decision.verdict, decision.reason_codes, decision.violations)
    payload = {
        "schema_id": "gait.policytest.result",
        "schema_version": "1.0.0",
        "created_at": GoTime.now().format(),
        "policy_digest": compiled.digest,
        "intent_digest": intent_digest,
        "verdict": decision.verdict,
        "reason_codes": list(decision.reason_codes),
        "violations": list(decision.violations),
        "matched_rule": decision.matched_rule,
        "summary": summary,
    }
    return Report(
        payload=payload,
        text=[summary],
        exit_code=ExitCode(EXIT_CODE_BY_VERDICT[decision.verdict]),
    )
