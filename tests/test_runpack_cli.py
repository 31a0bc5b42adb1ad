"""Runpacks end to end through the installed `gait`: demo, verify, run record|inspect|diff|replay.

Runpacks written here are also checked by `independent_verify`, which applies the reference's
rules to the raw zip bytes with zipfile, hashlib, rfc8785 and cryptography only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .conftest import INTEROP, RunGait

DEMO_ZIP = INTEROP / "runpack_run_demo.zip"
TCK_ZIP = INTEROP / "runpack_run_tck_signed.zip"
TCK_INPUT = INTEROP / "run_record_input.json"
REFERENCE_KEY = INTEROP / "reference_public.key"
DEMO_DIGEST = "e05313a9daff36b58efd659ac0cba1bb9de4af4c1971f6a10e56b8a98ac3b7b3"
TCK_DIGEST = "145318df409e6cd34adc043ee5949a26d299007ce7e633d35a7db25cac092af7"
DATA_MEMBERS = ["intents.jsonl", "refs.json", "results.jsonl", "run.json"]
ENVELOPE = {"ok", "error", "error_code", "error_category", "retryable", "hint", "correlation_id"}


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {"GAIT_HOME": str(tmp_path / "home")}


def members_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def independent_verify(path: Path, public_key_file: Path | None = None) -> dict[str, Any]:
    """The reference's verification rules over the raw zip, sharing no code with gait."""
    members = members_of(path)
    assert sorted(members) == sorted([*DATA_MEMBERS, "manifest.json"])
    manifest = json.loads(members["manifest.json"])
    assert members["manifest.json"] == rfc8785.dumps(manifest)
    assert [entry["path"] for entry in manifest["files"]] == DATA_MEMBERS
    for entry in manifest["files"]:
        assert hashlib.sha256(members[entry["path"]]).hexdigest() == entry["sha256"]
    for name in ("run.json", "refs.json"):
        assert members[name] == rfc8785.dumps(json.loads(members[name]))
    for name in ("intents.jsonl", "results.jsonl"):
        for line in members[name].splitlines():
            assert line == rfc8785.dumps(json.loads(line))
    signable = {key: value for key, value in manifest.items() if key != "signatures"}
    unsigned = {**signable, "manifest_digest": ""}
    assert hashlib.sha256(rfc8785.dumps(unsigned)).hexdigest() == manifest["manifest_digest"]
    if public_key_file is not None:
        raw_public = base64.b64decode(public_key_file.read_text().strip())
        (signature,) = manifest["signatures"]
        signed = hashlib.sha256(rfc8785.dumps(signable)).digest()
        assert signature["alg"] == "ed25519"
        assert signature["key_id"] == hashlib.sha256(raw_public).hexdigest()
        assert signature["signed_digest"] == signed.hex()
        Ed25519PublicKey.from_public_bytes(raw_public).verify(
            base64.b64decode(signature["sig"]), signed
        )
    assert isinstance(manifest, dict)
    return manifest


def snapshot(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def assert_envelope(out: Any, code: int, category: str) -> None:
    assert out.code == code, out.stdout + out.stderr
    payload = out.json
    assert set(payload) >= ENVELOPE
    assert payload["ok"] is False
    assert payload["error_category"] == category


# --- demo ---------------------------------------------------------------------------------------


def test_demo_writes_a_verifiable_runpack_and_prints_the_footer(
    gait: RunGait, tmp_path: Path, home: dict[str, str]
) -> None:
    out = gait("demo", env=home)
    assert out.code == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:3] == [
        "mode=standard",
        "run_id=run_demo",
        "bundle=./gait-out/runpack_run_demo.zip",
    ]
    footer = lines[3].removeprefix("ticket_footer=")
    manifest = independent_verify(tmp_path / "gait-out" / "runpack_run_demo.zip")
    assert footer == (
        f"GAIT run_id=run_demo manifest=sha256:{manifest['manifest_digest']} "
        'verify="gait verify run_demo"'
    )
    assert "verify=ok" in lines
    assert gait("verify", "run_demo", env=home).stdout.startswith(
        "verify ok: gait-out/runpack_run_demo.zip"
    )


