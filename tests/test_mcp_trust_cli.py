"""MCP server trust through the installed `gait`: `gait mcp verify`, `gait mcp proxy`, and a real
`gait mcp serve` process (integrations.md §1.8 and the trust behaviours of §1.10)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, RunGait
from tests.mcp_server import Server

EXAMPLE = REPO / "examples" / "integrations" / "mcp_trust"
HEAD = "schema_id: gait.gate.policy\nschema_version: 1.0.0\ndefault_verdict: allow\n"


def _snapshot(*entries: dict[str, Any]) -> str:
    return json.dumps({"schema_id": "gait.mcp.trust_snapshot", "entries": list(entries)})


def _entry(server_id: str, score: float = 0.95, **fields: Any) -> dict[str, Any]:
    return {
        "server_id": server_id,
        "publisher": "acme",
        "status": "trusted",
        "updated_at": "2026-03-01T00:00:00Z",
        "score": score,
        **fields,
    }


def _call(server_id: str | None, risk_class: str = "high") -> dict[str, Any]:
    call: dict[str, Any] = {
        "name": "tool.read",
        "args": {"path": "/srv/a"},
        "context": {"identity": "agent", "workspace": "/srv", "risk_class": risk_class},
    }
    if server_id is not None:
        call["server"] = {"server_id": server_id}
    return call


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "snapshot.json").write_text(_snapshot(_entry("github"), _entry("weak", 0.3)))
    trust = "mcp_trust:\n  snapshot: snapshot.json\n  required_risk_classes: [high]\n"
    (tmp_path / "block.yaml").write_text(HEAD + trust + "  min_score: 0.8\n")
    (tmp_path / "approval.yaml").write_text(
        HEAD + trust + "  min_score: 0.8\n  action: require_approval\n"
    )
    (tmp_path / "plain.yaml").write_text(HEAD)
    for name in ("github", "weak", "unknown"):
        (tmp_path / f"server_{name}.json").write_text(json.dumps({"server_id": name}))
        (tmp_path / f"call_{name}.json").write_text(json.dumps(_call(name)))
    (tmp_path / "call_anonymous.json").write_text(json.dumps(_call(None)))
    return tmp_path


@pytest.fixture
def mcp(gait: RunGait, work: Path) -> RunGait:
    def run(*args: str, **kw: Any) -> Any:
        return gait("mcp", *args, cwd=kw.pop("cwd", work), env={"GAIT_HOME": str(work / "h")})

    return run


# ---- gait mcp verify ----------------------------------------------------------------------------


def test_verify_the_example_from_the_repository_root(mcp: RunGait) -> None:
    policy = str(EXAMPLE / "policy.yaml")
    trusted = mcp(
        "verify", "--policy", policy, "--server", str(EXAMPLE / "server_github.json"), "--json",
        cwd=REPO,
    )  # fmt: skip
    assert trusted.code == 0, trusted.stdout
    data = trusted.json
    assert (data["ok"], data["verdict"], data["trust_model"]) == (True, "allow", "local_snapshot")
    assert data["snapshot_path"] == "./examples/integrations/mcp_trust/trust_snapshot.json"
    assert (data["server_id"], data["server_name"]) == ("github", "GitHub MCP")
    assert data["reason_codes"] == ["mcp_trust_verified"] and "violations" not in data
    assert data["mcp_trust"]["score"] == 0.95 and data["mcp_trust"]["status"] == "trusted"
    unknown = mcp(
        "verify", "--policy", policy, "--server", str(EXAMPLE / "server_unknown.json"), cwd=REPO
    )
    assert unknown.code == 3
    assert unknown.stdout.splitlines() == [
        "mcp verify: verdict=block",
        "trust: status=unknown reason_codes=mcp_trust_server_unknown",
    ]


@pytest.mark.parametrize(
    ("policy", "server", "code", "verdict", "status"),
    [
        ("block.yaml", "github", 0, "allow", "trusted"),
        ("block.yaml", "weak", 3, "block", "below_threshold"),
        ("block.yaml", "unknown", 3, "block", "unknown"),
        ("approval.yaml", "weak", 4, "require_approval", "below_threshold"),
    ],
)
def test_verify_exit_codes(
    mcp: RunGait, policy: str, server: str, code: int, verdict: str, status: str
) -> None:
    out = mcp("verify", "--policy", policy, "--server", f"server_{server}.json", "--json")
    assert out.code == code, out.stdout
    data = out.json
    assert (data["ok"], data["verdict"], data["mcp_trust"]["status"]) == (
        code == 0,
        verdict,
        status,
    )
    assert data.get("violations", []) == ([] if code == 0 else ["mcp_trust_policy"])
    assert "error" not in data


def test_verify_risk_class_and_a_policy_without_trust(mcp: RunGait) -> None:
    low = mcp(
        "verify", "--policy", "block.yaml", "--server", "server_weak.json", "--risk-class", "low",
        "--json",
    )  # fmt: skip
    assert low.code == 0
    assert low.json["reason_codes"] == ["mcp_trust_below_threshold"]
    assert "enforced" not in low.json["mcp_trust"] and "required" not in low.json["mcp_trust"]
    plain = mcp("verify", "--policy", "plain.yaml", "--server", "server_weak.json", "--json")
    assert plain.code == 0
    assert {k: plain.json[k] for k in ("ok", "server_id", "verdict")} == {
        "ok": True,
        "server_id": "weak",
        "verdict": "allow",
    }
    assert "mcp_trust" not in plain.json and "trust_model" not in plain.json


def test_verify_invalid_and_missing_snapshots_fail_closed(mcp: RunGait, work: Path) -> None:
    (work / "snapshot.json").write_text(_snapshot(_entry("github"), {"server_name": "GitHub"}))
    invalid = mcp("verify", "--policy", "block.yaml", "--server", "server_github.json")
    assert invalid.code == 3
    assert "trust: status=invalid reason_codes=mcp_trust_snapshot_invalid" in invalid.stdout
    assert 'two entries for server "github"' in invalid.stdout
    (work / "snapshot.json").unlink()
    missing = mcp("verify", "--policy", "block.yaml", "--server", "server_github.json", "--json")
    assert (missing.code, missing.json["mcp_trust"]["status"]) == (3, "missing")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--policy", "block.yaml"), "expected --policy <policy.yaml> and --server <server.json>"),
        (("--policy", "block.yaml", "--server", "server_github.json", "extra"), "expected"),
        (("--policy", "block.yaml", "--server", "nope.json"), "read server description"),
        (("--policy", "block.yaml", "--server", "snapshot.json"), "requires server_id"),
        (("--policy", "missing.yaml", "--server", "server_github.json"), "read policy"),
    ],
)
def test_verify_errors_exit_6(mcp: RunGait, args: tuple[str, ...], message: str) -> None:
    out = mcp("verify", *args, "--json")
    assert out.code == 6
    assert message in out.json["error"] and out.json["error_code"] == "invalid_input"


def test_verify_refuses_a_malformed_server_file(mcp: RunGait, work: Path) -> None:
    (work / "bad.json").write_text('{"server_id": 7}')
    out = mcp("verify", "--policy", "block.yaml", "--server", "bad.json")
    assert out.code == 6 and "server_id must be a string" in out.stderr


def test_verify_help_ends_with_the_exit_codes(mcp: RunGait) -> None:
    out = mcp("verify", "--help")
    assert out.code == 0
    assert out.stdout.rstrip().endswith("6  invalid input or usage")


# ---- gait mcp proxy -----------------------------------------------------------------------------


def test_proxy_the_example_writes_the_decision_into_a_verifiable_trace(
    mcp: RunGait, gait: RunGait, work: Path
) -> None:
    trace = work / "trace.json"
    out = mcp(
        "proxy", "--policy", str(EXAMPLE / "policy.yaml"), "--call",
        str(EXAMPLE / "tool_call.json"), "--trace-out", str(trace), "--json",
        cwd=REPO,
    )  # fmt: skip
    assert out.code == 0, out.stdout
    data = out.json
    assert data["verdict"] == "allow"
    assert data["reason_codes"] == ["default_allow", "mcp_trust_verified"]
    assert data["mcp_trust"]["status"] == "trusted"
    record = json.loads(trace.read_text())
    assert record["mcp_trust"] == data["mcp_trust"]
    verified = gait("trace", "verify", str(trace), env={"GAIT_HOME": str(work / "h")})
    assert verified.code == 0, verified.stdout + verified.stderr


@pytest.mark.parametrize(
    ("policy", "call", "code", "verdict", "reason"),
    [
        ("block.yaml", "call_weak.json", 3, "block", "mcp_trust_below_threshold"),
        ("block.yaml", "call_unknown.json", 3, "block", "mcp_trust_server_unknown"),
        ("block.yaml", "call_anonymous.json", 3, "block", "mcp_trust_identifier_missing"),
        ("approval.yaml", "call_unknown.json", 4, "require_approval", "mcp_trust_server_unknown"),
    ],
)
def test_proxy_enforces_trust(
    mcp: RunGait, work: Path, policy: str, call: str, code: int, verdict: str, reason: str
) -> None:
    out = mcp("proxy", policy, call, "--trace-out", "t.json", "--json")
    assert out.code == code, out.stdout
    data = out.json
    assert data["verdict"] == verdict and "mcp_trust_policy" in data["violations"]
    assert {"default_allow", reason} <= set(data["reason_codes"])
    assert data["mcp_trust"]["enforced"] is True
    trace = json.loads((work / "t.json").read_text())
    assert trace["verdict"] == verdict and trace["violations"] == data["violations"]


def test_proxy_calls_without_a_server_or_risk_class(mcp: RunGait, work: Path) -> None:
    openai = work / "openai.json"
    openai.write_text(json.dumps({"function": {"name": "tool.read", "arguments": "{}"}}))
    blocked = mcp("proxy", "block.yaml", str(openai), "--adapter", "openai", "--json")
    assert blocked.code == 3
    assert blocked.json["mcp_trust"]["status"] == "missing"
    low = work / "low.json"
    low.write_text(json.dumps(_call("unknown", risk_class="low")))
    allowed = mcp("proxy", "block.yaml", str(low), "--json")
    assert allowed.code == 0
    assert allowed.json["reason_codes"] == ["default_allow", "mcp_trust_server_unknown"]
    assert "violations" not in allowed.json


def test_proxy_text_output_and_a_policy_without_trust(mcp: RunGait) -> None:
    out = mcp("proxy", "block.yaml", "call_weak.json", "--trace-out", "t.json")
    assert out.code == 3 and out.stdout.splitlines()[0] == "mcp proxy: verdict=block"
    plain = mcp("proxy", "plain.yaml", "call_weak.json", "--trace-out", "p.json", "--json")
    assert plain.code == 0 and "mcp_trust" not in plain.json


def test_gate_eval_and_policy_commands_load_a_trust_policy(gait: RunGait, work: Path) -> None:
    intent = REPO / "examples" / "quickstart" / "intent_read.json"
    out = gait("gate", "eval", "--policy", "block.yaml", "--intent", str(intent), "--json")
    assert out.code == 0, out.stdout + out.stderr
    assert not any(code.startswith("mcp_trust") for code in out.json["reason_codes"])
    assert gait("policy", "validate", "block.yaml").code == 0
    formatted = gait("policy", "fmt", "block.yaml")
    assert formatted.code == 0 and "mcp_trust:\n  enabled: true\n" in formatted.stdout


# ---- gait mcp serve (a real server process) -----------------------------------------------------


@pytest.fixture
def server(work: Path) -> Iterator[Server]:
    started = Server(work, "--policy", "block.yaml")
    yield started
    started.stop(signal.SIGKILL)


def _decide(server: Server, server_id: str) -> dict[str, Any]:
    response = server.evaluate({"call": _call(server_id)})
    assert response.status == 200, response.body
    return response.json


def test_serve_duplicate_snapshot_identities_block(server: Server, work: Path) -> None:
    (work / "snapshot.json").write_text(_snapshot(_entry("github"), {"server_name": "GitHub"}))
    data = _decide(server, "github")
    assert (data["verdict"], data["exit_code"]) == ("block", 3)
    assert data["mcp_trust"]["status"] == "invalid"
    assert "mcp_trust_snapshot_invalid" in data["reason_codes"]
    assert data["violations"] == ["mcp_trust_policy"]
    health = server.request("GET", "/healthz")
    assert health.status == 200  # the policy loads; decisions that need trust fail closed


def test_serve_a_snapshot_edited_on_disk_changes_the_next_decision(
    server: Server, work: Path
) -> None:
    assert _decide(server, "github")["verdict"] == "allow"
    assert _decide(server, "github")["mcp_trust"]["score"] == 0.95
    replacement = work / "next.json"
    replacement.write_text(_snapshot(_entry("github", 0.5)))
    os.replace(replacement, work / "snapshot.json")
    lowered = _decide(server, "github")
    assert (lowered["verdict"], lowered["mcp_trust"]["status"]) == ("block", "below_threshold")
    (work / "snapshot.json").unlink()
    assert _decide(server, "github")["mcp_trust"]["status"] == "missing"
    (work / "snapshot.json").write_text(_snapshot(_entry("github")))
    assert _decide(server, "github")["verdict"] == "allow"
    sse = server.evaluate({"call": _call("weak")}, path="/v1/evaluate/sse")
    assert b'"mcp_trust"' in sse.body and b'"verdict":"block"' in sse.body
