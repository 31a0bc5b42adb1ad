"""`gait mcp proxy` and its alias `bridge`, through the installed `gait` (integrations.md §1.5,
§1.6 and the behaviours of §1.10 that the reference's proxy tests pin down)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from gait.keys import SigningKey
from tests.conftest import GAIT, SHARED, Run, RunGait
from tests.plugin_fixtures import make_plugin

OPENAI_CALL = SHARED / "reference_fixtures/examples/mcp/openai_function_call.json"
HEAD = "schema_id: gait.gate.policy\nschema_version: 1.0.0\n"
NATIVE_BLOCK = {
    "name": "tool.write",
    "args": {"path": "/tmp/out.txt"},
    "target": "api.external.com",
    "context": {
        "identity": "alice",
        "workspace": "/repo/gait",
        "risk_class": "high",
        "run_id": "run_mcp_case",
    },
}
BLOCK_HOST_WRITES = (
    HEAD
    + """default_verdict: allow
rules:
  - name: block-host-writes
    effect: block
    match:
      tool_names: [tool.write]
      target_kinds: [host]
      target_values: [api.external.com]
"""
)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "allow.yaml").write_text(HEAD + "default_verdict: allow\n")
    (tmp_path / "approval.yaml").write_text(HEAD + "default_verdict: require_approval\n")
    (tmp_path / "block_hosts.yaml").write_text(BLOCK_HOST_WRITES)
    (tmp_path / "native.json").write_text(json.dumps(NATIVE_BLOCK))
    return tmp_path


@pytest.fixture
def proxy(gait: RunGait, work: Path) -> RunGait:
    def run(
        *args: str,
        cwd: Path | None = None,
        plugins: str | None = "",
        env: Mapping[str, str] | None = None,
        pythonpath: Path | None = None,
        input: str | None = None,
        timeout: float = 120,
    ) -> Run:
        return gait(
            "mcp",
            *args,
            cwd=cwd or work,
            plugins=plugins,
            env={"GAIT_HOME": str(work / "home"), **(env or {})},
            pythonpath=pythonpath,
            input=input,
            timeout=timeout,
        )

    return run


def test_openai_call_allowed_with_a_trace_that_verifies(
    proxy: RunGait, gait: RunGait, work: Path
) -> None:
    out = proxy(
        "proxy",
        "--policy",
        "allow.yaml",
        "--call",
        str(OPENAI_CALL),
        "--adapter",
        "openai",
        "--json",
    )
    assert out.code == 0, out.stdout
    data = out.json
    assert (data["ok"], data["executed"], data["verdict"]) == (True, False, "allow")
    assert (data["adapter"], data["tool_name"]) == ("openai", "tool.search")
    assert data["run_id"] == "run_mcp_" + data["intent_digest"][:12]
    assert data["policy_id"] == "gait.gate.policy" and data["relationship"]["policy_ref"]
    assert Path(work / data["trace_path"]).name.startswith("trace__")
    home = {"GAIT_HOME": str(work / "home")}
    verified = gait("trace", "verify", "--path", data["trace_path"], cwd=work, env=home)
    assert verified.code == 0, verified.stdout


def test_native_block_with_runpack_and_exit_3(proxy: RunGait, gait: RunGait, work: Path) -> None:
    out = proxy(
        "proxy",
        "block_hosts.yaml",
        "native.json",
        "--runpack-out",
        "out/runpack.zip",
        "--trace-out",
        "out/trace.json",
        "--json",
    )
    assert out.code == 3, out.stdout
    data = out.json
    assert data["verdict"] == "block" and data["run_id"] == "run_mcp_case"
    assert (data["trace_path"], data["runpack_path"]) == ("out/trace.json", "out/runpack.zip")
    home = {"GAIT_HOME": str(work / "home")}
    assert gait("verify", "out/runpack.zip", "--json", cwd=work, env=home).code == 0
    verified = gait("trace", "verify", "--path", "out/trace.json", "--json", cwd=work, env=home)
    assert verified.code == 0, verified.stdout
    text = proxy("proxy", "block_hosts.yaml", "native.json", "--trace-out", "t.json")
    assert text.code == 3 and text.stdout.splitlines() == [
        "mcp proxy: verdict=block",
        "trace: t.json",
    ]


def test_require_approval_exits_4_and_bridge_is_an_alias(proxy: RunGait) -> None:
    out = proxy("proxy", "--policy", "approval.yaml", "--call", "native.json", "--json")
    alias = proxy("bridge", "--policy", "approval.yaml", "--call", "native.json", "--json")
    assert out.code == alias.code == 4
    drop = {"trace_path", "decision_latency_ms", "correlation_id", "warnings"}
    assert {k: v for k, v in out.json.items() if k not in drop} == {
        k: v for k, v in alias.json.items() if k not in drop
    }


def test_default_trace_names_are_unique_while_the_trace_id_is_not(
    proxy: RunGait, work: Path
) -> None:
    first = proxy("proxy", "allow.yaml", "native.json", "--json").json
    second = proxy("proxy", "allow.yaml", "native.json", "--json").json
    assert first["trace_id"] == second["trace_id"]
    assert first["trace_path"] != second["trace_path"]
    assert (work / first["trace_path"]).exists() and (work / second["trace_path"]).exists()


def test_standard_profile_fallback_and_stdin(work: Path) -> None:
    done = subprocess.run(
        [
            str(GAIT),
            "mcp",
            "proxy",
            "--policy",
            "allow.yaml",
            "--call",
            "-",
            "--adapter",
            "anthropic",
            "--json",
        ],
        input=json.dumps({"type": "tool_use", "name": "tool.read", "input": {"q": 1}}),
        cwd=work,
        env={**os.environ, "GAIT_PLUGINS": "", "GAIT_HOME": str(work / "home")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["tool_name"] == "tool.read"
    assert any("fallback intent context" in w for w in data["warnings"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--policy", "allow.yaml"), "expected --policy <policy.yaml> and --call"),
        (("allow.yaml", "native.json", "extra"), "expected --policy <policy.yaml> and --call"),
        (("allow.yaml", "native.json", "--adapter", "nope"), "unsupported adapter: nope"),
        (("allow.yaml", "native.json", "--profile", "prod"), 'unsupported --profile value "prod"'),
        (("allow.yaml", "missing.json"), "read call payload: "),
        (("allow.yaml", "native.json", "--kill-switch-state", "k.json"), "--kill-switch-state"),
        (("allow.yaml", "native.json", "--context-envelope", "e.json"), "--context-envelope"),
    ],
)
def test_usage_errors_exit_6(proxy: RunGait, args: tuple[str, ...], message: str) -> None:
    out = proxy("proxy", *args, "--json")
    assert out.code == 6, out.stdout
    data = out.json
    assert data["ok"] is False and data["executed"] is False
    assert data["error"].startswith(message) and data["error_code"] == "invalid_input"


def _call(work: Path, name: str, call: Mapping[str, object]) -> str:
    (work / name).write_text(json.dumps(call))
    return name


def test_oss_prod_requirements(proxy: RunGait, work: Path) -> None:
    (work / "block.yaml").write_text(HEAD + "default_verdict: block\n")
    env = {"GAIT_TEST_KEY": SigningKey.generate().encode()}
    prod = ("--profile", "oss-prod", "--key-mode", "prod", "--private-key-env", "GAIT_TEST_KEY")
    context = {"identity": "a", "workspace": "/w", "session_id": "s", "risk_class": "high"}
    full = _call(work, "full.json", {"name": "tool.read", "context": context})
    out = proxy("proxy", "block.yaml", full, "--profile", "oss-prod", "--json")
    assert out.json["error"] == "oss-prod profile requires --key-mode prod"
    out = proxy("proxy", "allow.yaml", full, *prod, "--json", env=env)
    assert out.json["error"].startswith("oss-prod profile rejects policy default_verdict=allow")
    assert list(work.glob("trace_*.json")) == []
    missing = _call(work, "missing.json", {"name": "tool.read", "context": {"identity": "a"}})
    out = proxy("proxy", "block.yaml", missing, *prod, "--json", env=env)
    assert out.json["error"] == "context.workspace is required in strict profile"
    oauth = {**context, "auth_mode": "oauth", "oauth_evidence": {"issuer": "i", "audience": ["x"]}}
    partial = _call(work, "oauth.json", {"name": "tool.read", "context": oauth})
    out = proxy("proxy", "block.yaml", partial, *prod, "--json", env=env)
    assert out.json["error"] == (
        "missing OAuth evidence fields: subject, client_id, token_type, scopes, redirect_uri, "
        "evidence_ref, auth_time"
    )
    bad_mode = _call(work, "mode.json", {"name": "t", "context": {**context, "auth_mode": "x"}})
    out = proxy("proxy", "block.yaml", bad_mode, "--json")
    assert out.json["error"] == "context.auth_mode must be one of off|none|token|oauth|oauth_dcr"
    out = proxy("proxy", "block.yaml", full, *prod, "--json", env=env)
    assert out.code == 3 and "warnings" not in out.json


def test_envelope_path_in_the_call_and_unknown_jobs(proxy: RunGait, work: Path) -> None:
    envelope = _call(
        work, "env.json", {"name": "t", "context": {"context_envelope_path": "e.json"}}
    )
    out = proxy("proxy", "allow.yaml", envelope, "--json")
    assert out.code == 6 and "context_envelope_path is not supported" in out.json["error"]
    job = _call(work, "job.json", {"name": "tool.read", "context": {"job_id": "job-1"}})
    out = proxy("proxy", "allow.yaml", job, "--json")
    assert out.code == 3
    data = out.json
    assert data["verdict"] == "block" and data["job_id"] == "job-1"
    assert "emergency_stop_state_unavailable" in data["reason_codes"]
    assert "emergency_stop_active" in data["violations"]
    assert any(w.startswith("job_status_unavailable=") for w in data["warnings"])


def test_claude_code_hook_event(proxy: RunGait, work: Path) -> None:
    event = {
        "session_id": "sess-claude-1",
        "tool_name": "Bash",
        "tool_input": {"command": "npm test"},
        "hook_event_name": "PreToolUse",
    }
    (work / "exec.yaml").write_text(
        HEAD
        + """default_verdict: allow
