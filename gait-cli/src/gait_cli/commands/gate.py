"""`gait gate eval`: decide one intent, sign its trace, exit with the verdict's code."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from gait.errors import ExitCode, InvalidInputError
from gait.evaluate import EXIT_CODE_BY_VERDICT
from gait.fsutil import write_atomic
from gait.gate import EnforceOptions, Gate, GateOutcome, enforce
from gait.keys import KeySource, load_verify_key
from gait.signers import resolve_signer
from gait.trace import trace_json_bytes
from gait_cli.app import cli
from gait_cli.context import plugin_host
from gait_cli.exportopts import export_options, open_command_exports
from gait_cli.fast import correlation_id
from gait_cli.inputs import read_intent, read_json_object
from gait_cli.output import Report, gait_command

PROFILES = ("standard", "oss-prod")


@cli.group("gate")
def gate() -> None:
    """Evaluate tool-call intents against a policy."""


def _csv(values: tuple[str, ...]) -> list[str]:
    return sorted({part.strip() for value in values for part in value.split(",") if part.strip()})


def _check_profile(profile: str, *, simulate: bool, key_mode: str, gate_: Gate) -> None:
    if profile not in PROFILES:
        raise InvalidInputError(f"unsupported --profile {profile!r} (use standard or oss-prod)")
    if profile != "oss-prod":
        return
    if simulate:
        raise InvalidInputError("oss-prod profile does not allow --simulate")
    if key_mode != "prod":
        raise InvalidInputError("oss-prod profile requires --key-mode prod with a private key")
    if gate_.policy.policy.default_verdict == "allow":
        raise InvalidInputError("oss-prod profile rejects default_verdict: allow")


def _payload(
    outcome: GateOutcome, trace_path: str, profile: str, warnings: list[str]
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
        "warnings": warnings,
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


def _text(payload: dict[str, Any]) -> list[str]:
    lines = [f"gate eval: verdict={payload['verdict']}", f"trace: {payload['trace_path']}"]
    if "simulated_verdict" in payload:
        lines.append(
            f"simulate: would_have_blocked={str(payload['would_have_blocked']).lower()} "
            f"simulated_verdict={payload['simulated_verdict']}"
        )
    if payload.get("reason_codes"):
        lines.append("reasons: " + ",".join(payload["reason_codes"]))
    if payload.get("violations"):
        lines.append("violations: " + ",".join(payload["violations"]))
    if "required_approvals" in payload:
        lines.append(f"approvals: {payload['valid_approvals']}/{payload['required_approvals']}")
    if "approval_audit_path" in payload:
        lines.append(f"approval audit: {payload['approval_audit_path']}")
    lines.extend(f"warning: {w}" for w in payload.get("warnings", []))
    return lines


EXIT_HELP = (0, 1, 3, 4, 6, 7)


@gait_command(
    gate,
    "eval",
    exit_codes=EXIT_HELP,
    help=(
        "Evaluate --intent against --policy and write a signed trace. Only `allow` means "
        "execute; `dry_run` also exits 0, so check the verdict."
    ),
)
@click.option("--policy", "policy_path", default="", help="Policy YAML file.")
@click.option("--intent", "intent_path", default="", help="Intent JSON file.")
@click.option("--trace-out", default="", help="Trace path (default trace_<trace_id>.json).")
@click.option("--key-mode", default="dev", show_default=True, help="dev or prod.")
@click.option("--private-key", default="", help="Signing key file (prod mode).")
@click.option("--private-key-env", default="", help="Environment variable with the signing key.")
@click.option("--signer", default="ed25519", show_default=True, help="Signer plugin (prod mode).")
@click.option("--profile", default="standard", show_default=True, help="standard or oss-prod.")
@click.option("--simulate", is_flag=True, help="Non-enforcing: record what would happen, allow.")
@click.option(
    "--approval-token", multiple=True, help="Approval token file (repeatable, or comma-separated)."
)
@click.option("--approval-token-chain", multiple=True, help="Comma-separated approval tokens.")
@click.option("--approval-token-ref", default="", help="Reference recorded when no token is valid.")
@click.option("--approval-public-key", default="", help="Key that verifies approval tokens.")
@click.option("--approval-public-key-env", default="", help="Env var with that key.")
@click.option("--approval-private-key", default="", help="Private key whose public half verifies.")
@click.option("--approval-private-key-env", default="", help="Env var with that private key.")
@click.option("--approval-audit-out", default="", help="Approval audit path.")
@click.option(
    "--rate-limit-state",
    default=".gait-out/gate_rate_limits.json",
    show_default=True,
    help="State file for rate_limit and destructive_budget.",
)
@export_options
def eval_(
    policy_path: str,
    intent_path: str,
    trace_out: str,
    key_mode: str,
    private_key: str,
    private_key_env: str,
    signer: str,
    profile: str,
    simulate: bool,
    approval_token: tuple[str, ...],
    approval_token_chain: tuple[str, ...],
    approval_token_ref: str,
    approval_public_key: str,
    approval_public_key_env: str,
    approval_private_key: str,
    approval_private_key_env: str,
    approval_audit_out: str,
    rate_limit_state: str,
    export_log_out: str,
    export_otel_out: str,
    export_names: tuple[str, ...],
) -> Report:
    if not policy_path:
        raise InvalidInputError("missing required --policy")
    if not intent_path:
        raise InvalidInputError("missing required --intent")
    ctx = click.get_current_context()
    host = plugin_host(ctx)
    gate_ = Gate.load(policy_path, plugins=host)
    raw_intent = read_intent(intent_path)
    _check_profile(profile, simulate=simulate, key_mode=key_mode, gate_=gate_)
    key, warnings = resolve_signer(
        key_mode=key_mode,
        private=KeySource(path=private_key, env=private_key_env),
        signer=signer,
        backends=host.signers,
    )
    token_paths = _csv(approval_token + approval_token_chain)
    approval_public = KeySource(path=approval_public_key, env=approval_public_key_env)
    approval_private = KeySource(path=approval_private_key, env=approval_private_key_env)
    approval_key = (
        load_verify_key(approval_public, approval_private)
        if approval_public.configured or approval_private.configured
        else key.public
    )
    exports = open_command_exports(
        host, export_log_out, export_otel_out, export_names, source="gate.eval"
    )
    started = time.perf_counter()
    decision = gate_.evaluate(raw_intent)
    if decision.evaluation.intent is None:
        # The reference re-normalizes here and fails as invalid input: nothing is allowed.
        raise InvalidInputError("intent is not evaluable: " + ",".join(decision.reason_codes))
    outcome = enforce(
        decision,
        EnforceOptions(
            approval_tokens=[read_json_object(p, "approval token") for p in token_paths]
            if decision.verdict == "require_approval"
            else [],
            approval_key=approval_key,
            rate_limit_state=Path(rate_limit_state) if rate_limit_state else None,
            simulate=simulate,
        ),
    )
    trace_path = Path(trace_out or f"trace_{outcome.trace_id}.json")
    trace = gate_.sign_trace(
        outcome,
        key,
        path=trace_path,
        correlation_id=correlation_id(sys.argv),
        approval_token_ref=approval_token_ref,
    )
    payload = _payload(outcome, str(trace_path), profile, warnings)
    if outcome.approval is not None and outcome.approval_context is not None:
        audit_path = Path(approval_audit_out or f"approval_audit_{outcome.trace_id}.json")
        audit = outcome.approval.audit_record(
            trace_id=outcome.trace_id,
            tool_name=decision.evaluation.intent.tool_name,
            context=outcome.approval_context,
        )
        write_atomic(audit_path, trace_json_bytes(audit), what="approval audit")
        payload["approval_audit_path"] = str(audit_path)
        if not outcome.approval.approval_ref and approval_token_ref:
            payload["approval_ref"] = approval_token_ref
    if exports is not None:
        # After every artifact is written (the reference's order): a failing file export fails
        # the command, and the trace stays.
        from gait.exports import gate_event

        latency_ms = int((time.perf_counter() - started) * 1000)
        exports.record(gate_event(outcome, trace, str(trace_path), latency_ms), payload)
    return Report(
        payload=payload,
        text=_text(payload),
        exit_code=ExitCode(EXIT_CODE_BY_VERDICT[outcome.verdict]),
    )
