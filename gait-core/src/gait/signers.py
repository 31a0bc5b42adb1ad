"""Choosing the key that signs: key modes `dev` and `prod`, and signer plugins by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from gait.devkey import DEV_WARNING, load_or_create_dev_key
from gait.errors import InvalidInputError
from gait.keys import KeySource, SigningKey

if TYPE_CHECKING:
    from gait.hookspecs import SignerBackend

KEY_MODES = ("dev", "prod")


def resolve_signer(
    *,
    key_mode: str,
    private: KeySource,
    signer: str,
    backends: Callable[[], Mapping[str, SignerBackend]],
) -> tuple[SigningKey, list[str]]:
    """The signing key for this invocation and the warnings to show with it.

    `backends` (a plugin host's `signers`) is called in prod mode only: dev mode needs no
    signer plugin, so it does not load the plugin machinery (start-up budget).
    """
    if key_mode not in KEY_MODES:
        raise InvalidInputError(f"unsupported --key-mode {key_mode!r} (use dev or prod)")
    if key_mode == "dev":
        if private.configured:
            raise InvalidInputError("dev mode does not accept explicit key sources")
        return load_or_create_dev_key(), [DEV_WARNING]
    available = backends()
    backend = available.get(signer)
    if backend is None:
        known = ", ".join(sorted(available)) or "none"
        raise InvalidInputError(f"unknown signer {signer!r} (available: {known})")
    key = backend.factory({"private_key": private.path, "private_key_env": private.env})
    if not isinstance(key, SigningKey):
        raise InvalidInputError(f"signer {signer!r} did not return a signing key")
    return key, []
