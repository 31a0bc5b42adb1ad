"""Key files in the reference format, and signatures that verify across implementations."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from gait.errors import ExitCode, InvalidInputError, VerificationError
from gait.keys import (
    KeyFileError,
    KeySource,
    SigningKey,
    load_signing_key,
    load_verify_key,
    parse_private_key,
    write_key_pair,
)
from gait.signing import sign_record, signable_digest, verify_record

from .conftest import INTEROP

REFERENCE_KEY_ID = "c7f3e746d9941b91a561e1079140709d2942e73585269ed7e86cb904b9530b9d"


def reference_key() -> object:
    return load_verify_key(KeySource(path=str(INTEROP / "reference_public.key")), KeySource())


def test_reference_public_key_loads() -> None:
    key = load_verify_key(KeySource(path=str(INTEROP / "reference_public.key")), KeySource())
    assert key.key_id == REFERENCE_KEY_ID


def test_reference_trace_verifies_and_any_edit_fails() -> None:
    key = load_verify_key(KeySource(path=str(INTEROP / "reference_public.key")), KeySource())
    trace = json.loads((INTEROP / "trace_signed.json").read_text())
    assert verify_record(trace, key).key_id == REFERENCE_KEY_ID
    for field, value in [("verdict", "allow"), ("violations", []), ("latency_ms", 1.0)]:
        edited = {**trace, field: value}
        with pytest.raises(VerificationError, match="signed_digest mismatch"):
            verify_record(edited, key)
    forged = {
        **trace,
        "signature": {
            **trace["signature"],
            "signed_digest": signable_digest({**trace, "verdict": "allow"}),
        },
    }
    forged["verdict"] = "allow"
    with pytest.raises(VerificationError, match="signature verification failed"):
        verify_record(forged, key)


def test_key_files_round_trip_in_reference_format(tmp_path: Path) -> None:
    key = SigningKey.generate()
    write_key_pair(key, tmp_path / "k_private.key", tmp_path / "k_public.key")
    private_text = (tmp_path / "k_private.key").read_text()
    raw = base64.b64decode(private_text)
    assert private_text.endswith("\n") and len(raw) == 64
    assert raw[32:] == key.public.raw
    assert len(base64.b64decode((tmp_path / "k_public.key").read_text())) == 32
    for name in ("k_private.key", "k_public.key"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600
    loaded = load_signing_key(
        KeySource(path=str(tmp_path / "k_private.key")),
        KeySource(path=str(tmp_path / "k_public.key")),
    )
    assert loaded == key
    with pytest.raises(FileExistsError):
        write_key_pair(key, tmp_path / "k_private.key", tmp_path / "k_public.key")


def test_sign_then_verify_and_tamper(tmp_path: Path) -> None:
    key = SigningKey.generate()
    record = {"schema_id": "x", "verdict": "block", "n": 1.5}
    signed = {**record, "signature": sign_record(key, record).to_json()}
    verify_record(json.loads(json.dumps(signed)), key.public)
    with pytest.raises(VerificationError):
        verify_record({**signed, "verdict": "allow"}, key.public)
    with pytest.raises(VerificationError, match="key id mismatch"):
        verify_record(signed, SigningKey.generate().public)
    with pytest.raises(VerificationError, match="missing signature"):
        verify_record(record, key.public)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not base64 !!!\n", "not valid base64"),
        (base64.b64encode(b"x" * 63).decode() + "\n", "must be 64 bytes"),
        (base64.b64encode(b"x" * 32).decode() + "\n", "must be 64 bytes"),
        ("", "must be 64 bytes"),
    ],
)
def test_bad_private_key_files_are_invalid_input(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.key"
    path.write_text(content)
    with pytest.raises(KeyFileError, match=message) as info:
        KeySource(path=str(path)).private_key()
    assert info.value.exit_code == ExitCode.INVALID_INPUT


def test_mismatched_private_key_halves_are_refused() -> None:
    a, b = SigningKey.generate(), SigningKey.generate()
    text = base64.b64encode(a.seed + b.public.raw).decode()
    with pytest.raises(KeyFileError, match="does not match"):
        parse_private_key(text)


def test_unreadable_and_missing_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInputError, match="cannot read key file"):
        KeySource(path=str(tmp_path / "absent.key")).private_key()
    with pytest.raises(InvalidInputError, match="cannot read key file"):
        KeySource(path=str(tmp_path)).private_key()
    monkeypatch.delenv("GAIT_TEST_KEY", raising=False)
    with pytest.raises(InvalidInputError, match="not set"):
        KeySource(env="GAIT_TEST_KEY").private_key()
    with pytest.raises(InvalidInputError, match="not both"):
        KeySource(path="a", env="B")
    with pytest.raises(InvalidInputError, match="public key not configured"):
        load_verify_key(KeySource(), KeySource())


def test_env_key_source(monkeypatch: pytest.MonkeyPatch) -> None:
    key = SigningKey.generate()
    monkeypatch.setenv("GAIT_TEST_KEY", "  " + key.encode())
    assert KeySource(env="GAIT_TEST_KEY").private_key() == key
    other = SigningKey.generate()
    monkeypatch.setenv("GAIT_TEST_PUB", other.public.encode())
    with pytest.raises(InvalidInputError, match="does not match"):
        load_signing_key(KeySource(env="GAIT_TEST_KEY"), KeySource(env="GAIT_TEST_PUB"))