def test_two_demos_write_byte_identical_zips(
    gait: RunGait, tmp_path: Path, home: dict[str, str]
) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    for folder in (first, second):
        folder.mkdir()
        out = gait("demo", "--json", cwd=folder, env=home)
        assert out.code == 0, out.stderr
        payload = out.json
        assert payload["mode"] == "standard"
        assert payload["verify"] == "ok"
        assert payload["bundle"] == "./gait-out/runpack_run_demo.zip"
        assert payload["next_commands"][0] == "gait verify run_demo --json"
    zips = [folder / "gait-out" / "runpack_run_demo.zip" for folder in (first, second)]
    assert zips[0].read_bytes() == zips[1].read_bytes()


def test_demo_policy_shows_a_block(gait: RunGait, tmp_path: Path, home: dict[str, str]) -> None:
    out = gait("demo", "--policy", "--json", env=home)
    assert out.code == 0, out.stderr
    assert out.json["policy_verdict"] == "block"
    assert out.json["matched_rule"] == "block-destructive-tool-delete"
    assert "destructive_tool_blocked" in out.json["reason_codes"]
    assert (tmp_path / "gait-out" / "policy_demo_high_risk.yaml").is_file()
    assert (tmp_path / "gait-out" / "intent_demo_delete.json").is_file()
    assert_envelope(gait("demo", "extra", "--json", env=home), 6, "invalid_input")


# --- verify -------------------------------------------------------------------------------------


def test_verify_the_reference_demo(gait: RunGait, home: dict[str, str]) -> None:
    out = gait("verify", str(DEMO_ZIP), "--json", env=home)
    assert out.code == 0, out.stdout
    payload = out.json
    assert payload["files_checked"] == 4
    assert payload["manifest_digest"] == DEMO_DIGEST
    assert payload["run_id"] == "run_demo"
    assert payload["signature_status"] == "missing"
    assert payload["ok"] is True
    assert list(payload) == sorted(payload)


def test_verify_the_reference_signed_runpack(gait: RunGait, home: dict[str, str]) -> None:
    out = gait("verify", str(TCK_ZIP), "--json", "--public-key", str(REFERENCE_KEY), env=home)
    assert out.code == 0, out.stdout
    payload = out.json
    assert (payload["manifest_digest"], payload["files_checked"]) == (TCK_DIGEST, 4)
    assert (payload["signature_status"], payload["signatures_valid"]) == ("verified", 1)
    strict = gait(
        "verify", "--profile", "strict", "--public-key", str(REFERENCE_KEY), str(TCK_ZIP), env=home
    )
    assert strict.code == 0, strict.stdout
    assert "signature status: verified" in strict.stdout


def test_verify_fails_with_any_other_key(
    gait: RunGait, tmp_path: Path, home: dict[str, str]
) -> None:
    assert gait("keys", "init", "--out-dir", "keys", "--prefix", "other", env=home).code == 0
    out = gait("verify", str(TCK_ZIP), "--public-key", "keys/other_public.key", "--json", env=home)
    assert out.code == 2
    assert out.json["signature_status"] == "failed"
    assert out.json["signature_errors"] == ["key id mismatch"]
    assert "error" not in out.json
    text = gait("verify", str(TCK_ZIP), "--private-key", "keys/other_private.key", env=home)
    assert text.code == 2
    assert text.stdout.splitlines()[0] == f"verify failed: {TCK_ZIP}"
    assert "signature errors: key id mismatch" in text.stdout


