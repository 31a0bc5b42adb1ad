"""manifest.json: its digest, its signature, and reading it back from a zip.

`manifest_digest` is the digest of the manifest with `"manifest_digest": ""` present and no
`signatures`. The signature covers the manifest with the final digest and no `signatures`; a
verifier takes that object from the raw manifest.json bytes (the reference's rule), while the
digest is recomputed from the typed manifest (Go time text, as the reference does).
"""

from __future__ import annotations

from typing import Any

import attrs

from gait.canonical import digest
from gait.contracts.runpack import RunpackManifest
from gait.contracts.trace import SignatureRecord
from gait.contracts.wire import to_wire
from gait.errors import VerificationError
from gait.keys import SigningKey
from gait.runpack.jsonio import RecordFormatError, parse_json, read_record
from gait.signing import sign_record

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA_ID = "gait.runpack.manifest"
SCHEMA_VERSION = "1.0.0"
# The four data members every runpack declares, in manifest order (sorted by path).
DATA_MEMBERS = ("intents.jsonl", "refs.json", "results.jsonl", "run.json")


def manifest_digest(manifest: RunpackManifest) -> str:
    unsigned = attrs.evolve(manifest, manifest_digest="", signatures=())
    return digest(to_wire(unsigned))


def sign_manifest(manifest: RunpackManifest, key: SigningKey) -> RunpackManifest:
    """The manifest with exactly one Ed25519 signature over its signable form."""
    unsigned = attrs.evolve(manifest, signatures=())
    signature = sign_record(key, to_wire(unsigned))
    record = SignatureRecord(
        alg=signature.alg,
        key_id=signature.key_id,
        sig=signature.sig,
        signed_digest=signature.signed_digest,
    )
    return attrs.evolve(manifest, signatures=(record,))


@attrs.frozen
class ParsedManifest:
    """manifest.json as read: the raw object (for signatures) and the typed record (for digests)."""

    raw: dict[str, Any]
    manifest: RunpackManifest

    @property
    def signable(self) -> dict[str, Any]:
        return {key: value for key, value in self.raw.items() if key != "signatures"}


def parse_manifest(data: bytes) -> ParsedManifest:
    """Read manifest.json; VerificationError when it is not a v1 runpack manifest.

    The reference exits 6 for an unparseable or foreign manifest; here any manifest that does
    not read as a v1 manifest fails verification (exit 2), so every changed byte of a runpack
    is reported as a verification failure.
    """
    try:
        raw = parse_json(data)
    except RecordFormatError as exc:
        raise VerificationError(f"parse manifest.json: {exc}") from exc
    if not isinstance(raw, dict):
        raise VerificationError("parse manifest.json: manifest must be a JSON object")
    if raw.get("schema_id") != MANIFEST_SCHEMA_ID:
        raise VerificationError(f"manifest schema_id must be {MANIFEST_SCHEMA_ID}")
    if raw.get("schema_version") != SCHEMA_VERSION:
        raise VerificationError(f"manifest schema_version must be {SCHEMA_VERSION}")
    if not isinstance(raw.get("run_id"), str) or not raw["run_id"]:
        raise VerificationError("manifest missing run_id")
    try:
        manifest = read_record(raw, RunpackManifest, what="manifest.json")
    except RecordFormatError as exc:
        raise VerificationError(str(exc)) from exc
    return ParsedManifest(raw, manifest)
