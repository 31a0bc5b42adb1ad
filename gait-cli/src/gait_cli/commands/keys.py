"""`gait keys init|rotate|verify`: Ed25519 key files in the reference format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from gait.errors import InvalidInputError
from gait.keys import KeySource, SigningKey, load_signing_key, write_key_pair
from gait_cli.app import cli
from gait_cli.output import Report, gait_command


@cli.group("keys")
def keys() -> None:
    """Create, rotate and check Ed25519 signing keys."""


def _write_new_pair(out_dir: Path, prefix: str, *, force: bool) -> Report:
    if not prefix or "/" in prefix or prefix in (".", ".."):
        raise InvalidInputError(f"invalid key prefix: {prefix!r}")
    private_path = out_dir / f"{prefix}_private.key"
    public_path = out_dir / f"{prefix}_public.key"
    if not force:
        existing = [str(p) for p in (private_path, public_path) if p.exists()]
        if existing:
            raise InvalidInputError(
                f"key file already exists: {', '.join(existing)} (use --force to overwrite)"
            )
    key = SigningKey.generate()
    try:
        write_key_pair(key, private_path, public_path, overwrite=force)
    except FileExistsError as exc:
        raise InvalidInputError(f"key file already exists: {exc.filename}") from exc
    return Report(
        payload={
            "prefix": prefix,
            "key_id": key.key_id,
            "private_key_path": str(private_path),
            "public_key_path": str(public_path),
        },
        text=[
            f"keys init: key_id={key.key_id}",
            f"private key: {private_path}",
            f"public key: {public_path}",
        ],
    )


_out_dir = click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("gait-out/keys"),
    show_default=True,
    help="Directory for the key files.",
)
_prefix = click.option("--prefix", default="gait", show_default=True, help="File name prefix.")


@gait_command(keys, "init", exit_codes=(0, 1, 6), help="Write a new key pair (mode 0600).")
@_out_dir
@_prefix
@click.option("--force", is_flag=True, help="Overwrite existing key files.")
def init(out_dir: Path, prefix: str, force: bool) -> Report:
    return _write_new_pair(out_dir, prefix, force=force)


@gait_command(
    keys,
    "rotate",
    exit_codes=(0, 1, 6),
    help="Write a new key pair named <prefix>_<UTC timestamp>; never overwrites.",
)
@_out_dir
@_prefix
def rotate(out_dir: Path, prefix: str) -> Report:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return _write_new_pair(out_dir, f"{prefix}_{stamp}", force=False)


@gait_command(
    keys, "verify", exit_codes=(0, 6), help="Load a key pair (prod mode) and check it matches."
)
@click.option("--private-key", default="", help="Private key file.")
@click.option("--private-key-env", default="", help="Environment variable with the private key.")
@click.option("--public-key", default="", help="Public key file.")
@click.option("--public-key-env", default="", help="Environment variable with the public key.")
def verify(private_key: str, private_key_env: str, public_key: str, public_key_env: str) -> Report:
    private = KeySource(path=private_key, env=private_key_env)
    public = KeySource(path=public_key, env=public_key_env)
    key = load_signing_key(private, public)
    public_source = public.describe() if public.configured else "derived"
    return Report(
        payload={
            "key_id": key.key_id,
            "private_key_source": private.describe(),
            "public_key_source": public_source,
        },
        text=[f"keys verify ok: key_id={key.key_id}", f"public key: {public_source}"],
    )
