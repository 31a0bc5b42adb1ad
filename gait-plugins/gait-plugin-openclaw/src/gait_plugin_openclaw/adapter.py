"""The `openclaw` adapter: an OpenClaw `before_tool_call` hook's event and context to a native call.

The payload is what the shipped OpenClaw plugin sends (`openclaw_plugin/gait-verdict.js`):

    {"event": {"toolName", "params", "toolCallId", "runId", "toolKind", "toolInputKind",
               "derivedPaths"},
     "ctx": {"agentId", "sessionKey", "sessionId", "runId", "channelId",
             "requester": {"channel", "accountId", "senderId", "senderIsOwner", "roleIds"}},
     "workspace": "<the deployment's workspace, from the plugin config>"}

OpenClaw's core tools map to Gait's shared tool names, as Claude Code's do (`read` ->
`tool.read`, `write`/`edit`/`apply_patch` -> `tool.write`, `exec`/`bash` -> `tool.exec`,
`web_fetch`/`web_search` -> `tool.read`), so one policy serves both; every other tool is
`tool.<name>`. Targets come from the parameters and the host's `derivedPaths`. The agent is the
identity (`openclaw:<agentId>`), the session key the session, the tool call id the request id;
the rest of the attribution goes into `auth_context`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from gait.gostrings import go_trim_space
from gait.mcp.toolcall import ToolCallError, first_string, shared_tool_name

ADAPTER: Final = "openclaw"

# Keyed as `shared_tool_name` looks them up: lower case, no spaces, `_` or `-` (OpenClaw itself
# takes `apply-patch` for `apply_patch`).
_CORE_TOOLS: Final = {
    **dict.fromkeys(("read", "webfetch", "websearch"), "tool.read"),
    **dict.fromkeys(("write", "edit", "applypatch"), "tool.write"),
    **dict.fromkeys(("exec", "bash"), "tool.exec"),
}
_PATH_KEYS: Final = ("path", "file_path", "filePath", "file")
_URL_KEYS: Final = ("url", "uri")
_COMMAND_KEYS: Final = ("command", "cmd")


def gait_tool_name(raw: str) -> str:
    """OpenClaw's tool id to Gait's: core tools by the table, a dotted id lower-cased as is,
    anything else `tool.<id>` with spaces and hyphens as underscores."""
    return shared_tool_name(raw, _CORE_TOOLS)


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ToolCallError(f"parse openclaw tool call: {where} must be an object")
    return value


def _string(section: Mapping[str, Any], key: str, where: str) -> str:
    value = section.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ToolCallError(f"parse openclaw tool call: {where}.{key} must be a string")
    return go_trim_space(value)


def _strings(section: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = section.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ToolCallError(f"parse openclaw tool call: {where}.{key} must be a list of strings")
    return [go_trim_space(item) for item in value if go_trim_space(item)]


def _targets(tool: str, params: Mapping[str, Any], derived: list[str]) -> list[dict[str, Any]]:
    operation = {"tool.read": "read", "tool.write": "write"}.get(tool, "")
    paths = [first_string(params, _PATH_KEYS)] if tool in ("tool.read", "tool.write") else []
    targets = [
        {"kind": "path", "value": path, **({"operation": operation} if operation else {})}
        for path in dict.fromkeys(p for p in (*paths, *derived) if p)
    ]
    url = first_string(params, _URL_KEYS) if tool == "tool.read" else ""
    if url:
        targets.append({"kind": "url", "value": url, "operation": "read"})
    command = first_string(params, _COMMAND_KEYS) if tool == "tool.exec" else ""
    if command:
        targets.append({"kind": "other", "value": command, "operation": "execute"})
    return targets


def _requester(ctx: Mapping[str, Any]) -> dict[str, Any]:
    requester = _object(ctx.get("requester"), "ctx.requester")
    out: dict[str, Any] = {
        snake: value
        for camel, snake in (
            ("channel", "channel"),
            ("accountId", "account_id"),
            ("senderId", "sender_id"),
        )
        if (value := _string(requester, camel, "ctx.requester"))
    }
    owner = requester.get("senderIsOwner")
    if owner is not None:
        if not isinstance(owner, bool):
            raise ToolCallError(
                "parse openclaw tool call: ctx.requester.senderIsOwner must be a boolean"
            )
        out["sender_is_owner"] = owner
    roles = _strings(requester, "roleIds", "ctx.requester")
    if roles:
        out["role_ids"] = roles
    return out


def decode_openclaw(payload: Any) -> dict[str, Any]:
    """The native call of one OpenClaw tool call (see the module docstring for the payload)."""
    payload = _object(payload, "payload")
    event = _object(payload.get("event"), "event")
    ctx = _object(payload.get("ctx"), "ctx")
    raw_name = _string(event, "toolName", "event")
    if not raw_name:
        raise ToolCallError("openclaw tool call event.toolName is required")
    params = _object(event.get("params"), "event.params")
    tool = gait_tool_name(raw_name)

    auth_context: dict[str, Any] = {"adapter": ADAPTER, "tool": raw_name}
    for section, where, fields in (
        (event, "event", (("toolKind", "tool_kind"), ("toolInputKind", "tool_input_kind"))),
        (
            ctx,
            "ctx",
            (
                ("agentId", "agent_id"),
                ("sessionKey", "session_key"),
                ("sessionId", "session_id"),
                ("channelId", "channel_id"),
            ),
        ),
    ):
        for camel, snake in fields:
            value = _string(section, camel, where)
            if value:
                auth_context[snake] = value
    requester = _requester(ctx)
    if requester:
        auth_context["requester"] = requester

    agent_id = _string(ctx, "agentId", "ctx")
    context: dict[str, Any] = {"auth_context": auth_context}
    for key, value in (
        ("identity", f"openclaw:{agent_id}" if agent_id else ""),
        ("workspace", _string(payload, "workspace", "payload")),
        ("session_id", _string(ctx, "sessionKey", "ctx") or _string(ctx, "sessionId", "ctx")),
        ("request_id", _string(event, "toolCallId", "event")),
        ("run_id", _string(event, "runId", "event") or _string(ctx, "runId", "ctx")),
    ):
        if value:
            context[key] = value

    call: dict[str, Any] = {"name": tool, "args": params, "context": context}
    targets = _targets(tool, params, _strings(event, "derivedPaths", "event"))
    if targets:
        call["targets"] = targets
    return call
