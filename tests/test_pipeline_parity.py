"""One decision, every entry point (gait.pipeline): the same calls through `gait gate eval`
(intent form), `gait mcp proxy`, a running `gait mcp serve`, the Python API (`gait.Gate`) and
the Gas Town hook's local path give the same verdicts, reason codes, violations, digests and
trace contents, time fields aside; with and without --signer, and with a rate limit.

The calls are Gas Town (Claude Code) events; the native call the `gastown` adapter makes of each
is what the MCP entry points receive, and the intent `call_intent` makes of that is what the
intent form receives, so every entry point decides the same intent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunGait
from tests.mcp_server import Server

POLICY = """schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: allow
rules:
  - name: block-marker
    priority: 10
    effect: block
    match:
      tool_names: [tool.exec]
      target_values: ["touch blocked.marker"]
    reason_codes: [parity_blocked]
    violations: [parity_violation]
  - name: approve-marker
    priority: 20
    effect: require_approval
    match:
      tool_names: [tool.exec]
      target_values: ["touch approval.marker"]
    reason_codes: [parity_approval]
  - name: dry-run-marker
    priority: 30
    effect: dry_run
    match:
      tool_names: [tool.read]
      target_values: ["dry.txt"]
    reason_codes: [parity_dry_run]
  - name: limited-read
    priority: 40
    effect: allow
    match:
      tool_names: [tool.read]
      target_values: ["limited.txt"]
    rate_limit: {requests: 1, window: hour, scope: tool}
"""


def bash(command: str) -> dict[str, Any]:
    return {
        "session_id": "0b7c1f5e-5a37-4b8e-9d7e-2f1a4c3b6d90",
        "cwd": "/work/town/myrig",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": command},
    }


def read(path: str) -> dict[str, Any]:
    return {**bash(""), "tool_name": "Read", "tool_input": {"file_path": path}}


# In order: the second read of limited.txt exceeds the rate limit (1 an hour).
CALLS = [
    ("allow", bash("ls")),
    ("block", bash("touch blocked.marker")),
    ("require_approval", bash("touch approval.marker")),
    ("dry_run", read("dry.txt")),
    ("limited", read("limited.txt")),
    ("limited_again", read("limited.txt")),
]
EXPECTED = {
    "allow": "allow",
    "block": "block",
    "require_approval": "require_approval",
    "dry_run": "dry_run",
    "limited": "allow",
    "limited_again": "block",
}
# Fields that differ from one decision to the next whatever the entry point: when it was
# observed, its event id, how long it took, the signature over those, and the correlation id
# (derived from the command line of `gait gate eval`).
TIME_FIELDS = ("observed_at", "event_id", "latency_ms", "correlation_id")
REFUSED = "refused"

Decided = dict[str, Any]
Entry = Callable[[Path, list[tuple[str, dict[str, Any]]], bool], list[Any]]


def native(event: dict[str, Any]) -> dict[str, Any]:
    from gait_plugin_gastown.adapter import decode_checked

    return decode_checked(event)


def intent_of(event: dict[str, Any]) -> dict[str, Any]:
    from gait.mcp.toolcall import call_intent, decode_mcp

    return call_intent(decode_mcp(native(event)), strict=False)


def decided(trace_path: Path, answer: dict[str, Any]) -> Decided:
    """What must be the same: the answer's verdict, reasons and digests, and the trace."""
    trace = json.loads(trace_path.read_text())
    for field in TIME_FIELDS:
        trace.pop(field, None)
    signature = trace.pop("signature")
    return {
        "verdict": answer["verdict"],
        "reason_codes": sorted(answer.get("reason_codes", [])),
        "violations": sorted(answer.get("violations", [])),
        "intent_digest": trace["intent_digest"],
        "policy_digest": trace["policy_digest"],
        "trace": trace,
        "signature": (signature["alg"], signature["key_id"]),
    }


def key_flags(prod: bool) -> list[str]:
    if not prod:
        return []
    return ["--key-mode", "prod", "--private-key", "keys/gait_private.key", "--signer", "ed25519"]