rules:
  - name: no-exec
    effect: block
    match:
      tool_names: [tool.exec]
      target_kinds: [other]
"""
    )
    for alias in ("claude_code", "Claude-Code", "claudecode"):
        out = proxy(
            "proxy", "exec.yaml", _call(work, "hook.json", event), "--adapter", alias, "--json"
        )
        assert out.code == 3, out.stdout
        assert (out.json["tool_name"], out.json["session_id"]) == ("tool.exec", "sess-claude-1")


THIRD_PARTY = """
    import gait.hookspecs as hs

    def decode(payload):
        return {"name": "tool." + payload["verb"], "args": payload.get("params", {})}

    @hs.hookimpl
    def gait_bridge():
        return [hs.Bridge(name="acme", kind="adapter", factory=lambda: decode),
                hs.Bridge(name="mcp", kind="adapter", factory=lambda: decode)]
"""


def test_a_third_party_adapter_plugin(proxy: RunGait, work: Path) -> None:
    site = work / "site"
    make_plugin(site, "gait-plugin-acme", "gait_plugin_acme_proxy", THIRD_PARTY)
    call = _call(work, "acme.json", {"verb": "read", "params": {"q": 1}})
    out = proxy(
        "proxy", "allow.yaml", call, "--adapter", "acme", "--json", plugins=None, pythonpath=site
    )
    assert out.code == 0, out.stdout + out.stderr
    assert out.json["tool_name"] == "tool.read" and out.json["adapter"] == "acme"
    # A plugin cannot take over a built-in adapter's name.
    native = proxy(
        "proxy", "block_hosts.yaml", "native.json", "--json", plugins=None, pythonpath=site
    )
    assert native.code == 3 and native.json["tool_name"] == "tool.write"
    # Without the plugin, the name is unknown.
    assert proxy("proxy", "allow.yaml", call, "--adapter", "acme", "--json").code == 6


def test_a_proxy_decision_loads_neither_pluggy_nor_the_server(work: Path) -> None:
    """Hook integrations (Claude Code) run the proxy once per tool call: start-up is product
    speed, so the built-in adapters are found without pluggy, and serve's libraries stay out."""
    (work / "oa.json").write_text('{"function": {"name": "tool.read", "arguments": "{}"}}')
    run = """
import json, sys
from gait_cli.main import main

code = main(["gait", "mcp", "proxy", "allow.yaml", "oa.json", "--adapter", "openai"])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""
    done = subprocess.run(
        [str(GAIT.parent / "python"), "-c", run],
        cwd=work,
        env={**os.environ, "GAIT_PLUGINS": "", "GAIT_HOME": str(work / "home")},
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stderr.splitlines()[-1])
    assert report["code"] == 0
    heavy = ("pluggy", "gait.hookspecs", "uvicorn", "asyncio", "cattrs", "rfc8785")
    assert [name for name in heavy if name in report["modules"]] == []
