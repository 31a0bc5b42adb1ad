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


_SIGNATURE_FIELDS = frozenset(("alg", "key_id", "sig", "signed_digest"))


def is_hex64(value: object) -> bool:
    """A SHA-256 digest (or key id) as the reference writes it: 64 lowercase hex digits."""
    return type(value) is str and len(value) == 64 and not value.strip("0123456789abcdef")


def strict_signature(value: Any) -> Signature:
    """A signature object read for verification with nothing left to interpretation: exactly
    its four string fields, a key id and signed digest of 64 lowercase hex digits, and the
    canonical (padded, standard alphabet) base64 of 64 bytes. VerificationError otherwise."""
    if not isinstance(value, Mapping):
        raise VerificationError("signature must be an object")
    missing = sorted(_SIGNATURE_FIELDS - value.keys())
    if missing:
        raise VerificationError(f"signature is missing {', '.join(missing)}")
    extra = sorted(str(name) for name in value.keys() - _SIGNATURE_FIELDS)
    if extra:
        raise VerificationError(f"signature has unknown fields: {', '.join(extra)}")
    signature = Signature.from_json(value)
    if not signature.key_id:
        raise VerificationError("signature key_id is empty")
    if not is_hex64(signature.key_id):
        raise VerificationError("signature key_id must be 64 lowercase hex digits")
    if not is_hex64(signature.signed_digest):
        raise VerificationError("signed_digest must be 64 lowercase hex digits")
    try:
        raw = base64.b64decode(signature.sig, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VerificationError("signature is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != signature.sig:
        raise VerificationError("signature is not canonical base64")
    return signature


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
    record: Mapping[str, Any],
    key: VerifyKey,
    signature_key: str = "signature",
    *,
    strict: bool = False,
) -> Signature:
    """Verify a record carrying its own signature object, as read from JSON (`strict`: the
    signature object is read with `strict_signature`)."""
    if signature_key not in record or record[signature_key] is None:
        raise VerificationError("missing signature")
    read = strict_signature if strict else Signature.from_json
    signature = read(record[signature_key])
    verify_digest(signature, signable_digest(record, signature_key), key)
    return signature