# ---- the entry points -------------------------------------------------------------------------


def via_gate_eval(gait: RunGait) -> Entry:
    def run(work: Path, calls: list[tuple[str, dict[str, Any]]], prod: bool) -> list[Any]:
        results: list[Any] = []
        for number, (_, event) in enumerate(calls):
            try:
                intent = intent_of(event)
            except Exception:
                intent = {"schema_id": "gait.gate.intent_request", "tool_name": ""}
            (work / f"intent{number}.json").write_text(json.dumps(intent))
            trace = work / f"gate_trace{number}.json"
            done = gait(
                "gate", "eval", "--policy", "policy.yaml", "--intent", f"intent{number}.json",
                "--trace-out", trace.name, "--rate-limit-state", "gate_limits.json",
                *key_flags(prod), "--json", cwd=work, env={"GAIT_HOME": str(work / "home")},
            )  # fmt: skip
            results.append(decided(trace, done.json) if trace.exists() else REFUSED)
            assert (done.code == 6) == (results[-1] == REFUSED), done.stdout
        return results

    return run


def via_proxy(gait: RunGait) -> Entry:
    def run(work: Path, calls: list[tuple[str, dict[str, Any]]], prod: bool) -> list[Any]:
        results: list[Any] = []
        for number, (_, event) in enumerate(calls):
            try:
                call = native(event)
            except Exception:
                call = {"name": "", "args": {}}
            (work / f"call{number}.json").write_text(json.dumps(call))
            trace = work / f"proxy_trace{number}.json"
            done = gait(
                "mcp", "proxy", "--policy", "policy.yaml", "--call", f"call{number}.json",
                "--trace-out", trace.name, "--rate-limit-state", "proxy_limits.json",
                *key_flags(prod), "--json", cwd=work, env={"GAIT_HOME": str(work / "home")},
            )  # fmt: skip
            results.append(decided(trace, done.json) if trace.exists() else REFUSED)
            assert (done.code == 6) == (results[-1] == REFUSED), done.stdout
        return results

    return run


def via_serve(work: Path, calls: list[tuple[str, dict[str, Any]]], prod: bool) -> list[Any]:
    server = Server(
        work, "--policy", "policy.yaml", "--rate-limit-state", "serve_limits.json",
        *key_flags(prod), env={"GAIT_HOME": str(work / "home")},
    )  # fmt: skip
    results: list[Any] = []
    try:
        for _, event in calls:
            try:
                call = native(event)
            except Exception:
                call = {"name": "", "args": {}}
            answer = server.evaluate({"adapter": "mcp", "call": call})
            if answer.status == 400:
                results.append(REFUSED)
                continue
            assert answer.status == 200, answer.body
            results.append(decided(work / answer.json["trace_path"], answer.json))
    finally:
        server.stop()
    return results


def via_python_api(work: Path, calls: list[tuple[str, dict[str, Any]]], prod: bool) -> list[Any]:
    from gait import Gate
    from gait.errors import InvalidInputError
    from gait.gate import EnforceOptions
    from gait.keys import KeySource
    from gait.plugins import load_plugins
    from gait.signers import resolve_signer

    host = load_plugins(enabled=False)
    gate = Gate.load(work / "policy.yaml", plugins=host)
    private = KeySource(path=str(work / "keys/gait_private.key") if prod else "", env="")
    key, _ = resolve_signer(
        key_mode="prod" if prod else "dev", private=private, signer="ed25519", backends=host.signers
    )
    results: list[Any] = []
    for number, (_, event) in enumerate(calls):
        try:
            intent = intent_of(event)
        except InvalidInputError:
            results.append(REFUSED)
            continue
        outcome = gate.enforce(intent, EnforceOptions(rate_limit_state=work / "api_limits.json"))
        trace = work / f"api_trace{number}.json"
        gate.sign_trace(outcome, key, path=trace)
        answer = {
            "verdict": outcome.verdict,
            "reason_codes": outcome.reason_codes,
            "violations": outcome.violations,
        }
        results.append(decided(trace, answer))
    return results