def _rezip(tmp_path: Path, members: dict[str, bytes], name: str = "changed.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


@pytest.mark.parametrize("member", [*DATA_MEMBERS, "manifest.json"])
def test_a_changed_byte_in_any_member_exits_2(
    gait: RunGait, tmp_path: Path, home: dict[str, str], member: str
) -> None:
    members = members_of(TCK_ZIP)
    data = bytearray(members[member])
    data[len(data) // 2] ^= 0x01
    path = _rezip(tmp_path, {**members, member: bytes(data)})
    out = gait("verify", str(path), "--public-key", str(REFERENCE_KEY), "--json", env=home)
    assert out.code == 2, out.stdout


def test_a_changed_signature_exits_2(gait: RunGait, tmp_path: Path, home: dict[str, str]) -> None:
    members = members_of(TCK_ZIP)
    manifest = json.loads(members["manifest.json"])
    signature = bytearray(base64.b64decode(manifest["signatures"][0]["sig"]))
    signature[0] ^= 0x01
    manifest["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    path = _rezip(tmp_path, {**members, "manifest.json": rfc8785.dumps(manifest)})
    out = gait("verify", str(path), "--public-key", str(REFERENCE_KEY), "--json", env=home)
    assert out.code == 2
    assert out.json["signature_status"] == "failed"
    assert out.json["signature_errors"] == ["signature verification failed"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "expected run_id or path"),
        (("a.zip", "b.zip"), "expected run_id or path"),
        ((str(DEMO_ZIP), "--profile", "loose"), "unsupported --profile"),
        ((str(DEMO_ZIP), "--profile", "strict"), "strict verify profile requires"),
        (("run_nowhere",), "runpack not found for run_id: run_nowhere"),
        (("missing.zip",), "runpack not found: missing.zip"),
        ((str(DEMO_ZIP), "--public-key", "nope.key"), "cannot read key file"),
    ],
)
def test_verify_usage_errors_exit_6(
    gait: RunGait, home: dict[str, str], argv: tuple[str, ...], message: str
) -> None:
    out = gait("verify", *argv, "--json", env=home)
    assert_envelope(out, 6, "invalid_input")
    assert message in out.json["error"]


# --- hostile input ------------------------------------------------------------------------------


def _hostile(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "inputs" / f"{kind}.zip"
    path.parent.mkdir(exist_ok=True)
    demo = DEMO_ZIP.read_bytes()
    members = members_of(DEMO_ZIP)
    if kind == "not_a_zip":
        path.write_text("hello")
    elif kind == "truncated":
        path.write_bytes(demo[: len(demo) - 30])
    else:
        entries = list(members.items())
        if kind == "bomb":
            entries = [
                (n, bytes(4 * 1024 * 1024) if n == "intents.jsonl" else d) for n, d in entries
            ]
        elif kind == "duplicate":
            entries.append(("run.json", b"{}"))
        elif kind == "traversal":
            entries.append(("../../escaped.json", b"{}"))
        elif kind == "absolute":
            entries.append(("/tmp/escaped.json", b"{}"))
        elif kind == "wrong_schema":
            manifest = json.loads(members["manifest.json"])
            manifest["schema_id"] = "gait.pack.manifest"
            entries = [
                (n, rfc8785.dumps(manifest) if n == "manifest.json" else d) for n, d in entries
            ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # duplicate names are the point of one case
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, data in entries:
                    archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("kind", "code", "category", "message"),
    [
        ("not_a_zip", 6, "invalid_input", "not a zip file"),
        ("truncated", 6, "invalid_input", "not a zip file"),
        ("bomb", 6, "invalid_input", "inflates more than"),
        ("duplicate", 2, "verification_failed", "zip contains duplicate entries: run.json"),
        ("traversal", 2, "verification_failed", "unsafe entry names: ../../escaped.json"),
        ("absolute", 2, "verification_failed", "unsafe entry names: /tmp/escaped.json"),
        ("wrong_schema", 2, "verification_failed", "schema_id must be gait.runpack.manifest"),
    ],
)
@pytest.mark.parametrize("command", ["verify", "inspect", "replay"])
def test_hostile_runpacks_are_refused_and_nothing_is_written(
    gait: RunGait,
    tmp_path: Path,
    home: dict[str, str],
    kind: str,
    code: int,
    category: str,
    message: str,
    command: str,
) -> None:
    path = _hostile(tmp_path, kind)
    before = snapshot(tmp_path)
    argv = ("verify",) if command == "verify" else ("run", command)
    out = gait(*argv, str(path), "--json", env=home)
    assert_envelope(out, code, category)
    assert message in out.json["error"]
    assert snapshot(tmp_path) == before
    assert not (tmp_path.parent / "escaped.json").exists()


# --- run record ---------------------------------------------------------------------------------


def test_record_the_reference_input_reproduces_its_members(
    gait: RunGait, tmp_path: Path, home: dict[str, str]
) -> None:
    out = gait("run", "record", "--input", str(TCK_INPUT), "--json", env=home)
    assert out.code == 0, out.stdout + out.stderr
    payload = out.json
    assert payload["manifest_digest"] == TCK_DIGEST
    assert payload["signature_status"] == "missing"
    assert payload["bundle"] == "./gait-out/runpack_run_tck.zip"
    assert payload["ticket_footer"].startswith(f"GAIT run_id=run_tck manifest=sha256:{TCK_DIGEST}")
    written = tmp_path / "gait-out" / "runpack_run_tck.zip"
    manifest = independent_verify(written)
    reference = members_of(TCK_ZIP)
    reference_manifest = json.loads(reference["manifest.json"])
    assert manifest["files"] == reference_manifest["files"]
    for name in DATA_MEMBERS:
        assert members_of(written)[name] == reference[name]


def test_record_signed_with_our_key_verifies_everywhere(
    gait: RunGait, tmp_path: Path, home: dict[str, str]
) -> None:
    assert gait("keys", "init", "--out-dir", "keys", "--prefix", "team", env=home).code == 0
    out = gait(
        "run", "record", str(TCK_INPUT), "--private-key", "keys/team_private.key",
        "--out-dir", "signed", env=home,
    )  # fmt: skip
    assert out.code == 0, out.stdout + out.stderr
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines())
    assert lines["signature_status"] == "signed"
    assert lines["bundle"] == "./signed/runpack_run_tck.zip"
    written = tmp_path / "signed" / "runpack_run_tck.zip"
    manifest = independent_verify(written, tmp_path / "keys" / "team_public.key")
    assert manifest["manifest_digest"] == TCK_DIGEST
    assert manifest["signatures"][0]["key_id"] == lines["signature_key_id"]
    verified = gait(
        "verify", str(written), "--public-key", "keys/team_public.key", "--require-signature",
        env=home,
    )  # fmt: skip
    assert verified.code == 0, verified.stdout


def test_record_options(gait: RunGait, tmp_path: Path, home: dict[str, str]) -> None:
    out = gait(
        "run", "record", "--input", str(TCK_INPUT), "--run-id", "run_copy",
        "--capture-mode", "raw", "--key-mode", "dev", "--json", env=home,
    )  # fmt: skip
    assert out.code == 0, out.stdout + out.stderr
    payload = out.json
    assert payload["run_id"] == "run_copy"
    assert payload["signature_status"] == "signed"
    assert any("raw capture" in warning for warning in payload["warnings"])
    assert any(warning.startswith("dev mode") for warning in payload["warnings"])
    members = members_of(tmp_path / "gait-out" / "runpack_run_copy.zip")
    assert json.loads(members["intents.jsonl"])["args"] == {"message": "hello"}
    assert json.loads(members["refs.json"])["run_id"] == "run_copy"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--capture-mode", "full"), "capture mode must be one of"),
        (("--context-evidence-mode", "required"), "context_set_digest is missing"),
        (("--context-evidence-mode", "sometimes"), "best_effort or required"),
        (("--run-id", "../escaped"), "run_id must use only"),
        (("--key-mode", "prod"), "prod key mode requires"),
        (("--key-mode", "dev", "--private-key", "k"), "dev mode does not accept"),
    ],
)
def test_record_refuses_bad_options_and_writes_nothing(
    gait: RunGait, tmp_path: Path, home: dict[str, str], extra: tuple[str, ...], message: str
) -> None:
    before = snapshot(tmp_path)
    out = gait("run", "record", "--input", str(TCK_INPUT), *extra, "--json", env=home)
    assert_envelope(out, 6, "invalid_input")
    assert message in out.json["error"]
    assert snapshot(tmp_path) - before <= {tmp_path / "home", *(tmp_path / "home").rglob("*")}
    assert not (tmp_path / "escaped.json").exists()
    assert not list(tmp_path.parent.glob("runpack_*"))


