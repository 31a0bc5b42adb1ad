"""`gait trace verify`: check a trace's Ed25519 signature offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gait.devkey import existing_dev_verify_key
from gait.errors import ExitCode, InvalidInputError, VerificationError
from gait.keys import KeySource, VerifyKey, load_verify_key
from gait.trace import read_trace, verify_trace
from gait_cli.app import cli
from gait_cli.keyopts import verify_key_options
from gait_cli.output import Report, gait_command


@cli.group("trace")
def trace() -> None:
    """Signed trace records."""


def _verify_key(
    public_key: str, public_key_env: str, private_key: str, private_key_env: str
) -> VerifyKey:
    public = KeySource(path=public_key, env=public_key_env)
    private = KeySource(path=private_key, env=private_key_env)
    if public.configured or private.configured:
        return load_verify_key(public, private)
    dev = existing_dev_verify_key()
    if dev is None:
        raise InvalidInputError(
            "public key not configured (use --public-key, --public-key-env, --private-key or "
            "--private-key-env)"
        )
    return dev


@gait_command(
    trace,
    "verify",
    exit_codes=(0, 2, 6),
    help=(
        "Verify a trace's signature. Without a key flag, this machine's dev key is used. "
        "Exit 2 when the signature does not verify."
    ),
)
@click.argument("path_arg", metavar="PATH", required=False)
@click.option("--path", "path_opt", default="", help="The trace file (instead of PATH).")
@verify_key_options
def verify(
    path_arg: str | None,
    path_opt: str,
    public_key: str,
    public_key_env: str,
    private_key: str,
    private_key_env: str,
) -> Report:
    target = path_arg or path_opt
    if not target:
        raise InvalidInputError("missing trace path")
    unreadable: VerificationError | None = None
    record: dict[str, Any] = {}
    try:
        record = read_trace(Path(target))
    except VerificationError as exc:  # ambiguous keys: no verdict to report
        unreadable = exc
    key = _verify_key(public_key, public_key_env, private_key, private_key_env)
    payload = {
        "path": target,
        "trace_id": record.get("trace_id", ""),
        "verdict": record.get("verdict", ""),
        "key_id": key.key_id,
    }
    try:
        if unreadable is not None:
            raise unreadable
        verify_trace(record, key)
    except VerificationError as exc:
        return Report(
            payload={**payload, "signature_status": "failed", "error": str(exc)},
            text=[f"trace verify failed: {target}", f"error: {exc}"],
            ok=False,
            exit_code=ExitCode.VERIFICATION_FAILED,
        )
    return Report(
        payload={**payload, "signature_status": "verified"},
        text=[f"trace verify ok: {target}", f"key_id: {key.key_id}"],
    )
