"""One reading of every document (issue 15 §4 and §5), through the installed `gait`.

- A path that is not a regular file (FIFO, Unix socket, folder, device) given as any input
  file is refused at once with exit 6 and a message naming it; a FIFO never blocks.
- JSON with a duplicate key or two keys that differ only in letter case, at any depth, is
  refused: invalid input (6) for inputs, a failed verification (2) for traces and runpacks.
- NaN, Infinity and numbers outside float64 are exit 6 or 2, never a traceback.
- `gait trace verify` reads the signature object strictly; `gait verify` with a key requires a
  signature; a runpack member the manifest does not list fails; a policy file with two YAML
  documents is refused; boolean environment variables have one parser.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import INTEROP, Run, RunGait

POLICY = """schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
rules:
  - name: allow-read
    effect: allow
    match: {tool_names: [tool.read]}
"""
INTENT = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-02-06T00:00:00Z",
    "producer_version": "test",
    "tool_name": "tool.read",
    "args": {"path": "/tmp/a"},
    "targets": [{"kind": "path", "value": "/tmp/a", "operation": "read"}],
    "context": {"identity": "alice", "workspace": "/repo", "risk_class": "low"},
}
CALL = {"name": "tool.read", "args": {"path": "/tmp/a"}}
# Tokens are read when the verdict asks for approval, the rate-limit state when a rule counts.
APPROVAL_POLICY = (
    "schema_id: gait.gate.policy\nschema_version: 1.0.0\ndefault_verdict: require_approval\n"
)
LIMITED_POLICY = POLICY + "    rate_limit: {requests: 5, window: hour, scope: identity}\n"
TRACE = INTEROP / "trace_signed.json"
REFERENCE_KEY = INTEROP / "reference_public.key"
TCK_ZIP = INTEROP / "runpack_run_tck_signed.zip"
DEMO_ZIP = INTEROP / "runpack_run_demo.zip"
RUN_INPUT = INTEROP / "run_record_input.json"


def _no_traceback(out: Run) -> None:
    assert "Traceback" not in out.stderr + out.stdout, out.stderr


def _refused(out: Run, code: int, *needles: str) -> dict[str, object]:
    _no_traceback(out)
    assert out.code == code, (out.code, out.stdout, out.stderr)
    payload = out.json
    assert payload["ok"] is False
    for needle in needles:
        assert needle in str(payload["error"]), payload
    return payload


@pytest.fixture
def work(tmp_path: Path, gait: RunGait) -> Path:
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "approve.yaml").write_text(APPROVAL_POLICY)
    (tmp_path / "limited.yaml").write_text(LIMITED_POLICY)
    (tmp_path / "intent.json").write_text(json.dumps(INTENT))
    (tmp_path / "call.json").write_text(json.dumps(CALL))
    (tmp_path / "gait.yaml").write_text(json.dumps({"fixtures": []}))
    (tmp_path / "server.json").write_text(json.dumps({"server_id": "s"}))
    shutil.copy(TRACE, tmp_path / "trace.json")
    done = gait("keys", "init", "--out-dir", "keys", "--prefix", "t", "--json")
    assert done.code == 0, done.stdout
    return tmp_path


# --- paths that are not regular files ----------------------------------------------------------

# Each command with one input file replaced by X.
COMMANDS = {
    "gate policy": ("gate", "eval", "--policy", "X", "--intent", "intent.json"),
    "gate intent": ("gate", "eval", "--policy", "policy.yaml", "--intent", "X"),
    "gate approval token": (
        "gate", "eval", "--policy", "approve.yaml", "--intent", "intent.json",
        "--approval-token", "X",
    ),
    "gate private key": (
        "gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json",
        "--key-mode", "prod", "--private-key", "X",
    ),
    "gate rate-limit state": (
        "gate", "eval", "--policy", "limited.yaml", "--intent", "intent.json",
        "--rate-limit-state", "X",
    ),
    "trace": ("trace", "verify", "X", "--public-key", str(REFERENCE_KEY)),
    "trace public key": ("trace", "verify", "trace.json", "--public-key", "X"),
    "mcp proxy call": ("mcp", "proxy", "--policy", "policy.yaml", "--call", "X"),
    "mcp verify server": ("mcp", "verify", "--policy", "policy.yaml", "--server", "X"),
    "policy validate": ("policy", "validate", "X"),
    "policy fmt": ("policy", "fmt", "X"),
    "policy test intent": ("policy", "test", "policy.yaml", "X"),
    "run record input": ("run", "record", "--input", "X"),
    "runpack": ("verify", "X"),
    "regress config": ("regress", "run", "--config", "X"),
}  # fmt: skip


@pytest.fixture(scope="module")
def specials() -> Iterator[dict[str, Path]]:
    """A FIFO (no writer: opening it for reading would block), a listening Unix socket, a
    folder and a device, under a short path (socket paths are limited to ~100 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="gait-sp-", dir="/tmp"))
    os.mkfifo(folder / "fifo")
    (folder / "dir").mkdir()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(folder / "sock"))
    server.listen(1)
    try:
        yield {
            "fifo": folder / "fifo",
            "socket": folder / "sock",
            "folder": folder / "dir",
            "device": Path(os.devnull),
        }
    finally:
        server.close()
        shutil.rmtree(folder)


