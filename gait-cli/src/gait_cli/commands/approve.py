"""`gait approve`: mint a signed approval token bound to one intent and one policy."""

from __future__ import annotations

from pathlib import Path

import click

from gait import __version__
from gait.approval import mint_approval_token
from gait.contracts import to_wire
from gait.errors import InvalidInputError
from gait.fsutil import write_atomic
from gait.keys import KeySource
from gait.signers import resolve_signer
from gait.timefmt import parse_go_duration
from gait.trace import trace_json_bytes
from gait_cli.app import cli
from gait_cli.context import plugin_host
from gait_cli.output import Report, gait_command


@gait_command(
    cli,
    "approve",
    exit_codes=(0, 1, 6),
    help=(
        "Mint an approval token for an intent digest and policy digest. `gait gate eval "
        "--approval-token` accepts it while it is unexpired and its scope covers the call."
    ),
)
@click.option("--intent-digest", default="", help="The intent_digest to approve (64 hex).")
@click.option("--policy-digest", default="", help="The policy_digest it was decided under.")
@click.option("--delegation-binding-digest", default="", help="Delegation binding (64 hex).")
@click.option("--ttl", default="", help="Lifetime as a Go duration, e.g. 1h or 30m.")
@click.option("--scope", default="", help="Comma-separated scopes, e.g. tool:tool.write.")
@click.option("--approver", default="", help="Identity of the approver.")
@click.option("--reason-code", default="", help="Why it was approved.")
@click.option("--max-targets", default=0, type=int, help="Most targets the call may have (0: any).")
@click.option("--max-ops", default=0, type=int, help="Most operations (0: any).")
@click.option("--out", default="", help="Token path (default approval_<token_id>.json).")
@click.option("--key-mode", default="dev", show_default=True, help="dev or prod.")
@click.option("--private-key", default="", help="Signing key file (prod mode).")
@click.option("--private-key-env", default="", help="Environment variable with the signing key.")
def approve(
    intent_digest: str,
    policy_digest: str,
    delegation_binding_digest: str,
    ttl: str,
    scope: str,
    approver: str,
    reason_code: str,
    max_targets: int,
    max_ops: int,
    out: str,
    key_mode: str,
    private_key: str,
    private_key_env: str,
) -> Report:
    if not ttl:
        raise InvalidInputError("missing required --ttl")
    try:
        ttl_nanos = parse_go_duration(ttl)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
    key, warnings = resolve_signer(
        key_mode=key_mode,
        private=KeySource(path=private_key, env=private_key_env),
        signer="ed25519",
        backends=plugin_host(click.get_current_context()).signers,
    )
    token = mint_approval_token(
        key=key,
        intent_digest=intent_digest,
        policy_digest=policy_digest,
        delegation_binding_digest=delegation_binding_digest,
        scope=scope.split(","),
        approver=approver,
        reason_code=reason_code,
        ttl_nanos=ttl_nanos,
        max_targets=max_targets,
        max_ops=max_ops,
        producer_version=__version__,
    )
    path = Path(out or f"approval_{token.token_id}.json")
    write_atomic(path, trace_json_bytes(to_wire(token)), what="approval token")
    payload = {
        "token_id": token.token_id,
        "token_path": str(path),
        "expires_at": token.expires_at.format_seconds(),
        "reason_code": token.reason_code,
        "scope": list(token.scope),
        "max_targets": token.max_targets,
        "max_ops": token.max_ops,
        "key_id": key.key_id,
        "warnings": warnings,
        "description": f"approval by {token.approver_identity} for {', '.join(token.scope)}",
    }
    text = [
        f"approval token: {path}",
        f"token_id={token.token_id} expires_at={payload['expires_at']}",
    ]
    text.extend(f"warning: {w}" for w in warnings)
    return Report(payload=payload, text=text)