def via_gastown_local(work: Path, calls: list[tuple[str, dict[str, Any]]], prod: bool) -> list[Any]:
    from gait_plugin_gastown import local
    from gait_plugin_gastown.hook import Options

    from gait.errors import GaitError

    results: list[Any] = []
    for number, (_, event) in enumerate(calls):
        options = Options()
        options.policy = str(work / "policy.yaml")
        options.out_dir = str(work / "gastown")
        options.trace_out = str(work / f"gastown_trace{number}.json")
        options.rate_limit_state = str(work / "gastown_limits.json")
        if prod:
            options.key_mode = "prod"
            options.private_key = str(work / "keys/gait_private.key")
        try:
            decision = local.decide(options, event)
        except GaitError:
            results.append(REFUSED)
            continue
        answer = {
            "verdict": decision.verdict,
            "reason_codes": decision.reason_codes,
            "violations": decision.violations,
        }
        results.append(decided(Path(options.trace_out), answer))
    return results


# ---- the test ---------------------------------------------------------------------------------


@pytest.fixture
def work(tmp_path: Path, gait: RunGait, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "policy.yaml").write_text(POLICY)
    home = tmp_path / "home"
    assert gait("keys", "init", "--out-dir", "keys", cwd=tmp_path).code == 0
    # The in-process entry points use the dev key the subprocesses use.
    monkeypatch.setenv("GAIT_HOME", str(home))
    monkeypatch.setenv("GAIT_PLUGINS", "")
    for name in [n for n in os.environ if n.startswith(("GT_", "BD_"))]:
        monkeypatch.delenv(name)
    yield tmp_path


@pytest.mark.parametrize("prod", [False, True], ids=["dev", "signer"])
def test_every_entry_point_decides_alike(gait: RunGait, work: Path, prod: bool) -> None:
    entries: dict[str, Entry] = {
        "gate eval": via_gate_eval(gait),
        "mcp proxy": via_proxy(gait),
        "mcp serve": via_serve,
        "python api": via_python_api,
        "gastown local": via_gastown_local,
    }
    results = {name: entry(work, CALLS, prod) for name, entry in entries.items()}
    reference = results["gate eval"]
    assert [r["verdict"] for r in reference] == [EXPECTED[name] for name, _ in CALLS]
    assert "rate_limit_exceeded" in reference[-1]["reason_codes"]
    for name, got in results.items():
        for (call, _), expected, actual in zip(CALLS, reference, got, strict=True):
            assert actual == expected, f"{name}: {call}"
    keys = {r["signature"] for rs in results.values() for r in rs}
    assert len(keys) == 1


def test_an_invalid_call_is_refused_everywhere(gait: RunGait, work: Path) -> None:
    invalid = [("invalid", {**bash("ls"), "tool_input": "not an object"})]
    for entry in (
        via_gate_eval(gait),
        via_proxy(gait),
        via_serve,
        via_python_api,
        via_gastown_local,
    ):
        assert entry(work, invalid, False) == [REFUSED]
    assert not list(work.glob("*trace*.json"))
    assert not (work / "gait-out/mcp-serve/traces").exists() or not list(
        (work / "gait-out/mcp-serve/traces").iterdir()
    )


@pytest.mark.parametrize("command", ["gate eval", "mcp proxy", "mcp serve"])
def test_an_unknown_signer_is_refused_alike(gait: RunGait, work: Path, command: str) -> None:
    (work / "intent.json").write_text(json.dumps(intent_of(bash("ls"))))
    (work / "call.json").write_text(json.dumps(native(bash("ls"))))
    inputs = {
        "gate eval": ["--intent", "intent.json"],
        "mcp proxy": ["--call", "call.json"],
        "mcp serve": ["--listen", "127.0.0.1:0"],
    }[command]
    done = gait(
        *command.split(), "--policy", "policy.yaml", *inputs, "--key-mode", "prod",
        "--private-key", "keys/gait_private.key", "--signer", "nope", "--json", cwd=work,
    )  # fmt: skip
    assert done.code == 6, done.stdout
    assert "unknown signer 'nope' (available: ed25519)" in done.stdout