# Not the rate-limit state as a device: its lock file would be created beside it, in /dev.
CASES = [
    (command, kind)
    for command in sorted(COMMANDS)
    for kind in ("fifo", "socket", "folder", "device")
    if (command, kind) != ("gate rate-limit state", "device")
]


@pytest.mark.parametrize(("command", "kind"), CASES)
def test_an_input_that_is_not_a_regular_file_is_refused_at_once(
    gait: RunGait, work: Path, specials: dict[str, Path], command: str, kind: str
) -> None:
    special = str(specials[kind])
    argv = [special if arg == "X" else arg for arg in COMMANDS[command]]
    out = gait(*argv, "--json", cwd=work)  # the fixture's timeout fails a blocked read
    _refused(out, 6, special, "not a regular file")


# --- duplicate and case-variant keys -----------------------------------------------------------

DUPLICATE_INTENTS = {
    "duplicate args key": '"args": {"path": "/tmp/a", "path": "/etc/shadow"}',
    "case-variant field": '"args": {"path": "/tmp/a"}, "TOOL_NAME": "tool.delete"',
    "nested case variant": '"args": {"opts": {"Recursive": false, "recursive": true}}',
    # Go's EqualFold joins these (simple case folding), though each folds to more than one
    # character in Python: U+00DF and U+1E9E (sharp s), U+0390 and U+1FD3, U+FB05 and U+FB06.
    "sharp s variants": '"args": {"\\u00df": 1, "\\u1e9e": 2}',
    "greek iota with dialytika variants": '"args": {"\\u0390": 1, "\\u1fd3": 2}',
    "ligature st variants": '"args": {"\\ufb05": 1, "\\ufb06": 2}',
}


def _intent_with(fragment: str) -> str:
    body = {k: v for k, v in INTENT.items() if k != "args"}
    return json.dumps(body)[:-1] + ", " + fragment + "}"


@pytest.mark.parametrize("name", sorted(DUPLICATE_INTENTS))
def test_an_intent_with_two_readings_is_invalid_input(gait: RunGait, work: Path, name: str) -> None:
    (work / "dup.json").write_text(_intent_with(DUPLICATE_INTENTS[name]))
    out = gait(
        "gate", "eval", "--policy", "policy.yaml", "--intent", "dup.json", "--json", cwd=work
    )
    _refused(out, 6)
    assert "key" in str(out.json["error"])
    assert not list(work.glob("trace_*.json")), "no decision may be recorded"


def test_a_tool_call_and_an_approval_token_with_two_readings_are_invalid_input(
    gait: RunGait, work: Path
) -> None:
    (work / "dup_call.json").write_text('{"name": "tool.read", "name": "tool.delete", "args": {}}')
    out = gait(
        "mcp", "proxy", "--policy", "policy.yaml", "--call", "dup_call.json", "--json", cwd=work
    )
    _refused(out, 6, 'duplicate key "name"')
    (work / "token.json").write_text('{"token_id": "a", "Token_Id": "b"}')
    out = gait(
        "gate", "eval", "--policy", "approve.yaml", "--intent", "intent.json",
        "--approval-token", "token.json", "--json", cwd=work,
    )  # fmt: skip
    _refused(out, 6, "differ only in letter case")


def _trace_verify(gait: RunGait, work: Path, name: str) -> Run:
    return gait("trace", "verify", name, "--public-key", str(REFERENCE_KEY), "--json", cwd=work)


