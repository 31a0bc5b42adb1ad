"""Ed25519 key files in the reference format, and key sources (a path or an environment variable).

A private key file holds base64 of the 64-byte Go private key (seed followed by public key) and a
newline; a public key file holds base64 of the 32-byte public key and a newline. `key_id` is the
lowercase hex SHA-256 of the raw public key. `cryptography` is imported on first use only, so
commands that never sign start fast.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from gait.errors import InvalidInputError
from gait.limits import MAX_KEY_FILE_BYTES

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

PRIVATE_KEY_BYTES = 64
PUBLIC_KEY_BYTES = 32


class KeyFileError(InvalidInputError):
    """A key file or key source that cannot be used."""


def key_id_for(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()


@attrs.frozen
class VerifyKey:
    """An Ed25519 public key."""

    raw: bytes

    @property
    def key_id(self) -> str:
        return key_id_for(self.raw)

    def crypto(self) -> Ed25519PublicKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        return Ed25519PublicKey.from_public_bytes(self.raw)

    def encode(self) -> str:
        """The public key file text."""
        return base64.b64encode(self.raw).decode("ascii") + "\n"


@attrs.frozen
class SigningKey:
    """An Ed25519 private key (the 32-byte seed) with its public half."""

    seed: bytes = attrs.field(repr=False)
    public: VerifyKey

    @classmethod
    def generate(cls) -> SigningKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls.from_seed(Ed25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        private = Ed25519PrivateKey.from_private_bytes(seed)
        return cls(seed, VerifyKey(private.public_key().public_bytes_raw()))

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def crypto(self) -> Ed25519PrivateKey:
        return _private_key(self.seed)

    def sign(self, message: bytes) -> bytes:
        return self.crypto().sign(message)

    def encode(self) -> str:
        """The private key file text: base64 of seed followed by public key (Go's layout)."""
        return base64.b64encode(self.seed + self.public.raw).decode("ascii") + "\n"


def _decode(text: str, expected: int, what: str, source: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(" \t\r\n"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"{what} from {source} is not valid base64") from exc
    if len(raw) != expected:
        raise KeyFileError(f"{what} from {source} must be {expected} bytes, got {len(raw)}")
    return raw


def parse_private_key(text: str, source: str = "input") -> SigningKey:
    raw = _decode(text, PRIVATE_KEY_BYTES, "private key", source)
    key = SigningKey.from_seed(raw[:32])
    # Go never checks this; a mismatched half would sign with a key nobody can verify.
    if key.public.raw != raw[32:]:
        raise KeyFileError(
            f"private key from {source} has a public half that does not match its seed"
        )
    return key


def parse_public_key(text: str, source: str = "input") -> VerifyKey:
    return VerifyKey(_decode(text, PUBLIC_KEY_BYTES, "public key", source))


def read_key_text(path: str | os.PathLike[str]) -> str:
    """Read a key file (a regular file), size-limited; unreadable paths are invalid input."""
    from gait.fsutil import read_regular_file

    file = Path(path)
    try:
        data = read_regular_file(file, MAX_KEY_FILE_BYTES, what="key file")
    except InvalidInputError as exc:
        raise KeyFileError(str(exc)) from exc
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise KeyFileError(f"key file {file} is not base64 text") from exc


def read_env_text(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise KeyFileError(f"environment variable {name} is not set or empty")
    return value


@attrs.frozen
class KeySource:
    """Where a key comes from: a file path or the name of an environment variable."""

    path: str = ""
    env: str = ""

    def __attrs_post_init__(self) -> None:
        if self.path and self.env:
            raise KeyFileError("give a key path or an environment variable, not both")

    @property
    def configured(self) -> bool:
        return bool(self.path or self.env)

    def describe(self) -> str:
        return f"path:{self.path}" if self.path else f"env:{self.env}"

    def text(self) -> str:
        return read_key_text(self.path) if self.path else read_env_text(self.env)

    def private_key(self) -> SigningKey:
        return parse_private_key(self.text(), self.describe())

    def public_key(self) -> VerifyKey:
        return parse_public_key(self.text(), self.describe())


def load_verify_key(public: KeySource, private: KeySource) -> VerifyKey:
    """A public source wins; otherwise derive from the private source (the reference's rule)."""
    if public.configured:
        return public.public_key()
    if private.configured:
        return private.private_key().public
    raise KeyFileError("public key not configured")


def load_signing_key(private: KeySource, public: KeySource | None = None) -> SigningKey:
    """Load a prod signing key; a public source, when given, must match it."""
    if not private.configured:
        raise KeyFileError("prod key mode requires --private-key or --private-key-env")
    key = private.private_key()
    if public is not None and public.configured and public.public_key() != key.public:
        raise KeyFileError("public key does not match private key")
    return key


def write_key_pair(
    key: SigningKey, private_path: Path, public_path: Path, *, overwrite: bool = False
) -> None:
    """Write both key files atomically with mode 0600. When the public key cannot be written,
    the private one is removed again: half a pair would sign what its public file cannot verify.
    """
    from gait.fsutil import write_atomic

    write_atomic(
        private_path, key.encode().encode("ascii"), overwrite=overwrite, what="private key"
    )
    try:
        write_atomic(
            public_path, key.public.encode().encode("ascii"), overwrite=overwrite, what="public key"
        )
    except BaseException:
        with contextlib.suppress(OSError):
            private_path.unlink()
        raise


@functools.lru_cache(maxsize=16)
def _private_key(seed: bytes) -> Ed25519PrivateKey:
    """The cryptography key object of a seed, built once: a long-running signer (`gait mcp
    serve`) signs every decision with the same key, and building it costs most of a signature."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed)
