"""`gait verify <run_id|path>`: check a runpack's member hashes, manifest digest and signatures."""

from __future__ import annotations

import click

from gait.errors import ExitCode, InvalidInputError
from gait.keys import KeySource, VerifyKey, load_verify_key
from gait.runpack import VerifyResult, resolve_runpack, verify_runpack
from gait_cli.app import cli
from gait_cli.keyopts import verify_key_options
from gait_cli.output import Report, gait_command

PROFILES = ("standard", "strict")


def verify_key(
    public_key: str, public_key_env: str, private_key: str, private_key_env: str
) -> VerifyKey | None:
    """The key given by flags, if any (a private key stands for its public half)."""
    public = KeySource(path=public_key, env=public_key_env)
    private = KeySource(path=private_key, env=private_key_env)
    if not (public.configured or private.configured):
        return None
    return load_verify_key(public, private)


def _text(result: VerifyResult) -> list[str]:
    if result.ok:
        lines = [f"verify ok: {result.path}"]
    else:
        lines = [f"verify failed: {result.path}"]
        if result.missing_files:
            lines.append("missing files: " + ", ".join(result.missing_files))
        if result.hash_mismatches:
            lines.append(f"hash mismatches: {len(result.hash_mismatches)}")
    lines.append(f"signature status: {result.signature_status}")
    lines.append(f"signature note: {result.signature_note}")
    if not result.ok and result.signature_errors:
        lines.append("signature errors: " + "; ".join(result.signature_errors))
    lines.append("next: " + " | ".join(result.next_commands))
    return lines


@gait_command(
    cli,
    "verify",
    exit_codes=(0, 2, 6),
    help=(
        "Verify a runpack offline: every member's sha256, the manifest digest and, with a key, "
        "its signatures (then a runpack must be signed, unless --allow-unsigned). RUN is a "
        "run_id (looked up in ./gait-out, then $GAIT_HOME/runpacks) or a path. Exit 2 when it "
        "does not verify."
    ),
)
@click.argument("run", nargs=-1, metavar="RUN")
@click.option(
    "--profile",
    default="standard",
    show_default=True,
    help="standard, or strict (requires a verified signature and a key).",
)
@click.option("--require-signature", is_flag=True, help="Fail unless a signature verifies.")
@click.option(
    "--allow-unsigned",
    is_flag=True,
    help="With a key: accept a runpack without signatures (a key otherwise requires one).",
)
@verify_key_options
def verify(
    run: tuple[str, ...],
    profile: str,
    require_signature: bool,
    allow_unsigned: bool,
    public_key: str,
    public_key_env: str,
    private_key: str,
    private_key_env: str,
) -> Report:
    if len(run) != 1:
        raise InvalidInputError("expected run_id or path")
    resolved_profile = profile.strip().lower() or "standard"
    if resolved_profile not in PROFILES:
        raise InvalidInputError(
            f"unsupported --profile value {profile!r} (expected standard or strict)"
        )
    if allow_unsigned and (require_signature or resolved_profile == "strict"):
        raise InvalidInputError(
            "--allow-unsigned contradicts --require-signature and --profile strict"
        )
    key = verify_key(public_key, public_key_env, private_key, private_key_env)
    # A key is asked for to check a signature: a runpack without one does not pass for signed.
    if key is not None and not allow_unsigned:
        require_signature = True
    if resolved_profile == "strict":
        require_signature = True
        if key is None:
            raise InvalidInputError(
                "strict verify profile requires --public-key/--public-key-env or private key source"
            )
    result = verify_runpack(
        resolve_runpack(run[0]), public_key=key, require_signature=require_signature
    )
    payload = result.to_json()
    payload.pop("ok")
    return Report(
        payload=payload,
        text=_text(result),
        ok=result.ok,
        exit_code=ExitCode.OK if result.ok else ExitCode.VERIFICATION_FAILED,
    )