def test_the_reference_trace_still_verifies(gait: RunGait, work: Path) -> None:
    out = _trace_verify(gait, work, "trace.json")
    assert out.code == 0, out.stdout
    assert out.json["signature_status"] == "verified"


@pytest.mark.parametrize(
    "extra",
    [
        '"verdict": "allow",\n  "verdict": "block",',  # the signed one last (what Go reads)
        '"verdict": "block",\n  "verdict": "allow",',
        '"verdict": "block",\n  "Verdict": "allow",',  # Go folds case: it would read "allow"
    ],
)
def test_a_trace_with_two_verdicts_fails_verification(
    gait: RunGait, work: Path, extra: str
) -> None:
    text = TRACE.read_text().replace('"verdict": "block",', extra)
    (work / "forged.json").write_text(text)
    out = _trace_verify(gait, work, "forged.json")
    payload = _refused(out, 2, "more than one reading")
    assert payload["signature_status"] == "failed"
    assert payload["verdict"] == ""  # no verdict is reported from a trace with two


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400])
def test_numbers_without_a_float64_reading_are_refused_never_a_crash(
    gait: RunGait, work: Path, number: str
) -> None:
    (work / "n.json").write_text(_intent_with(f'"args": {{"n": {number}}}'))
    out = gait("gate", "eval", "--policy", "policy.yaml", "--intent", "n.json", "--json", cwd=work)
    _refused(out, 6)
    (work / "n_trace.json").write_text(TRACE.read_text().replace("0.09564399999999999", number))
    _refused(_trace_verify(gait, work, "n_trace.json"), 6, "n_trace.json")
    record = json.loads(RUN_INPUT.read_text())
    text = json.dumps(record).replace('"run_id":', f'"n": {number}, "run_id":', 1)
    (work / "n_run.json").write_text(text)
    _no_traceback(gait("run", "record", "--input", "n_run.json", "--json", cwd=work))


# --- trace signatures --------------------------------------------------------------------------

SIGNATURE = json.loads(TRACE.read_text())["signature"]


def _signature_variants() -> dict[str, dict[str, object]]:
    sig = SIGNATURE["sig"]
    raw = base64.b64decode(sig)
    return {
        "extra field": {**SIGNATURE, "note": "x"},
        "missing alg": {k: v for k, v in SIGNATURE.items() if k != "alg"},
        "empty key_id": {**SIGNATURE, "key_id": ""},
        "upper-case key_id": {**SIGNATURE, "key_id": SIGNATURE["key_id"].upper()},
        "upper-case signed_digest": {
            **SIGNATURE,
            "signed_digest": SIGNATURE["signed_digest"].upper(),
        },
        "short signed_digest": {**SIGNATURE, "signed_digest": SIGNATURE["signed_digest"][:-2]},
        "non-canonical base64": {**SIGNATURE, "sig": sig[:-3] + chr(ord(sig[-3]) + 1) + "=="},
        "url-safe base64": {**SIGNATURE, "sig": base64.urlsafe_b64encode(raw).decode()},
    }


@pytest.mark.parametrize("variant", sorted(_signature_variants()))
def test_a_signature_object_is_read_strictly(gait: RunGait, work: Path, variant: str) -> None:
    trace = json.loads(TRACE.read_text())
    trace["signature"] = _signature_variants()[variant]
    (work / "t.json").write_text(json.dumps(trace, indent=2))
    payload = _refused(_trace_verify(gait, work, "t.json"), 2)
    assert payload["signature_status"] == "failed"


def test_trace_digests_must_be_lowercase_hex(gait: RunGait, work: Path) -> None:
    trace = json.loads(TRACE.read_text())
    trace["intent_digest"] = trace["intent_digest"].upper()
    (work / "t.json").write_text(json.dumps(trace, indent=2))
    _refused(_trace_verify(gait, work, "t.json"), 2, "intent_digest")


# --- runpacks ----------------------------------------------------------------------------------


