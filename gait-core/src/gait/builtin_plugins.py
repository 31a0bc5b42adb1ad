"""Built-in behaviour, registered through the same hooks third-party plugins use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gait.hookspecs import SignerBackend, hookimpl


def _ed25519_signer(options: Mapping[str, str]) -> object:
    from gait.keys import KeySource, load_signing_key

    return load_signing_key(
        KeySource(path=options.get("private_key", ""), env=options.get("private_key_env", ""))
    )


class Ed25519SignerPlugin:
    """The `ed25519` signer: a key file or an environment variable in the reference format."""

    @hookimpl
    def gait_sign(self) -> Iterable[SignerBackend]:
        return [
            SignerBackend(
                name="ed25519",
                factory=_ed25519_signer,
                description="Ed25519 key from --private-key or --private-key-env",
            )
        ]


BUILTINS: tuple[tuple[str, object], ...] = (("gait.ed25519", Ed25519SignerPlugin()),)
