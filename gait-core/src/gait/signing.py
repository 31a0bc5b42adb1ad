"""Signing and verifying JSON records the way the reference does (traces, tokens, manifests).

The signed digest is the lowercase hex SHA-256 of the RFC 8785 form of the record without its
signature; the Ed25519 signature covers the 32 raw digest bytes, base64 with padding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

import attrs

from gait.canonical import canonical_json
from gait.errors import VerificationError
from gait.keys import SigningKey, VerifyKey

ALG_ED25519 = "ed25519"


@attrs.frozen(kw_only=True)
class Signature:
    alg: str
    key_id: str
    sig: str
    signed_digest: str

    def to_json(self) -> dict[str, str]:
        return {
            "alg": self.alg,
            "key_id": self.key_id,
            "sig": self.sig,
            "signed_digest": self.signed_digest,
        }

    @classmethod
    def from_json(cls, value: Any) -> Signature:
        if not isinstance(value, Mapping):
            raise VerificationError("signature must be an object")
        fields = {}
        for name in ("alg", "key_id", "sig", "signed_digest"):
            item = value.get(name, "")
            if not isinstance(item, str):
                raise VerificationError(f"signature.{name} must be a string")
            fields[name] = item
        return cls(**fields)


def sign_digest(key: SigningKey, digest_hex: str) -> Signature:
    signature = key.sign(bytes.fromhex(digest_hex))
    return Signature(
        alg=ALG_ED25519,
        key_id=key.key_id,
        sig=base64.b64encode(signature).decode("ascii"),
        signed_digest=digest_hex,
    )


def signable_digest(record: Mapping[str, Any], signature_key: str = "signature") -> str:
    """Digest of the record with its signature field removed."""
    body = {name: value for name, value in record.items() if name != signature_key}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def sign_record(key: SigningKey, record: Mapping[str, Any]) -> Signature:
    return sign_digest(key, signable_digest(record))


def verify_digest(signature: Signature, digest_hex: str, key: VerifyKey) -> None:
    """Check a signature over a known digest; VerificationError with the reference's reasons."""
    if not signature.signed_digest:
        raise VerificationError("missing signed_digest")
    if signature.signed_digest.lower() != digest_hex:
        raise VerificationError("signed_digest mismatch")
    if signature.alg != ALG_ED25519:
        raise VerificationError(f"unsupported alg: {signature.alg}")
    if signature.key_id and signature.key_id.lower() != key.key_id:
        raise VerificationError("key id mismatch")
    try:
        raw = base64.b64decode(signature.sig, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VerificationError("signature is not valid base64") from exc
    if len(raw) != 64:
        raise VerificationError("signature must be 64 bytes")
    from cryptography.exceptions import InvalidSignature

    try:
        key.crypto().verify(raw, bytes.fromhex(digest_hex))
    except InvalidSignature as exc:
        raise VerificationError("signature verification failed") from exc


def verify_record(
    record: Mapping[str, Any], key: VerifyKey, signature_key: str = "signature"
) -> Signature:
    """Verify a record carrying its own signature object, as read from JSON."""
    if signature_key not in record or record[signature_key] is None:
        raise VerificationError("missing signature")
    signature = Signature.from_json(record[signature_key])
    verify_digest(signature, signable_digest(record, signature_key), key)
    return signature