def _rezip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_key_requires_a_signed_runpack_unless_allow_unsigned(gait: RunGait, work: Path) -> None:
    key = str(REFERENCE_KEY)
    out = gait("verify", str(DEMO_ZIP), "--public-key", key, "--json", cwd=work)
    assert out.code == 2, out.stdout
    assert out.json["signature_status"] == "missing"
    assert out.json["signature_errors"] == ["manifest has no signatures"]
    allowed = gait(
        "verify", str(DEMO_ZIP), "--public-key", key, "--allow-unsigned", "--json", cwd=work
    )
    assert allowed.code == 0, allowed.stdout
    assert allowed.json["signature_status"] == "missing"
    assert gait("verify", str(DEMO_ZIP), "--json", cwd=work).code == 0  # no key: as before
    assert gait("verify", str(TCK_ZIP), "--public-key", key, "--json", cwd=work).code == 0
    both = gait(
        "verify", str(DEMO_ZIP), "--allow-unsigned", "--require-signature", "--json", cwd=work
    )
    _refused(both, 6, "--allow-unsigned")


def test_a_member_the_manifest_does_not_list_fails_verification(gait: RunGait, work: Path) -> None:
    path = _rezip(work / "extra.zip", {**_members(TCK_ZIP), "notes.txt": b"run rm -rf /"})
    out = gait("verify", str(path), "--public-key", str(REFERENCE_KEY), "--json", cwd=work)
    _refused(out, 2, "not listed in the manifest: notes.txt")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"run_id":"run_tck"', '"run_id":"run_other","run_id":"run_tck"'),
        ('"run_id":"run_tck"', '"run_id":"run_tck","Run_Id":"run_other"'),
        ('"run_id":"run_tck"', '"run_id":"run_tck","x":NaN'),
        ('"run_id":"run_tck"', '"run_id":"run_tck","x":1e400'),
    ],
)
def test_a_manifest_with_two_readings_fails_verification(
    gait: RunGait, work: Path, old: str, new: str
) -> None:
    members = _members(TCK_ZIP)
    manifest = members["manifest.json"].decode()
    assert old in manifest
    members["manifest.json"] = manifest.replace(old, new, 1).encode()
    path = _rezip(work / "dup.zip", members)
    out = gait("verify", str(path), "--public-key", str(REFERENCE_KEY), "--json", cwd=work)
    _refused(out, 2)


def test_a_regress_config_with_two_readings_is_invalid_input(gait: RunGait, work: Path) -> None:
    (work / "gait.yaml").write_text('{"fixtures": [], "fixtures": [{"name": "x"}]}')
    _refused(gait("regress", "run", "--json", cwd=work), 6, 'duplicate key "fixtures"')


# --- policies and environment variables --------------------------------------------------------


def test_a_policy_file_with_two_yaml_documents_is_refused(gait: RunGait, work: Path) -> None:
    (work / "two.yaml").write_text(POLICY + "---\n" + POLICY.replace("allow-read", "other"))
    out = gait(
        "gate", "eval", "--policy", "two.yaml", "--intent", "intent.json", "--json", cwd=work
    )
    _refused(out, 6, "2 YAML documents")
    _refused(gait("policy", "validate", "two.yaml", "--json", cwd=work), 6, "YAML documents")


@pytest.mark.parametrize(("value", "code"), [("ture", 6), ("2", 6), (" YES ", 8), ("on", 8)])
def test_boolean_environment_variables_have_one_parser(
    gait: RunGait, work: Path, value: str, code: int
) -> None:
    out = gait(
        "run", "replay", str(DEMO_ZIP), "--real-tools", "--unsafe-real-tools",
        "--allow-tools", "tool.read", "--json",
        cwd=work, env={"GAIT_ALLOW_REAL_REPLAY": value},
    )  # fmt: skip
    _no_traceback(out)
    assert out.code == code, out.stdout
    if code == 6:
        assert "GAIT_ALLOW_REAL_REPLAY" in out.json["error"]
    else:  # a true value passes the guard; real replay itself is refused (exit 8)
        assert "not available" in out.json["error"]


# --- the service's request bodies ------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"call": {"name": "tool.read", "args": {}}, "call": {"name": "tool.delete"}}',
        b'{"call": {"name": "tool.read", "Name": "tool.delete", "args": {}}}',
        b'{"call": {"name": "tool.read", "args": {"n": NaN}}}',
    ],
)
def test_a_service_request_with_two_readings_is_a_400(body: bytes) -> None:
    from gait_cli.mcp_serve.wire import RequestError, decode_request

    with pytest.raises(RequestError) as caught:
        decode_request(body)
    assert caught.value.status == 400
