"""Every write failure is an answer (issue 15 §4): a full disk, a read-only file system or a
folder this user may not write, met by any command that writes a file, ends in the error
envelope (`--json`) or a message with a hint, the right exit code and the file named; never a
traceback, never exit 0, never a decision reported without its trace, and no temporary file
left behind.

Exit codes: a path at fault (no permission, a parent that is not a folder) is invalid input,
6, as the reference has it; a full, read-only or failing file system is an I/O failure, 1.
How each failure is made for real: tests/security/confine.py.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from gait_cli.output import Report, gait_command
from tests.conftest import GAIT, INTEROP, REPO, Run, RunGait
from tests.security.confine import Confined

HINTS = {
    "full": "is full",
    "read_only": "read-only file system",
    "denied": "may not write",
}
CODES = {"full": 1, "read_only": 1, "denied": 6}
LIMITED = """schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
rules:
  - name: allow-read
    effect: allow
    match: {tool_names: [tool.read]}
    rate_limit: {requests: 5, window: hour, scope: identity}
"""
GATE = ("gate", "eval", "--policy", "policy.yaml", "--intent", "intent_read.json")
PROXY = (
    "--policy", "allow.yaml", "--call", "openai_call.json", "--adapter", "openai",
)  # fmt: skip


@pytest.fixture
def box(tmp_path: Path) -> Confined:
    confined = Confined(tmp_path)
    shutil.copytree(REPO / "examples" / "quickstart", confined.work, dirs_exist_ok=True)
    (confined.work / "allow.yaml").write_text("default_verdict: allow\n")
    (confined.work / "limited.yaml").write_text(LIMITED)
    call = {"type": "function", "function": {"name": "tool.search", "arguments": "{}"}}
    (confined.work / "openai_call.json").write_text(json.dumps(call))
    return confined


def assert_refused(done: Run, kind: str, message: str | re.Pattern[str]) -> dict[str, Any]:
    """The envelope of a write failure of `kind` whose message starts with `message` (or
    matches it, a pattern, at its start)."""
    assert "Traceback" not in done.stderr, done.stderr
    assert done.code == CODES[kind], done.stdout + done.stderr
    out = done.json
    assert out["ok"] is False
    if isinstance(message, str):
        assert out["error"].startswith(message), out["error"]
    else:
        assert message.match(out["error"]), out["error"]
    category = "invalid_input" if CODES[kind] == 6 else "io_failure"
    assert out["error_category"] == category
    assert out["error_code"] == ("invalid_input" if CODES[kind] == 6 else "internal_failure")
    assert out["retryable"] is False
    assert HINTS[kind] in out["hint"], out["hint"]
    assert "verdict" not in out  # no decision is reported without its trace
    return out


def no_temporaries(box: Confined) -> None:
    assert not [name for name in box.left if name.endswith(".tmp")], box.left


# ---- gait gate eval ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["full", "read_only", "denied"])
def test_gate_eval_trace(box: Confined, kind: str) -> None:
    done = box.run(kind, *GATE, "--trace-out", "out/t.json", "--json")
    assert_refused(done, kind, "cannot write trace out/t.json: ")
    assert box.left == []


def test_gate_eval_trace_for_people(box: Confined) -> None:
    done = box.run("full", *GATE, "--trace-out", "out/t.json")
    assert done.code == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "gate eval error: cannot write trace out/t.json: No space left on device",
        "hint: the file system that holds out is full: free space or choose another path",
    ]
    assert box.left == []


def test_gate_eval_approval_audit(box: Confined) -> None:
    done = box.run(
        "read_only", "gate", "eval", "--policy", "policy.yaml", "--intent", "intent_write.json",
        "--trace-out", "t.json", "--approval-audit-out", "out/audit.json", "--json",
    )  # fmt: skip
    assert_refused(done, "read_only", "cannot write approval audit out/audit.json: ")
    assert box.left == []


@pytest.mark.parametrize("kind", ["full", "read_only"])
def test_gate_eval_rate_limit_state(box: Confined, kind: str) -> None:
    done = box.run(
        kind, "gate", "eval", "--policy", "limited.yaml", "--intent", "intent_read.json",
        "--trace-out", "t.json", "--rate-limit-state", "out/limits.json", "--json",
    )  # fmt: skip
    # The state's lock is the first file written there.
    assert_refused(done, kind, "cannot write rate limit state lock out/limits.json.lock: ")
    assert box.left == []
    assert not (box.work / "t.json").exists()  # counted nowhere, so decided nothing


def test_gate_eval_export(box: Confined) -> None:
    done = box.run("denied", *GATE, "--trace-out", "t.json", "--export-log-out",
                   "out/log.jsonl", "--json")  # fmt: skip
    # Exports are named by their absolute path; the lock is the first file written there.
    assert_refused(
        done, "denied", re.compile(r"cannot write append lock /\S+/work/out/log\.jsonl\.lock: ")
    )
    assert box.left == []


def test_gate_eval_dev_key(box: Confined) -> None:
    done = box.run(
        "read_only", *GATE, "--trace-out", "t.json", "--json", env={"GAIT_HOME": "out/home"}
    )
    out = assert_refused(done, "read_only", "cannot write private key out/home/dev/")
    assert "GAIT_HOME" in out["hint"] and "--key-mode prod" in out["hint"]
    assert box.left == []


# ---- gait mcp proxy / bridge -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["full", "read_only", "denied"])
def test_mcp_proxy_trace(box: Confined, kind: str) -> None:
    done = box.run(kind, "mcp", "proxy", *PROXY, "--trace-out", "out/t.json", "--json")
    assert assert_refused(done, kind, "cannot write trace out/t.json: ")["executed"] is False
    assert box.left == []


def test_mcp_proxy_default_trace_folder(box: Confined) -> None:
    work = box.work
    done = box.run(
        "full", "mcp", "proxy", "--policy", str(work / "allow.yaml"), "--call",
        str(work / "openai_call.json"), "--adapter", "openai", "--json", inside=True,
    )  # fmt: skip
    # With no --run-id the reference's name has an empty run id: trace__<time>.json.
    assert_refused(done, "full", re.compile(r"cannot write trace trace__\*\.json: "))
    assert box.left == []


def test_mcp_bridge_runpack(box: Confined) -> None:
    done = box.run("read_only", "mcp", "bridge", *PROXY, "--trace-out", "t.json",
                   "--runpack-out", "out/r.zip", "--json")  # fmt: skip
    assert_refused(done, "read_only", "cannot write runpack out/r.zip: ")
    assert box.left == []


def test_mcp_proxy_export(box: Confined) -> None:
    done = box.run("full", "mcp", "proxy", *PROXY, "--trace-out", "t.json",
                   "--export-otel-out", "out/otel.jsonl", "--json")  # fmt: skip
    assert_refused(
        done, "full", re.compile(r"append export /\S+/work/out/otel\.jsonl: No space left")
    )
    assert box.left == []  # not even the empty file the append created


def test_an_export_line_cut_short_is_taken_back(box: Confined) -> None:
    # A first line that leaves less of its memory page free than the next line needs: the disk
    # takes part of that line, then is full.
    first = json.dumps({"pad": "x" * 3990}) + "\n"
    box.seed_file("log.jsonl", first)
    done = box.run("full", "mcp", "proxy", *PROXY, "--trace-out", "t.json",
                   "--export-log-out", "out/log.jsonl", "--json")  # fmt: skip
    assert_refused(done, "full", re.compile(r"append export /\S+/work/out/log\.jsonl: "))
    assert box.left == ["log.jsonl"]
    assert (box.after / "log.jsonl").read_text() == first


# ---- the other commands that write a file ------------------------------------------------------


def test_approve_token(box: Confined) -> None:
    done = box.run(
        "read_only", "approve", "--intent-digest", "a" * 64, "--policy-digest", "b" * 64,
        "--ttl", "1h", "--scope", "tool:tool.write", "--approver", "alice",
        "--reason-code", "reviewed", "--out", "out/token.json", "--json",
    )  # fmt: skip
    assert_refused(done, "read_only", "cannot write approval token out/token.json: ")
    assert box.left == []


@pytest.mark.parametrize("kind", ["full", "denied"])
def test_keys_init(box: Confined, kind: str) -> None:
    done = box.run(kind, "keys", "init", "--out-dir", "out/keys", "--json")
    assert_refused(done, kind, "cannot write private key out/keys/gait_private.key: ")
    assert not [name for name in box.left if name.endswith((".key", ".tmp"))], box.left


def test_run_record(box: Confined) -> None:
    done = box.run("full", "run", "record", "--input", str(INTEROP / "run_record_input.json"),
                   "--out-dir", "out", "--json")  # fmt: skip
    assert_refused(done, "full", "cannot write runpack out/runpack_")
    assert box.left == []


def test_run_diff_output(box: Confined) -> None:
    demo = str(INTEROP / "runpack_run_demo.zip")
    done = box.run("read_only", "run", "diff", demo, demo, "--output", "out/diff.json", "--json")
    assert_refused(done, "read_only", "cannot write diff out/diff.json: ")
    assert box.left == []


def test_demo(box: Confined) -> None:
    done = box.run("read_only", "demo", "--json", inside=True)
    assert_refused(done, "read_only", "cannot write runpack gait-out/runpack_run_demo.zip: ")
    assert box.left == []


def test_regress_init(box: Confined) -> None:
    demo = str(INTEROP / "runpack_run_demo.zip")
    done = box.run("full", "regress", "init", "--from", demo, "--json", inside=True)
    assert_refused(done, "full", "cannot write fixture runpack fixtures/")
    no_temporaries(box)


@pytest.mark.parametrize("flag", ["--output", "--junit"])
def test_regress_run_outputs(gait: RunGait, box: Confined, flag: str) -> None:
    demo = str(INTEROP / "runpack_run_demo.zip")
    env = {"GAIT_HOME": str(box.home)}
    assert gait("regress", "init", "--from", demo, "--json", cwd=box.work, env=env).code == 0
    done = box.run("denied", "regress", "run", flag, "out/report", "--json")
    assert_refused(done, "denied", "cannot write ")
    assert "out/report" in done.json["error"]
    assert box.left == []


def test_policy_init(box: Confined) -> None:
    done = box.run("denied", "policy", "init", "baseline-lowrisk", "--out", "out/p.yaml", "--json")
    assert_refused(done, "denied", "cannot write policy out/p.yaml: ")
    assert box.left == []


def test_policy_fmt_write(box: Confined) -> None:
    box.seed_file("messy.yaml", "default_verdict: allow\n")
    done = box.run("read_only", "policy", "fmt", "out/messy.yaml", "--write", "--json")
    assert_refused(done, "read_only", "cannot write policy out/messy.yaml: Read-only file system")
    assert box.left == ["messy.yaml"]


# ---- no file system needed ---------------------------------------------------------------------


def test_a_parent_that_is_a_file(gait: RunGait, box: Confined) -> None:
    (box.work / "plain").write_text("")
    done = gait(*GATE, "--trace-out", "plain/t.json", "--json", cwd=box.work,
                env={"GAIT_HOME": str(box.home)})  # fmt: skip
    assert "Traceback" not in done.stderr
    assert done.code == 6 and done.json["error"].startswith("cannot write trace plain/t.json: ")
    assert "a parent of plain/t.json is not a folder" in done.json["hint"]
    assert sorted(os.listdir(box.work)) == sorted(
        [*os.listdir(REPO / "examples" / "quickstart"), "allow.yaml", "limited.yaml",
         "openai_call.json", "out", "plain"]
    )  # fmt: skip


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
@pytest.mark.parametrize("argv", [GATE, ("version",)])
def test_an_answer_that_cannot_be_printed_is_not_exit_0(box: Confined, argv: tuple[str]) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [str(GAIT), *argv, "--json"], cwd=box.work, stdout=full, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "GAIT_HOME": str(box.home)}, check=False,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == "gait error: cannot write standard output: No space left on device\n"


def test_ci_regress(box: Confined) -> None:
    done = box.run("read_only", "ci", "regress", "--fixture", "demo", "--json", inside=True)
    # The suite's own failure goes into the summary; the summary itself cannot be written.
    assert_refused(done, "read_only", "cannot write ci summary gait-out/ci/summary.json: ")
    assert box.left == []


def test_a_file_error_no_code_path_expected_is_still_an_answer() -> None:
    group = click.Group("gait")

    @gait_command(group, "boom", exit_codes=(0, 1), help="Fails as a broken disk would.")
    def boom() -> Report:
        raise OSError(errno.EIO, os.strerror(errno.EIO), "some/file.json")

    done = CliRunner().invoke(group, ["boom", "--json"])
    assert done.exit_code == 1 and isinstance(done.exception, SystemExit)  # not the OSError
    out = json.loads(done.stdout)
    assert out["error"] == "I/O error on some/file.json: Input/output error"
    assert (out["error_category"], out["ok"]) == ("io_failure", False)
    assert "the file system that holds some failed" in out["hint"]
