"""The installed hook (`gait-gastown-hook`, and `gait gastown hook`): Claude Code's protocol for
every verdict, Gas Town's identity in the intent, the artifacts, and a deny (exit 2) for every
failure."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gait_plugin_gastown.hook import MAX_INPUT_BYTES

from gait.limits import MAX_INTENT_BYTES
from gait.testing import GAIT, RunGait

from .conftest import HOOK, POLECAT, HookRunner, base_env, claude_event

OUT = Path("gait-out/integrations/gastown")


def only(folder: Path, prefix: str) -> Path:
    found = sorted(folder.glob(f"{prefix}_*.json"))
    assert len(found) == 1, found
    return found[0]


def test_allow_answers_exit_0_silently_and_records_the_decision(
    hook: HookRunner, policy: Path, tmp_path: Path
) -> None:
    run = hook("--policy", str(policy), event=claude_event("ls"), env=POLECAT)
    assert (run.code, run.stdout, run.stderr) == (0, "", "")
    trace = json.loads(only(tmp_path / OUT, "trace").read_text())
    record = json.loads(only(tmp_path / OUT, "intent").read_text())
    assert trace["verdict"] == record["verdict"] == "allow"
    assert trace["intent_digest"] == record["intent_digest"]
    assert trace["trace_id"] == record["trace_id"]
    assert record["framework"] == "gastown"
    context = record["context"]
    assert context["identity"] == "myrig/polecats/toast"  # BD_ACTOR first
    assert context["workspace"] == "/work/town/myrig/polecats/toast/myrig"  # the event's cwd
    assert context["session_id"] == "0b7c1f5e-5a37-4b8e-9d7e-2f1a4c3b6d90"
    assert context["request_id"] == "toolu_gastown_1"
    assert context["auth_context"] == {
        "adapter": "claude_code",
        "hook_event_name": "PreToolUse",
        "framework": "gastown",
        "permission_mode": "bypassPermissions",
        "gt_role": "myrig/polecats/toast",
        "gt_rig": "myrig",
        "gt_polecat": "toast",
        "bd_actor": "myrig/polecats/toast",
        "gt_session": "gt-myrig-toast",
    }
    # digests, never the command itself
    assert record["targets"][0]["endpoint_class"] == "proc.exec"
    assert "value" not in record["targets"][0] and "args" not in record
    assert "ls" not in json.dumps(trace["args_digest"])


def test_block_is_exit_2_with_the_reason_on_stderr(
    hook: HookRunner, policy: Path, tmp_path: Path
) -> None:
    run = hook("--policy", str(policy), event=claude_event("touch blocked.marker"))
    assert run.code == 2 and run.stdout == ""
    record = json.loads(only(tmp_path / OUT, "intent").read_text())
    assert "gastown_test_blocked" in record["reason_codes"]
    assert run.stderr == (
        f"gait blocked this call (verdict block; reason_codes {', '.join(record['reason_codes'])}; "
        f"violations test_violation; trace_id {record['trace_id']})\n"
    )
    assert "touch" not in run.stderr


def test_require_approval_asks_and_can_deny_instead(hook: HookRunner, policy: Path) -> None:
    event = claude_event("touch approval.marker")
    run = hook("--policy", str(policy), event=event)
    assert run.code == 0
    answer = json.loads(run.stdout)["hookSpecificOutput"]
    assert answer["hookEventName"] == "PreToolUse"
    assert answer["permissionDecision"] == "ask"
    assert "approval required" in answer["permissionDecisionReason"]
    assert "gastown_test_approval" in answer["permissionDecisionReason"]
    denied = hook("--policy", str(policy), "--approval", "deny", event=event)
    assert denied.code == 2 and denied.stdout == ""
    assert denied.stderr.startswith("gait blocked this call: approval required (")


def test_dry_run_never_runs(hook: HookRunner, policy: Path) -> None:
    event = claude_event("", tool_name="Read", tool_input={"file_path": "dry.txt"})
    run = hook("--policy", str(policy), event=event)
    assert run.code == 2
    assert run.stderr.startswith("gait did not run this call: the policy only simulates it")


def test_identity_without_bd_actor_comes_from_rig_and_worker(
    hook: HookRunner, policy: Path, tmp_path: Path
) -> None:
    env = {"GT_RIG": "myrig", "GT_CREW": "max", "GT_ROOT": "/work/town"}
    event = claude_event("ls")
    del event["cwd"]
    assert (
        hook("--policy", str(policy), "--trace-out", "t/trace_x.json", event=event, env=env).code
        == 0
    )
    context = json.loads((tmp_path / "t" / "intent_x.json").read_text())["context"]
    assert context["identity"] == "myrig/crew/max"
    assert context["workspace"] == "/work/town/myrig"


def test_an_identity_in_the_event_is_not_trusted(
    hook: HookRunner, policy: Path, tmp_path: Path
) -> None:
    event = {**claude_event("ls"), "gastown": {"gt_role": "mayor", "bd_actor": "mayor"}}
    assert hook("--policy", str(policy), "--trace-out", "trace_x.json", event=event).code == 0
    context = json.loads((tmp_path / "intent_x.json").read_text())["context"]
    assert context["identity"] == "mcp-proxy"  # the claude_code default: no Gas Town identity
    assert "framework" not in context["auth_context"]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        ((), b"{}", "give either --policy PATH"),
        (("--policy", "p.yaml", "--serve", "http://127.0.0.1:1"), b"{}", "give either"),
        (("--policy", "POLICY", "--bogus"), b"{}", "unknown argument '--bogus'"),
        (("--policy", "POLICY", "--timeout"), b"{}", "--timeout needs a value"),
        (("--policy", "POLICY", "--timeout", "0"), b"{}", "--timeout must be more than 0"),
        (("--policy", "POLICY", "--approval", "maybe"), b"{}", "--approval must be one of"),
        (("--serve", "http://127.0.0.1:1", "--key-mode", "prod"), b"{}", "goes with --policy"),
        (("--policy", "POLICY", "--auth-token-env", "T"), b"{}", "goes with --serve"),
        (("--serve", "http://10.0.0.1:8787"), b"{}", "must be on loopback"),
        (("--serve", "https://127.0.0.1:8787"), b"{}", "expected http://HOST:PORT"),
        (("--serve", "http://127.0.0.1:1"), b"{}", "use --serve unix:PATH or set --auth-token"),
        (("--serve", "unix:relative.sock"), b"{}", "expected unix:/ABSOLUTE/PATH"),
        (("--serve", "unix:/x.sock", "--service-uid", "me"), b"{}", "must be a user id"),
        (("--serve", "http://127.0.0.1:1", "--service-uid", "0"), b"{}", "unix:PATH only"),
        (("--serve", "unix:/x.sock", "--plain-bearer=yes"), b"{}", "takes no value"),
        (("--policy", "POLICY", "--plain-bearer"), b"{}", "goes with --serve"),
        (("--policy", "POLICY", "--service-uid", "0"), b"{}", "goes with --serve"),
        (("--policy", "POLICY"), b"", "no hook event on standard input"),
        (("--policy", "POLICY"), b"not json", "not valid JSON"),
        (("--policy", "POLICY"), b'{"a": 1} {"b": 2}', "extra data"),
        (("--policy", "POLICY"), b"[1, 2]", "must be a JSON object"),
        (("--policy", "POLICY"), b'{"tool_name": "Bash", "x": NaN}', "NaN is not valid JSON"),
        (("--policy", "POLICY"), b'{"tool_name": "\xff"}', "not UTF-8"),
        (("--policy", "POLICY"), b'{"tool_input": {}}', "claude code tool call name is required"),
        (("--policy", "POLICY"), b'{"tool_name": "Bash", "tool_input": [1]}', "decode claude"),
        (("--policy", "missing.yaml"), b'{"tool_name": "Bash"}', "No such file"),
        (("--policy", "POLICY", "--max-input-bytes", "10"), b'{"tool_name": "Bash"}', "exceeds 10"),
        (
            ("--policy", "POLICY", "--profile", "oss-prod"),
            b'{"tool_name": "Bash"}',
            "key-mode prod",
        ),
    ],
)
def test_every_failure_is_a_deny(
    hook: HookRunner, policy: Path, args: tuple[str, ...], stdin: bytes, message: str
) -> None:
    args = tuple(str(policy) if arg == "POLICY" else arg for arg in args)
    run = hook(*args, event=stdin)
    assert run.code == 2, run.stderr
    assert run.stdout == ""
    assert run.stderr.startswith("gait blocked this call: the gate failed closed: ")
    assert message in run.stderr


@pytest.mark.parametrize("program", [(str(HOOK),), (str(GAIT), "gastown", "hook")])
@pytest.mark.parametrize(("command", "code"), [("ls", 0), ("touch blocked.marker", 2)])
def test_a_closed_standard_output_still_answers_0_or_2(
    policy: Path, tmp_path: Path, program: tuple[str, ...], command: str, code: int
) -> None:
    done = subprocess.run(
        ["sh", "-c", 'exec "$0" "$@" >&-', *program, "--policy", str(policy)],
        input=json.dumps(claude_event(command)).encode(),
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=base_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert done.returncode == code, done.stderr


def test_an_oversized_event_is_a_deny(hook: HookRunner, policy: Path) -> None:
    event = claude_event("x" * MAX_INPUT_BYTES)
    run = hook("--policy", str(policy), event=event)
    assert run.code == 2
    assert f"exceeds {MAX_INPUT_BYTES} bytes" in run.stderr
    assert MAX_INPUT_BYTES == MAX_INTENT_BYTES


def test_an_unusable_policy_or_key_home_is_a_deny(
    hook: HookRunner, tmp_path: Path, policy: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [")
    assert hook("--policy", str(broken), event=claude_event("ls")).code == 2
    assert hook("--policy", str(tmp_path), event=claude_event("ls")).code == 2  # a directory
    blocked_home = tmp_path / "not-a-directory"
    blocked_home.write_text("")
    run = hook(
        "--policy", str(policy), event=claude_event("ls"), env={"GAIT_HOME": str(blocked_home)}
    )
    assert run.code == 2 and "failed closed" in run.stderr


def test_no_decision_within_the_timeout_is_a_deny(tmp_path: Path, policy: Path) -> None:
    """Standard input that never ends: the watchdog answers, well before Claude Code's own
    hook timeout would let the tool run."""
    started = time.monotonic()
    with subprocess.Popen(
        [str(HOOK), "--policy", str(policy), "--timeout", "1"],
        stdin=subprocess.PIPE,  # open all along: the event never ends
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=base_env(tmp_path),
        cwd=tmp_path,
    ) as process:
        process.wait(timeout=30)
        assert process.stdout is not None and process.stderr is not None
        out, err = process.stdout.read(), process.stderr.read()
    assert process.returncode == 2
    assert time.monotonic() - started < 15
    assert out == b""
    assert err.decode() == "gait blocked this call: no decision within 1 s (--timeout)\n"


def test_help_lists_the_hooks_own_flags(gait: RunGait, hook: HookRunner) -> None:
    run = gait("gastown", "hook", "--help", plugins="gastown")
    assert run.code == 0
    from gait_plugin_gastown.hook import OPTIONS

    for option in OPTIONS:
        assert option.name in run.stdout
    assert "Exit codes (Claude Code's protocol)" in run.stdout
    # the script Claude Code runs is no command line for people: a flag it does not know denies
    scripted = hook("--help", event=b"")
    assert scripted.code == 2 and "see gait gastown hook --help" in scripted.stderr


def test_the_click_command_answers_the_same(hook: HookRunner, policy: Path, tmp_path: Path) -> None:
    """`gait gastown hook`, for people, runs the same hook as the script Claude Code runs."""
    event = json.dumps(claude_event("touch blocked.marker")).encode()

    def through_click(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [str(GAIT), "gastown", "hook", *args],
            input=event,
            env=base_env(tmp_path),
            cwd=tmp_path,
            capture_output=True,
            check=False,
        )

    scripted = hook("--policy", str(policy), event=event)
    clicked = through_click("--policy", str(policy))
    assert scripted.code == clicked.returncode == 2
    assert scripted.stderr == clicked.stderr.decode()  # same decision, same trace id
    bad = through_click("--policy", str(policy), "--bogus")
    assert bad.returncode == 2 and b"unknown argument" in bad.stderr


def test_a_hook_that_cannot_even_be_imported_denies(policy: Path, tmp_path: Path) -> None:
    """The console script's own import of the hook fails (a broken install): exit 2, not a
    traceback's exit 1, which would let the tool run."""
    script = (
        "import sys; sys.modules['gait_plugin_gastown.hook'] = None; "
        "from gait_plugin_gastown.console import main; sys.argv[0] = 'gait-gastown-hook'; "
        "sys.exit(main())"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--policy", str(policy)],
        input=json.dumps(claude_event("ls")).encode(),
        env=base_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode().startswith(
        "gait blocked this call: the hook could not start (ModuleNotFoundError"
    )


def _imported(tmp_path: Path, *args: str, **extra_env: str) -> set[str]:
    env = base_env(tmp_path, **extra_env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(HOOK), *args],
        input=json.dumps(claude_event("ls")).encode(),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    return {
        line.split("|")[-1].strip()
        for line in done.stderr.decode().splitlines()
        if line.startswith("import time:")
    }


HEAVY = {"click", "pluggy", "attrs", "cattrs", "yaml", "cryptography", "json", "re", "typing"}


@pytest.mark.parametrize(
    "args",
    [
        ("--serve", "http://127.0.0.1:9", "--auth-token-env", "T"),
        ("--serve", "unix:/nonexistent/gait.sock", "--auth-token-env", "T"),
        ("--serve", "unix:/nonexistent/gait.sock"),
    ],
)
def test_the_service_path_imports_only_cheap_standard_modules(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    modules = _imported(tmp_path, *args, T="a-token-of-at-least-16-bytes")
    assert "gait_plugin_gastown.hook" in modules
    assert not modules & HEAVY, modules & HEAVY
    # the HMAC comes from _sha256 and _operator: OpenSSL (hashlib, hmac) costs milliseconds
    assert not modules & {"hashlib", "hmac", "_hashlib", "ssl", "struct", "socket"}
    assert not {m for m in modules if m == "gait" or m.startswith(("gait.", "gait_cli"))}
    assert "gait_plugin_gastown.local" not in modules


def test_the_local_path_skips_click_and_pluggy(tmp_path: Path, policy: Path) -> None:
    modules = _imported(tmp_path, "--policy", str(policy))
    assert "gait.mcp.boundary" in modules
    assert not modules & {"click", "pluggy"}


def test_local_decisions_export_one_line_each_and_a_missing_exporter_denies(
    hook: HookRunner, policy: Path, tmp_path: Path
) -> None:
    for command in ("ls", "touch blocked.marker"):
        hook(
            "--policy", str(policy), "--export-log-out", "events.jsonl", event=claude_event(command)
        )
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [line["verdict"] for line in lines] == ["allow", "block"]
    traces = {json.loads(p.read_text())["trace_id"] for p in (tmp_path / OUT).glob("trace_*.json")}
    assert {line["trace_id"] for line in lines} == traces
    assert "touch" not in (tmp_path / "events.jsonl").read_text()
    run = hook("--policy", str(policy), "--export", "otel", event=claude_event("ls"))
    assert run.code == 2 and "pip install gait-plugin-otel" in run.stderr
