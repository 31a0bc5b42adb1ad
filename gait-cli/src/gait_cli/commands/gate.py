"""`gait gate eval`: decide one intent through the pipeline (gait.pipeline), exit with the
verdict's code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import attrs
import click

from gait.errors import ExitCode, InvalidInputError
from gait.gate import Gate
from gait.keys import KeySource, load_verify_key
from gait.mcp.checks import check_profile, check_strict
from gait.pipeline import Request, Runtime, Settings, decide
from gait.signers import resolve_signer
from gait_cli.app import cli
from gait_cli.context import plugin_host
from gait_cli.exportopts import export_options, open_command_exports
from gait_cli.fast import correlation_id
from gait_cli.inputs import read_intent, read_json_object
from gait_cli.output import Report, gait_command


@cli.group("gate")
def gate() -> None:
    """Evaluate tool-call intents against a policy."""


def _csv(values: tuple[str, ...]) -> list[str]:
    return sorted({part.strip() for value in values for part in value.split(",") if part.strip()})


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


@attrs.frozen(kw_only=True)
class EvalOptions:
    """The flags of `gait gate eval`, one record (named as the click parameters)."""

    policy_path: str
    intent_path: str
    trace_out: str
    key_mode: str
    private_key: str
    private_key_env: str
    signer: str
    profile: str
    simulate: bool
    approval_token: tuple[str, ...]
    approval_token_chain: tuple[str, ...]
    approval_token_ref: str
    approval_public_key: str
    approval_public_key_env: str
    approval_private_key: str
    approval_private_key_env: str
    approval_audit_out: str
    rate_limit_state: str
    export_log_out: str
    export_otel_out: str
    export_names: tuple[str, ...]


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
def eval_(**params: Any) -> Report:
    return _eval(EvalOptions(**params))


def _eval(o: EvalOptions) -> Report:
    if not o.policy_path:
        raise InvalidInputError("missing required --policy")
    if not o.intent_path:
        raise InvalidInputError("missing required --intent")
    ctx = click.get_current_context()
    host = plugin_host(ctx)
    gate_ = Gate.load(o.policy_path, plugins=host)
    raw_intent = read_intent(o.intent_path)
    # Before the key is loaded: the reference reports a profile's requirement first.
    check_strict(
        check_profile(o.profile, form="intent"),
        key_mode=o.key_mode,
        default_verdict=gate_.policy.policy.default_verdict,
        simulate=o.simulate,
        form="intent",
    )
    key, warnings = resolve_signer(
        key_mode=o.key_mode,
        private=KeySource(path=o.private_key, env=o.private_key_env),
        signer=o.signer,
        backends=host.signers,
    )
    token_paths = _csv(o.approval_token + o.approval_token_chain)
    approval_public = KeySource(path=o.approval_public_key, env=o.approval_public_key_env)
    approval_private = KeySource(path=o.approval_private_key, env=o.approval_private_key_env)
    approval_key = (
        load_verify_key(approval_public, approval_private)
        if approval_public.configured or approval_private.configured
        else key.public
    )
    exports = open_command_exports(
        host, o.export_log_out, o.export_otel_out, o.export_names, source="gate.eval"
    )
    runtime = Runtime(
        gate=gate_,
        key=key,
        settings=Settings(
            profile=o.profile,
            key_mode=o.key_mode,
            key_warnings=tuple(warnings),
            rate_limit_state=Path(o.rate_limit_state) if o.rate_limit_state else None,
        ),
        approval_key=approval_key,
        exports=exports,
    )
    request = Request(
        payload=raw_intent,
        trace_path=Path(o.trace_out) if o.trace_out else None,
        simulate=o.simulate,
        approval_tokens=lambda: [read_json_object(p, "approval token") for p in token_paths],
        approval_token_ref=o.approval_token_ref,
        approval_audit_out=Path(o.approval_audit_out) if o.approval_audit_out else None,
        correlation_id=correlation_id(sys.argv),
    )
    result = decide(request, runtime)
    return Report(
        payload=result.output,
        text=_text(result.output),
        exit_code=ExitCode(result.exit_code),
    )
