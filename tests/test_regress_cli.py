"""`gait regress init|run|bootstrap` through the installed CLI: the reference's demo runpack as a
fixture, a drifted candidate (exit 5), byte-stable results and JUnit, and a broken fixture set
(exit 6 or 2, with the error envelope)."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import pytest

from gait.canonical import canonical_json, digest
from tests.conftest import GAIT, INTEROP, Run, RunGait

DEMO_ZIP = INTEROP / "runpack_run_demo.zip"


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {"GAIT_HOME": str(tmp_path / "home")}


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_runpack(path: Path, members: dict[str, bytes]) -> None:
    """Members with a manifest rebuilt to describe them (spec 1.4), as a zip."""
    manifest = json.loads(members["manifest.json"])
    data = {name: content for name, content in members.items() if name != "manifest.json"}
    manifest["files"] = [
        {"path": name, "sha256": hashlib.sha256(data[name]).hexdigest()} for name in sorted(data)
    ]
    manifest["manifest_digest"] = ""
    manifest["manifest_digest"] = digest(manifest)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted({**data, "manifest.json": canonical_json(manifest)}.items()):
            archive.writestr(name, content)


def _drifted_demo(path: Path) -> None:
    """The demo run, except that the agent called tool.delete where it called tool.fetch."""
    members = _members(DEMO_ZIP)
    members["intents.jsonl"] = members["intents.jsonl"].replace(b'"tool.fetch"', b'"tool.delete"')
    _write_runpack(path, members)


def _edit_fixture(path: Path, **fields: Any) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}, indent=2))


def _init_demo(gait: RunGait, home: dict[str, str], *args: str) -> Run:
    done = gait("regress", "init", "--from", str(DEMO_ZIP), *args, "--json", env=home)
    assert done.code == 0, done.stdout + done.stderr
    return done


def test_init_from_the_reference_demo_runpack(
    gait: RunGait, home: dict[str, str], tmp_path: Path
) -> None:
    payload = _init_demo(gait, home).json
    assert payload == {
        "ok": True,
        "run_id": "run_demo",
        "fixture_name": "run_demo",
        "fixture_dir": "fixtures/run_demo",
        "runpack_path": "fixtures/run_demo/runpack.zip",
        "config_path": "gait.yaml",
        "next_commands": ["gait regress run --json"],
        "correlation_id": payload["correlation_id"],
    }
    assert (tmp_path / "fixtures/run_demo/runpack.zip").read_bytes() == DEMO_ZIP.read_bytes()
    config = json.loads((tmp_path / "gait.yaml").read_text())
    assert config["fixtures"] == [
        {"name": "run_demo", "run_id": "run_demo", "runpack": "fixtures/run_demo/runpack.zip"}
    ]


def test_init_by_run_id_and_text_output(
    gait: RunGait, home: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "gait-out").mkdir()
    shutil.copy(DEMO_ZIP, tmp_path / "gait-out" / "runpack_run_demo.zip")
    done = gait("regress", "init", "--from", "run_demo", "--name", "demo", env=home)
    assert done.code == 0, done.stderr
    assert done.stdout.splitlines() == [
        "regress init ok: fixture=demo run_id=run_demo",
        "config: gait.yaml",
        "runpack: fixtures/demo/runpack.zip",
        "next: gait regress run --json",
    ]


def test_unchanged_fixture_passes(gait: RunGait, home: dict[str, str], tmp_path: Path) -> None:
    _init_demo(gait, home)
    done = gait("regress", "run", "--json", "--junit", "ci/junit.xml", env=home)
    assert done.code == 0, done.stdout + done.stderr
    payload = done.json
    assert payload == {
        "ok": True,
        "status": "pass",
        "fixture_set": "default",
        "graders": 4,
        "artifact_paths": ["regress_result.json", "ci/junit.xml"],
        "output": "regress_result.json",
        "junit": "ci/junit.xml",
        "correlation_id": payload["correlation_id"],
    }
    result = json.loads((tmp_path / "regress_result.json").read_text())
    assert result["status"] == "pass"
    assert [g["name"] for g in result["graders"]] == [
        "run_demo/diff",
        "run_demo/expected_exit_code",
        "run_demo/schema_validation",
        "run_demo/trajectory",
    ]
    assert "top_failure_reason" not in result  # stdout only (spec 2.3)

    text = gait("regress", "run", env=home)
    assert text.code == 0
    assert text.stdout.splitlines() == [
        "regress run ok: fixture_set=default graders=4",
        "output: regress_result.json",
    ]


def test_drifted_candidate_is_a_regression(
    gait: RunGait, home: dict[str, str], tmp_path: Path
) -> None:
    _init_demo(gait, home)
    fixture_dir = tmp_path / "fixtures" / "run_demo"
    _drifted_demo(fixture_dir / "candidate.zip")
    _edit_fixture(fixture_dir / "fixture.json", candidate_runpack="candidate.zip")

    done = gait("regress", "run", "--json", "--junit", "junit.xml", env=home)
    assert done.code == 5, done.stdout + done.stderr
    payload = done.json
    assert payload["ok"] is False
    assert payload["status"] == "fail"
    assert payload["failed"] == 2
    assert payload["top_failure_reason"] == "unexpected_diff"
    assert payload["next_command"] == "gait regress run --json"
    assert payload["artifact_paths"] == ["regress_result.json", "junit.xml"]
    assert "error" not in payload and "error_code" not in payload

    result = json.loads((tmp_path / "regress_result.json").read_text())
    failed = {g["name"]: g["reason_codes"] for g in result["graders"] if g["status"] == "fail"}
    assert failed == {
        "run_demo/diff": ["unexpected_diff"],
        "run_demo/trajectory": ["unexpected_tool_sequence"],
    }

    text = gait("regress", "run", "--config", "gait.yaml", env=home)
    assert text.code == 5
    assert text.stdout.splitlines()[:4] == [
        "regress run failed: fixture_set=default failed=2",
        "top_failure_reason: unexpected_diff",
        "next: gait regress run --json",
        "artifacts: regress_result.json",
    ]


def test_junit_report_has_the_junit_structure(
    gait: RunGait, home: dict[str, str], tmp_path: Path
) -> None:
    _init_demo(gait, home)
    fixture_dir = tmp_path / "fixtures" / "run_demo"
    _edit_fixture(fixture_dir / "fixture.json", expected_tool_sequence=["tool.unexpected"])
    done = gait("regress", "run", "--junit", "reports/junit.xml", "--json", env=home)
    assert done.code == 5
    assert done.json["top_failure_reason"] == "unexpected_tool_sequence"

    data = (tmp_path / "reports" / "junit.xml").read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
    root = ET.fromstring(data)
    assert root.tag == "testsuites"
    assert root.attrib == {
        "tests": "4",
        "failures": "1",
        "errors": "0",
        "skipped": "0",
        "time": "0",
    }
    suites = list(root)
    assert [suite.tag for suite in suites] == ["testsuite"]
    suite = suites[0]
    assert suite.attrib == {"name": "gait.regress.default", **root.attrib}
    cases = list(suite)
    assert all(case.tag == "testcase" for case in cases)
    assert [(c.get("classname"), c.get("name"), c.get("time")) for c in cases] == [
        ("run_demo", "diff", "0"),
        ("run_demo", "expected_exit_code", "0"),
        ("run_demo", "schema_validation", "0"),
        ("run_demo", "trajectory", "0"),
    ]
    failures = [(case.get("name"), list(case)) for case in cases if len(case)]
    assert len(failures) == 1
    name, (failure,) = failures[0]
    assert name == "trajectory"
    assert failure.tag == "failure"
    assert failure.attrib == {"message": "unexpected_tool_sequence", "type": "regress_failure"}
    assert failure.text == "unexpected_tool_sequence"


def test_two_runs_are_byte_identical(gait: RunGait, home: dict[str, str], tmp_path: Path) -> None:
    _init_demo(gait, home)
    _init_demo(gait, home, "--name", "second")
    _drifted_demo(tmp_path / "fixtures" / "second" / "candidate.zip")
    _edit_fixture(
        tmp_path / "fixtures" / "second" / "fixture.json", candidate_runpack="candidate.zip"
    )
    outputs = []
    for _ in range(2):
        assert gait("regress", "run", "--junit", "junit.xml", env=home).code == 5
        outputs.append(
            ((tmp_path / "regress_result.json").read_bytes(), (tmp_path / "junit.xml").read_bytes())
        )
    assert outputs[0] == outputs[1]


def test_bootstrap_inits_and_runs(gait: RunGait, home: dict[str, str], tmp_path: Path) -> None:
    done = gait(
        "regress",
        "bootstrap",
        "--from",
        str(DEMO_ZIP),
        "--junit",
        "out/junit.xml",
        "--json",
        env=home,
    )
    assert done.code == 0, done.stdout + done.stderr
    payload = done.json
    assert payload["status"] == "pass"
    assert payload["fixture_dir"] == "fixtures/run_demo"
    assert payload["artifact_paths"] == ["regress_result.json", "out/junit.xml"]
    assert "graders" not in payload
    assert (tmp_path / "out" / "junit.xml").is_file()


def _assert_envelope(done: Run, code: int, category: str, message: str) -> None:
    assert done.code == code, done.stdout + done.stderr
    payload = done.json
    assert payload["ok"] is False
    assert payload["error_category"] == category
    assert message in payload["error"]
    assert {"error_code", "hint", "retryable", "correlation_id"} <= set(payload)


def test_bad_config(gait: RunGait, home: dict[str, str], tmp_path: Path) -> None:
    done = gait("regress", "run", "--json", env=home)
    _assert_envelope(done, 6, "invalid_input", "read config: gait.yaml")
    (tmp_path / "gait.yaml").write_text("{not json")
    _assert_envelope(gait("regress", "run", "--json", env=home), 6, "invalid_input", "parse config")
    (tmp_path / "gait.yaml").write_text('{"fixtures": []}')
    done = gait("regress", "run", "--json", env=home)
    _assert_envelope(done, 6, "invalid_input", "no fixtures configured")
    text = gait("regress", "run", env=home)
    assert text.code == 6
    assert text.stderr.strip() == "regress run error: no fixtures configured"


def test_missing_fixture(gait: RunGait, home: dict[str, str], tmp_path: Path) -> None:
    _init_demo(gait, home)
    shutil.rmtree(tmp_path / "fixtures")
    done = gait("regress", "run", "--json", env=home)
    _assert_envelope(done, 6, "invalid_input", "fixture runpack missing for run_demo")
    assert not (tmp_path / "regress_result.json").exists()


def test_corrupt_fixture_runpack(gait: RunGait, home: dict[str, str], tmp_path: Path) -> None:
    _init_demo(gait, home)
    runpack = tmp_path / "fixtures" / "run_demo" / "runpack.zip"
    members = _members(DEMO_ZIP)
    members["results.jsonl"] = members["results.jsonl"].replace(b'"ok"', b'"error"')
    with zipfile.ZipFile(runpack, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    done = gait("regress", "run", "--json", env=home)
    _assert_envelope(done, 2, "verification_failed", "read fixture runpack for run_demo")

    runpack.write_text("not a zip")
    done = gait("regress", "run", "--json", env=home)
    _assert_envelope(done, 6, "invalid_input", "read fixture runpack for run_demo")


def test_init_errors(gait: RunGait, home: dict[str, str], tmp_path: Path) -> None:
    done = gait("regress", "init", "--json", env=home)
    _assert_envelope(done, 6, "invalid_input", "missing required --from <run_id|path>")
    done = gait("regress", "init", "--from", "run_absent", "--json", env=home)
    _assert_envelope(done, 6, "invalid_input", "runpack not found for run_id: run_absent")
    done = gait("regress", "init", "--from", str(DEMO_ZIP), "--name", "Bad", "--json", env=home)
    _assert_envelope(done, 6, "invalid_input", "invalid fixture name: Bad")
    tampered = tmp_path / "tampered.zip"
    members = _members(DEMO_ZIP)
    members["run.json"] += b" "
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    done = gait("regress", "init", "--from", str(tampered), "--json", env=home)
    _assert_envelope(done, 6, "invalid_input", "source runpack failed integrity checks")
    assert not (tmp_path / "fixtures").exists()


# --- progress on a terminal ------------------------------------------------------------------


def _many_fixtures(gait: RunGait, home: dict[str, str], tmp_path: Path, count: int) -> None:
    """`count` fixtures of the demo run, copied from one init and registered by another."""
    _init_demo(gait, home)
    template = tmp_path / "fixtures" / "run_demo"
    for index in range(count - 1):
        copy = tmp_path / "fixtures" / f"copy{index:02d}"
        shutil.copytree(template, copy)
        _edit_fixture(copy / "fixture.json", name=copy.name)
    _init_demo(gait, home)


def _run_with_terminal_stderr(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [str(GAIT), "regress", "run", *args],
            cwd=cwd,
            env={**os.environ, "GAIT_PLUGINS": "", **env},
            stdout=subprocess.DEVNULL,
            stderr=terminal,
            timeout=120,
            check=False,
        )
    finally:
        os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the terminal side is closed and drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return done.returncode, b"".join(chunks).decode()


def test_progress_only_on_a_terminal_outside_ci(
    gait: RunGait, home: dict[str, str], tmp_path: Path
) -> None:
    _many_fixtures(gait, home, tmp_path, 10)
    code, shown = _run_with_terminal_stderr(tmp_path, {**home, "CI": ""})
    assert code == 0
    assert "regress: 1/10 copy00" in shown
    assert "regress: 10/10 run_demo" in shown
    assert shown.endswith("\r\x1b[K")

    for args, env in (((), {"CI": "true"}), (("--json",), {"CI": ""})):
        code, shown = _run_with_terminal_stderr(tmp_path, {**home, **env}, *args)
        assert (code, shown) == (0, "")
    piped = gait("regress", "run", env={**home, "CI": ""})
    assert (piped.code, piped.stderr) == (0, "")


def test_no_progress_for_a_few_fixtures(
    gait: RunGait, home: dict[str, str], tmp_path: Path
) -> None:
    _many_fixtures(gait, home, tmp_path, 9)
    assert _run_with_terminal_stderr(tmp_path, {**home, "CI": ""}) == (0, "")
