"""Offline runpack verification: member hashes, the manifest digest and optional signatures.

Members are hashed as they inflate, in fixed-size chunks (the large ones on two threads at once),
so verifying a runpack of a million intents needs no more memory than one of ten thousand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from pathlib import Path
from typing import Any

import attrs

from gait.canonical import canonical_json
from gait.errors import GaitError, InvalidInputError, VerificationError
from gait.keys import VerifyKey
from gait.runpack.manifest import (
    DATA_MEMBERS,
    MANIFEST_NAME,
    ParsedManifest,
    manifest_digest,
    parse_manifest,
)
from gait.runpack.zipio import RunpackArchive, open_runpack_archive
from gait.signing import Signature, verify_digest

# A manifest is a few hundred bytes; anything near this is not one a producer wrote.
MAX_MANIFEST_BYTES = 1024 * 1024

_NOTES = {
    ("missing", False): (
        "unsigned local/dev artifacts are expected by default; use --require-signature for "
        "strict verification"
    ),
    ("missing", True): (
        "signatures are required in this mode; provide signing keys and re-run verify"
    ),
    ("skipped", False): "signature checks were skipped because no verify key was provided",
    ("skipped", True): (
        "signature checks were expected but skipped; provide a public key or private key source"
    ),
    ("verified", False): "signatures verified",
    ("verified", True): "signatures verified",
    ("failed", False): (
        "signature verification failed; inspect signature_errors and re-run with the correct key"
    ),
    ("failed", True): (
        "signature verification failed; inspect signature_errors and re-run with the correct key"
    ),
}


@attrs.frozen
class HashMismatch:
    path: str
    expected: str
    actual: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "expected": self.expected, "actual": self.actual}


@attrs.frozen(kw_only=True)
class VerifyResult:
    """What `gait verify` reports. `ok` follows the reference: no missing files, no mismatches,
    and a signature status of `verified` when required, or anything but `failed` otherwise."""

    path: str
    run_id: str
    manifest_digest: str
    files_checked: int
    missing_files: tuple[str, ...]
    hash_mismatches: tuple[HashMismatch, ...]
    signature_status: str
    signature_errors: tuple[str, ...]
    signatures_total: int
    signatures_valid: int
    require_signature: bool

    @property
    def ok(self) -> bool:
        if self.missing_files or self.hash_mismatches:
            return False
        if self.require_signature:
            return self.signature_status == "verified"
        return self.signature_status != "failed"

    @property
    def signature_note(self) -> str:
        return _NOTES[(self.signature_status, self.require_signature)]

    @property
    def next_commands(self) -> list[str]:
        return [
            f"gait regress bootstrap --from {self.run_id} --json --junit ./gait-out/junit.xml",
            "gait demo --policy",
        ]

    def to_json(self) -> dict[str, Any]:
        """The reference's output fields; empty ones are left out (Go omitempty)."""
        payload: dict[str, Any] = {
            "ok": self.ok,
            "path": self.path,
            "run_id": self.run_id,
            "manifest_digest": self.manifest_digest,
            "files_checked": self.files_checked,
            "missing_files": list(self.missing_files),
            "hash_mismatches": [mismatch.to_json() for mismatch in self.hash_mismatches],
            "signature_status": self.signature_status,
            "signature_errors": list(self.signature_errors),
            "signatures_total": self.signatures_total,
            "signatures_valid": self.signatures_valid,
            "signature_note": self.signature_note,
            "next_commands": self.next_commands,
        }
        return {key: value for key, value in payload.items() if value or key == "ok"}


@attrs.frozen
class IntegrityScan:
    """The manifest and what hashing the declared members found."""

    parsed: ParsedManifest
    missing_files: tuple[str, ...]
    hash_mismatches: tuple[HashMismatch, ...]
    kept: dict[str, bytes]


def scan_runpack(archive: RunpackArchive, *, keep: Collection[str] = ()) -> IntegrityScan:
    """Check every declared member and the manifest digest; members named in `keep` are also
    returned in full (read once: hashed while they are read)."""
    if MANIFEST_NAME not in archive.members:
        raise InvalidInputError("missing manifest.json")
    parsed = parse_manifest(archive.read(MANIFEST_NAME, limit=MAX_MANIFEST_BYTES))
    manifest = parsed.manifest
    declared = dict.fromkeys(entry.path for entry in manifest.files)
    # A member no digest covers fails verification: nothing vouches for what it says. (A data
    # member the manifest leaves out is reported as missing below, as the reference does.)
    unlisted = sorted(
        name
        for name in archive.members
        if name not in declared and name != MANIFEST_NAME and name not in DATA_MEMBERS
    )
    if unlisted:
        raise VerificationError(
            f"runpack members not listed in the manifest: {', '.join(unlisted)}"
        )
    hashed = archive.hash_members([name for name in declared if name in archive.members], keep=keep)
    missing = {name for name in declared if name not in hashed}
    mismatches = [
        HashMismatch(entry.path, entry.sha256, hashed[entry.path].sha256)
        for entry in manifest.files
        if entry.path in hashed and hashed[entry.path].sha256 != entry.sha256.lower()
    ]
    missing.update(name for name in DATA_MEMBERS if name not in declared)
    computed = manifest_digest(manifest)
    if computed != manifest.manifest_digest.lower():
        mismatches.append(HashMismatch(MANIFEST_NAME, manifest.manifest_digest, computed))
    return IntegrityScan(
        parsed=parsed,
        missing_files=tuple(sorted(missing)),
        hash_mismatches=tuple(sorted(mismatches, key=lambda m: m.path)),
        kept={name: member.data for name, member in hashed.items() if member.data is not None},
    )


def _check_signatures(
    parsed: ParsedManifest, public_key: VerifyKey | None, *, require_signature: bool
) -> tuple[str, list[str], int]:
    """(status, errors, valid count) following the reference's order of checks."""
    signatures = parsed.manifest.signatures
    if not signatures:
        return "missing", ["manifest has no signatures"] if require_signature else [], 0
    if public_key is None:
        return "skipped", ["public key not configured"], 0
    signed_digest = hashlib.sha256(canonical_json(parsed.signable)).hexdigest()
    errors = []
    valid = 0
    for record in signatures:
        signature = Signature(
            alg=record.alg, key_id=record.key_id, sig=record.sig, signed_digest=record.signed_digest
        )
        try:
            verify_digest(signature, signed_digest, public_key)
        except GaitError as exc:
            errors.append(str(exc))
        else:
            valid += 1
    return ("verified" if valid else "failed"), errors, valid


def verify_runpack(
    path: Path, *, public_key: VerifyKey | None = None, require_signature: bool = False
) -> VerifyResult:
    """Verify a runpack zip (the reference's VerifyZip).

    Integrity findings are reported in the result; a file that is not a runpack zip raises
    InvalidInputError, and duplicate or unsafe member names, members the manifest does not list,
    a damaged member or an unreadable manifest raise VerificationError.
    """
    with open_runpack_archive(path) as archive:
        scan = scan_runpack(archive)
    status, errors, valid = _check_signatures(
        scan.parsed, public_key, require_signature=require_signature
    )
    manifest = scan.parsed.manifest
    return VerifyResult(
        path=str(path),
        run_id=manifest.run_id,
        manifest_digest=manifest.manifest_digest,
        files_checked=len(manifest.files),
        missing_files=scan.missing_files,
        hash_mismatches=scan.hash_mismatches,
        signature_status=status,
        signature_errors=tuple(sorted(errors)),
        signatures_total=len(manifest.signatures),
        signatures_valid=valid,
        require_signature=require_signature,
    )
