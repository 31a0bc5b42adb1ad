"""The machine-local dev signing key.

The reference's `dev` key mode signs with a throwaway key, so its traces never verify. Here
`dev` signs with a key created once per machine (per `GAIT_HOME`), so a dev trace verifies where
it was written, and `prod` stays the only mode whose traces verify elsewhere.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from gait.errors import GaitError
from gait.keys import SigningKey, VerifyKey, parse_private_key, read_key_text, write_key_pair

DEV_WARNING = (
    "dev mode: signed with this machine's dev key; signatures verify only where that key is "
    "(use --key-mode prod with --private-key for portable traces)"
)


def gait_home() -> Path:
    return Path(os.environ.get("GAIT_HOME") or Path.home() / ".gait")


def dev_key_paths() -> tuple[Path, Path]:
    folder = gait_home() / "dev"
    return folder / "gait_dev_private.key", folder / "gait_dev_public.key"


def load_or_create_dev_key() -> SigningKey:
    private_path, public_path = dev_key_paths()
    if not private_path.exists():
        try:
            # Another process may create it first; then theirs is the one to use.
            with contextlib.suppress(FileExistsError):
                write_key_pair(SigningKey.generate(), private_path, public_path)
        except GaitError as exc:
            exc.hint = (
                f"{exc.hint}; dev mode keeps its key in $GAIT_HOME/dev: set GAIT_HOME to a folder "
                "this user can write, or sign with --key-mode prod"
            )
            raise
    return parse_private_key(read_key_text(private_path), f"path:{private_path}")


def existing_dev_verify_key() -> VerifyKey | None:
    private_path, _ = dev_key_paths()
    if not private_path.exists():
        return None
    return parse_private_key(read_key_text(private_path), f"path:{private_path}").public
