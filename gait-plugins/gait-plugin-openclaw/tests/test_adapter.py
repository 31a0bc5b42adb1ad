"""The `openclaw` adapter: OpenClaw's hook event and context to Gait's native call, on its own
and through the installed `gait mcp proxy --adapter openclaw`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gait_plugin_openclaw import plugin
from gait_plugin_openclaw.adapter import decode_openclaw, gait_tool_name

from gait.mcp.toolcall import ToolCallError, call_intent, decode_mcp
from gait.plugins import PluginHost
from gait.testing import RunGait

from .conftest import write_policy


@pytest.mark.parametrize(
    ("openclaw", "gait"),
    [
        ("read", "tool.read"),
        ("write", "tool.write"),
        ("edit", "tool.write"),
        ("apply_patch", "tool.write"),
        ("apply-patch", "tool.write"),  # OpenClaw's own alias of apply_patch
        ("exec", "tool.exec"),
        ("bash", "tool.exec"),
        ("web_fetch", "tool.read"),
        ("web_search", "tool.read"),
        ("sessions_list", "tool.sessions_list"),
        ("Session Status", "tool.session_status"),
        ("image-generate", "tool.image_generate"),
        ("mcp.github.create_issue", "mcp.github.create_issue"),
    ],
)
def test_tool_names(openclaw: str, gait: str) -> None:
    assert gait_tool_name(openclaw) == gait


def call(event: dict[str, Any], ctx: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return decode_openclaw({"event": event, "ctx": ctx or {}, **extra})


def test_targets_come_from_the_parameters_and_the_hosts_path_hints() -> None:
    assert call({"toolName": "read", "params": {"path": " /srv/a.md ", "url": "https://x"}})[
        "targets"
    ] == [
        {"kind": "path", "value": "/srv/a.md", "operation": "read"},
        {"kind": "url", "value": "https://x", "operation": "read"},
    ]
    patch = call(
        {
            "toolName": "apply_patch",
            "params": {"input": "*** Begin Patch"},
            "derivedPaths": ["/srv/a.py", "/srv/b.py", "/srv/a.py"],
        }
    )
    assert patch["targets"] == [
        {"kind": "path", "value": "/srv/a.py", "operation": "write"},
        {"kind": "path", "value": "/srv/b.py", "operation": "write"},
    ]
    assert call({"toolName": "exec", "params": {"command": "rm -rf /"}})["targets"] == [
        {"kind": "other", "value": "rm -rf /", "operation": "execute"}
    ]
    assert "targets" not in call({"toolName": "sessions_list", "params": {}})


def test_the_context_carries_who_asked() -> None:
    decoded = call(
        {
            "toolName": "exec",
            "params": {"command": "ls"},
            "toolCallId": "toolu_1",
            "runId": "run-7",
            "toolKind": "code_mode_exec",
        },
        {
            "agentId": "main",
            "sessionKey": "agent:main:telegram:42",
            "sessionId": "s-9",
            "channelId": "telegram",
            "requester": {
                "channel": "telegram",
                "accountId": "bot",
                "senderId": "42",
                "senderIsOwner": False,
                "roleIds": ["ops"],
            },
        },
        workspace="/srv/agent",
    )
    assert decoded["name"] == "tool.exec"
    assert decoded["args"] == {"command": "ls"}
    assert decoded["context"] == {
        "identity": "openclaw:main",
        "workspace": "/srv/agent",
        "session_id": "agent:main:telegram:42",
        "request_id": "toolu_1",
        "run_id": "run-7",
        "auth_context": {
            "adapter": "openclaw",
            "tool": "exec",
            "tool_kind": "code_mode_exec",
            "agent_id": "main",
            "session_key": "agent:main:telegram:42",
            "session_id": "s-9",
            "channel_id": "telegram",
            "requester": {
                "channel": "telegram",
                "account_id": "bot",
                "sender_id": "42",
                "sender_is_owner": False,
                "role_ids": ["ops"],
            },
        },
    }
    # a native call in every respect: it passes the type checks and becomes an intent
    intent = call_intent(decode_mcp(decoded))
    assert intent["context"]["identity"] == "openclaw:main"
    assert intent["tool_name"] == "tool.exec"


def test_a_call_without_agent_or_session_falls_back_like_any_other() -> None:
    decoded = call({"toolName": "session_status"}, {"sessionId": "s-1"})
    assert decoded["args"] == {}
    assert decoded["context"]["session_id"] == "s-1"
    assert "identity" not in decoded["context"]
    assert call_intent(decoded)["context"]["identity"] == "mcp-proxy"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "payload must be an object"),
        ({"event": {}}, "event.toolName is required"),
        ({"event": {"toolName": "  "}}, "event.toolName is required"),
        ({"event": {"toolName": 3}}, "event.toolName must be a string"),
        ({"event": {"toolName": "x", "params": [1]}}, "event.params must be an object"),
        ({"event": {"toolName": "x", "derivedPaths": "/a"}}, "event.derivedPaths must be a list"),
        ({"event": {"toolName": "x"}, "ctx": "main"}, "ctx must be an object"),
        ({"event": {"toolName": "x"}, "ctx": {"agentId": 1}}, "ctx.agentId must be a string"),
        (
            {"event": {"toolName": "x"}, "ctx": {"requester": {"senderIsOwner": "yes"}}},
            "senderIsOwner must be a boolean",
        ),
    ],
)
def test_a_payload_that_is_not_an_openclaw_call_is_refused(payload: Any, message: str) -> None:
    with pytest.raises(ToolCallError, match=message):
        decode_openclaw(payload)


def test_the_plugin_offers_the_adapter_through_gait_bridge() -> None:
    host = PluginHost()
    host.manager.register(plugin, name="gait-plugin-openclaw:openclaw")
    decoder = host.adapter("openclaw")
    assert decoder is decode_openclaw


def test_gait_mcp_proxy_decides_an_openclaw_call(gait: RunGait, tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    payload = {
        "event": {"toolName": "sessions_list", "params": {}, "toolCallId": "c1"},
        "ctx": {"agentId": "main", "sessionKey": "agent:main:main"},
    }
    (tmp_path / "call.json").write_text(json.dumps(payload))
    args = (
        "mcp",
        "proxy",
        "--policy",
        str(policy),
        "--call",
        "call.json",
        "--adapter",
        "openclaw",
        "--json",
    )
    run = gait(*args, plugins="openclaw")
    assert run.code == 3, run.stdout + run.stderr
    assert run.json["verdict"] == "block"
    assert run.json["tool_name"] == "tool.sessions_list"
    assert run.json["session_id"] == "agent:main:main"
    assert run.json["reason_codes"] == ["session_listing_blocked"]

    without = gait(*args, plugins="")
    assert without.code == 6
    assert without.json["error"] == "unsupported adapter: openclaw"