def test_record_input_errors(gait: RunGait, tmp_path: Path, home: dict[str, str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    no_id = tmp_path / "no_id.json"
    data = json.loads(TCK_INPUT.read_text())
    data["run"].pop("run_id")
    no_id.write_text(json.dumps(data))
    raw = tmp_path / "raw.json"
    data = json.loads(TCK_INPUT.read_text())
    data["refs"]["receipts"][0]["redaction_mode"] = "raw"
    raw.write_text(json.dumps(data))
    for argv, message in [
        ((), "missing required --input"),
        (("--input", str(bad)), "parse input json"),
        (("--input", str(no_id)), "run.run_id is required (or set --run-id)"),
        (("--input", str(raw)), "--unsafe-context-raw"),
        (("--input", "nowhere.json"), "cannot read run record input"),
    ]:
        out = gait("run", "record", *argv, "--json", env=home)
        assert_envelope(out, 6, "invalid_input")
        assert message in out.json["error"], out.json
    allowed = gait("run", "record", "--input", str(raw), "--unsafe-context-raw", env=home)
    assert allowed.code == 0, allowed.stdout + allowed.stderr


# --- inspect, diff, replay, receipt ------------------------------------------------------------


def _demo(gait: RunGait, home: dict[str, str]) -> None:
    assert gait("demo", env=home).code == 0


def test_inspect(gait: RunGait, home: dict[str, str]) -> None:
    _demo(gait, home)
    out = gait("run", "inspect", "--from", "run_demo", "--json", env=home)
    assert out.code == 0, out.stdout
    payload = out.json
    assert payload["artifact_type"] == "runpack"
    assert (payload["intents_total"], payload["results_total"]) == (3, 3)
    assert [e["tool_name"] for e in payload["entries"]] == [
        "tool.search",
        "tool.fetch",
        "tool.summarize",
    ]
    assert payload["entries"][0]["index"] == 1
    assert payload["entries"][0]["status"] == "ok"
    text = gait("run", "inspect", str(DEMO_ZIP), env=home)
    assert text.stdout.splitlines()[0] == (
        "run inspect: run_id=run_demo intents=3 results=3 capture_mode=reference"
    )
    assert "1. intent=intent_1 tool=tool.search status=ok" in text.stdout


def test_diff(gait: RunGait, tmp_path: Path, home: dict[str, str]) -> None:
    _demo(gait, home)
    same = gait("run", "diff", "run_demo", str(DEMO_ZIP), "--json", "--output", "d.json", env=home)
    assert same.code == 0, same.stdout
    assert same.json["summary"]["manifest_changed"] is False
    assert json.loads((tmp_path / "d.json").read_text())["privacy"] == "full"
    assert gait("run", "record", str(TCK_INPUT), env=home).code == 0
    changed = gait("run", "diff", "run_demo", "run_tck", "--privacy", "metadata", env=home)
    assert changed.code == 2
    assert changed.stdout.startswith("diff changed: run_demo vs run_tck")
    first = gait("run", "diff", "run_demo", "run_tck", "--json", env=home)
    second = gait("run", "diff", "run_demo", "run_tck", "--json", env=home)
    assert first.json["summary"] == second.json["summary"]
    assert first.json["summary"]["left_only_intents"] == ["intent_2", "intent_3"]
    bad = gait("run", "diff", "run_demo", "--json", env=home)
    assert_envelope(bad, 6, "invalid_input")


def test_replay_is_stub_only(gait: RunGait, home: dict[str, str]) -> None:
    _demo(gait, home)
    first = gait("run", "replay", "run_demo", "--json", env=home)
    second = gait("run", "replay", "run_demo", "--json", env=home)
    assert first.code == 0
    assert first.json["mode"] == "stub"
    assert first.json["steps"] == second.json["steps"]
    assert [step["execution"] for step in first.json["steps"]] == ["recorded"] * 3
    assert gait("run", "replay", "run_demo", env=home).stdout == "replay ok: run_demo (stub)\n"
    for argv, message in [
        ((), "--unsafe-real-tools"),
        (("--unsafe-real-tools",), "--allow-tools"),
        (("--unsafe-real-tools", "--allow-tools", "echo"), "GAIT_ALLOW_REAL_REPLAY=1"),
    ]:
        out = gait("run", "replay", "run_demo", "--real-tools", *argv, "--json", env=home)
        assert out.code == 8
        assert message in out.json["error"]
    allowed = gait(
        "run", "replay", "run_demo", "--real-tools", "--unsafe-real-tools",
        "--allow-tools", "echo", "--json", env={**home, "GAIT_ALLOW_REAL_REPLAY": "1"},
    )  # fmt: skip
    assert allowed.code == 8
    assert "stubs only" in allowed.json["error"]


def test_replay_of_a_missing_result_exits_2(
    gait: RunGait, tmp_path: Path, home: dict[str, str]
) -> None:
    data = json.loads(TCK_INPUT.read_text())
    data["results"] = []
    data["intents"][0]["tool_name"] = "tool.summarize"
    source = tmp_path / "no_results.json"
    source.write_text(json.dumps(data))
    assert gait("run", "record", str(source), env=home).code == 0
    out = gait("run", "replay", "run_tck", "--json", env=home)
    assert out.code == 2
    assert out.json["missing_results"] == ["intent_1"]
    assert "error" not in out.json


def test_receipt(gait: RunGait, home: dict[str, str]) -> None:
    _demo(gait, home)
    out = gait("run", "receipt", "--from", "run_demo", env=home)
    assert out.code == 0
    assert out.stdout.startswith("GAIT run_id=run_demo manifest=sha256:")


def test_runpacks_are_found_under_gait_home(
    gait: RunGait, tmp_path: Path, home: dict[str, str]
) -> None:
    runpacks = Path(home["GAIT_HOME"]) / "runpacks"
    runpacks.mkdir(parents=True)
    shutil.copy(DEMO_ZIP, runpacks / "runpack_run_demo.zip")
    out = gait("verify", "run_demo", "--json", env=home)
    assert out.code == 0
    assert out.json["path"] == str(runpacks / "runpack_run_demo.zip")
    assert not (tmp_path / "gait-out").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ("demo",),
        ("verify",),
        ("run", "record"),
        ("run", "inspect"),
        ("run", "diff"),
        ("run", "replay"),
        ("run", "receipt"),
    ],
)
def test_help_lists_json_and_exit_codes(gait: RunGait, argv: tuple[str, ...]) -> None:
    out = gait(*argv, "--help")
    assert out.code == 0, out.stderr
    assert "--json" in out.stdout
    assert "Exit codes:" in out.stdout


def test_files_are_written_with_mode_0600(
    gait: RunGait, tmp_path: Path, home: dict[str, str]
) -> None:
    _demo(gait, home)
    mode = os.stat(tmp_path / "gait-out" / "runpack_run_demo.zip").st_mode & 0o777
    assert mode == 0o600
