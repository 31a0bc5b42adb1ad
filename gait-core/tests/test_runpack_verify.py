"""verify_runpack against the reference's artifacts and every kind of tampering (section 1.7)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
import rfc8785

from gait.errors import InvalidInputError, VerificationError
from gait.keys import KeySource, SigningKey, VerifyKey
from gait.runpack import verify_runpack

from .runpack_zips import (
    DATA_MEMBERS,
    DEMO_ZIP,
    REFERENCE_PUBLIC_KEY,
    TCK_ZIP,
    manifest_for,
    members_of,
    runpack_with,
    write_zip,
)

DEMO_DIGEST = "e05313a9daff36b58efd659ac0cba1bb9de4af4c1971f6a10e56b8a98ac3b7b3"
TCK_DIGEST = "145318df409e6cd34adc043ee5949a26d299007ce7e633d35a7db25cac092af7"
DATA = {name: f'{{"member":"{name}"}}\n'.encode() for name in DATA_MEMBERS}


def reference_key() -> VerifyKey:
    return KeySource(path=str(REFERENCE_PUBLIC_KEY)).public_key()


def test_reference_demo_verifies_unsigned() -> None:
    result = verify_runpack(DEMO_ZIP, public_key=None, require_signature=False)
    assert result.ok
    assert (result.run_id, result.manifest_digest) == ("run_demo", DEMO_DIGEST)
    assert result.files_checked == 4
    assert result.signature_status == "missing"
    assert result.to_json() == {
        "ok": True,
        "path": str(DEMO_ZIP),
        "run_id": "run_demo",
        "manifest_digest": DEMO_DIGEST,
        "files_checked": 4,
        "signature_status": "missing",
        "signature_note": (
            "unsigned local/dev artifacts are expected by default; use --require-signature "
            "for strict verification"
        ),
        "next_commands": [
            "gait regress bootstrap --from run_demo --json --junit ./gait-out/junit.xml",
            "gait demo --policy",
        ],
    }
    strict = verify_runpack(DEMO_ZIP, public_key=reference_key(), require_signature=True)
    assert not strict.ok
    assert strict.signature_errors == ("manifest has no signatures",)


def test_reference_signed_runpack_verifies_with_the_reference_key() -> None:
    result = verify_runpack(TCK_ZIP, public_key=reference_key(), require_signature=True)
    assert result.ok
    assert result.manifest_digest == TCK_DIGEST
    assert result.files_checked == 4
    assert (result.signature_status, result.signatures_total, result.signatures_valid) == (
        "verified",
        1,
        1,
    )


def test_any_other_key_fails_the_signature() -> None:
    other = SigningKey.generate().public
    result = verify_runpack(TCK_ZIP, public_key=other, require_signature=False)
    assert not result.ok
    assert result.signature_status == "failed"
    assert result.signature_errors == ("key id mismatch",)


def test_without_a_key_id_the_ed25519_check_decides(tmp_path: Path) -> None:
    manifest = json.loads(members_of(TCK_ZIP)["manifest.json"])
    manifest["signatures"][0]["key_id"] = ""
    members = {**members_of(TCK_ZIP), "manifest.json": json.dumps(manifest).encode()}
    path = write_zip(tmp_path / "nokeyid.zip", members.items())
    assert verify_runpack(path, public_key=reference_key(), require_signature=True).ok
    other = verify_runpack(path, public_key=SigningKey.generate().public, require_signature=True)
    assert other.signature_errors == ("signature verification failed",)


def test_signed_runpack_without_a_key_is_skipped() -> None:
    result = verify_runpack(TCK_ZIP, public_key=None, require_signature=False)
    assert result.ok
    assert result.signature_status == "skipped"
    assert result.signature_errors == ("public key not configured",)
    assert not verify_runpack(TCK_ZIP, public_key=None, require_signature=True).ok


def _flipped(path: Path, tmp_path: Path, member: str, index: int) -> Path:
    members = members_of(path)
    data = bytearray(members[member])
    data[index] ^= 0x01
    members[member] = bytes(data)
    return write_zip(tmp_path / "flipped.zip", members.items())


def _fails(path: Path, key: VerifyKey | None) -> bool:
    try:
        return not verify_runpack(path, public_key=key, require_signature=False).ok
    except VerificationError:
        return True


@pytest.mark.parametrize(("zip_path", "signed"), [(DEMO_ZIP, False), (TCK_ZIP, True)])
def test_every_changed_byte_of_every_member_fails_verification(
    tmp_path: Path, zip_path: Path, signed: bool
) -> None:
    """Every byte of manifest.json; every fifth byte (and the last) of the data members, whose
    bytes all go through the same sha256 comparison."""
    key = reference_key() if signed else None
    positions = [
        (member, index)
        for member, data in members_of(zip_path).items()
        for index in range(len(data))
        if member == "manifest.json" or index % 5 == 0 or index == len(data) - 1
    ]
    surviving = [
        position
        for position in positions
        if not _fails(_flipped(zip_path, tmp_path, *position), key)
    ]
    assert surviving == []


def test_a_changed_signature_fails(tmp_path: Path) -> None:
    manifest = json.loads(members_of(TCK_ZIP)["manifest.json"])
    raw_signature = bytearray(base64.b64decode(manifest["signatures"][0]["sig"]))
    raw_signature[10] ^= 0x01
    manifest["signatures"][0]["sig"] = base64.b64encode(bytes(raw_signature)).decode()
    members = {**members_of(TCK_ZIP), "manifest.json": json.dumps(manifest).encode()}
    path = write_zip(tmp_path / "sig.zip", members.items())
    result = verify_runpack(path, public_key=reference_key(), require_signature=False)
    assert (result.ok, result.signature_status) == (False, "failed")
    assert result.signature_errors == ("signature verification failed",)
    assert result.missing_files == () and result.hash_mismatches == ()


def test_missing_and_mismatched_members_are_reported_sorted(tmp_path: Path) -> None:
    manifest = manifest_for(DATA)
    changed = {**DATA, "run.json": b"{}", "intents.jsonl": b"x"}
    del changed["refs.json"]
    result = verify_runpack(runpack_with(tmp_path / "r.zip", changed, manifest))
    assert result.missing_files == ("refs.json",)
    assert [m.path for m in result.hash_mismatches] == ["intents.jsonl", "run.json"]
    mismatch = result.hash_mismatches[1]
    assert mismatch.expected == hashlib.sha256(DATA["run.json"]).hexdigest()
    assert mismatch.actual == hashlib.sha256(b"{}").hexdigest()
    assert not result.ok


def test_undeclared_data_files_count_as_missing(tmp_path: Path) -> None:
    declared = {name: DATA[name] for name in ("run.json", "refs.json")}
    result = verify_runpack(runpack_with(tmp_path / "r.zip", DATA, manifest_for(declared)))
    assert result.missing_files == ("intents.jsonl", "results.jsonl")
    assert result.files_checked == 2


def test_undeclared_extra_members_fail_verification(tmp_path: Path) -> None:
    # Issue 15 section 5: a member the manifest does not list is covered by no digest.
    path = runpack_with(tmp_path / "r.zip", {**DATA, "notes.txt": b"hi"}, manifest_for(DATA))
    with pytest.raises(VerificationError, match=r"not listed in the manifest: notes\.txt"):
        verify_runpack(path)


def test_sha256_comparison_ignores_case(tmp_path: Path) -> None:
    manifest = manifest_for(DATA)
    upper = [{**entry, "sha256": entry["sha256"].upper()} for entry in manifest["files"]]
    manifest = manifest_for(DATA, files=upper)
    assert verify_runpack(runpack_with(tmp_path / "r.zip", DATA, manifest)).ok


def test_a_wrong_manifest_digest_is_a_mismatch(tmp_path: Path) -> None:
    manifest = {**manifest_for(DATA), "manifest_digest": "0" * 64}
    result = verify_runpack(runpack_with(tmp_path / "r.zip", DATA, manifest))
    assert [(m.path, m.expected) for m in result.hash_mismatches] == [("manifest.json", "0" * 64)]


def test_missing_manifest_is_invalid_input(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "r.zip", DATA.items())
    with pytest.raises(InvalidInputError, match=r"missing manifest\.json"):
        verify_runpack(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema_id": "gait.pack.manifest"}, "schema_id must be gait.runpack.manifest"),
        ({"schema_version": "2.0.0"}, "schema_version must be 1.0.0"),
        ({"run_id": ""}, "missing run_id"),
        ({"extra": 1}, "extra"),
        ({"capture_mode": 5}, "capture_mode"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"files": [{"path": "run.json"}]}, "sha256"),
    ],
)
def test_a_manifest_that_is_not_a_v1_manifest_fails(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    manifest = {**manifest_for(DATA), **change}
    with pytest.raises(VerificationError, match=message):
        verify_runpack(runpack_with(tmp_path / "r.zip", DATA, manifest))


@pytest.mark.parametrize("text", [b"not json", b"[]", b"\xff\xfe", b'{"a":NaN}'])
def test_an_unparseable_manifest_fails(tmp_path: Path, text: bytes) -> None:
    path = write_zip(tmp_path / "r.zip", [("manifest.json", text), *DATA.items()])
    with pytest.raises(VerificationError, match=r"manifest\.json"):
        verify_runpack(path)


def test_a_manifest_missing_a_key_the_reference_always_writes_fails(tmp_path: Path) -> None:
    manifest = manifest_for(DATA)
    del manifest["manifest_digest"]
    with pytest.raises(VerificationError, match="manifest_digest"):
        verify_runpack(runpack_with(tmp_path / "r.zip", DATA, manifest))


def test_signature_covers_the_raw_manifest_and_digest_the_typed_one(tmp_path: Path) -> None:
    """The reference signs the manifest as written (time text included) but recomputes the
    digest in Go's time format: a manifest with `.000Z` verifies on both counts."""
    manifest = manifest_for(DATA)
    manifest["created_at"] = "2026-02-05T00:00:00.000Z"
    key = SigningKey.generate()
    signed_digest = hashlib.sha256(rfc8785.dumps(manifest)).digest()
    manifest["signatures"] = [
        {
            "alg": "ed25519",
            "key_id": key.key_id,
            "sig": base64.b64encode(key.sign(signed_digest)).decode(),
            "signed_digest": signed_digest.hex(),
        }
    ]
    result = verify_runpack(
        runpack_with(tmp_path / "r.zip", DATA, manifest),
        public_key=key.public,
        require_signature=True,
    )
    assert result.ok, result.to_json()
