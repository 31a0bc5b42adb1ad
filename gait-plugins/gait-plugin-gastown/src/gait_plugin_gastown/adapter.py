"""The `gastown` adapter: a Claude Code PreToolUse event plus the identity Gas Town gives its
worker, as a native Gait tool call.

The payload is the hook event exactly as Claude Code writes it on standard input, with one
optional key added by `gait gastown hook`: `gastown`, the worker's identity variables
(`identity.IDENTITY_VARIABLES`). The call is the `claude_code` adapter's, so tool names,
arguments and targets are mapped by the same code; under Gas Town (any identity variable set)
it also carries:

- `context.identity`: `BD_ACTOR`, else `GT_ROLE`, else `<rig>/polecats/<name>` or
  `<rig>/crew/<name>` from `GT_RIG` and `GT_POLECAT`/`GT_CREW`;
- `context.workspace`: the event's `cwd` (the worker's worktree), else `GT_ROOT/GT_RIG`, else
  `GT_ROOT`;
- `context.request_id`: the event's `tool_use_id`;
- `context.auth_context`: the `claude_code` keys plus `framework: gastown`, every identity
  variable given (lower-case names: `gt_role`, `gt_rig`, ...) and the event's
  `permission_mode`.

Without any identity variable the call is exactly the `claude_code` adapter's, so a hook
outside Gas Town decides as `gait mcp proxy --adapter claude_code` does.
"""

from __future__ import annotations

import posixpath
from typing import Any

from gait.gostrings import go_trim_space
from gait.mcp.toolcall import ToolCallError, decode_claude_code, decode_mcp, string_field
from gait_plugin_gastown.identity import IDENTITY_KEY, IDENTITY_VARIABLES

ADAPTER_NAME = "gastown"


def decode_gastown(payload: Any) -> dict[str, Any]:
    """The native call of a Claude Code hook event with its `gastown` identity block."""
    call = decode_claude_code(payload)
    block = _identity_block(payload.get(IDENTITY_KEY))
    if not block:
        return call
    context = dict(call.get("context") or {})
    identity = block.get("bd_actor") or block.get("gt_role") or _role_path(block)
    if identity:
        context["identity"] = identity
    workspace = _string(payload, "cwd") or _rig_directory(block)
    if workspace:
        context["workspace"] = workspace
    tool_use_id = _string(payload, "tool_use_id")
    if tool_use_id:
        context["request_id"] = tool_use_id
    auth_context = dict(context.get("auth_context") or {})
    auth_context.update(block)
    auth_context["framework"] = ADAPTER_NAME
    permission_mode = _string(payload, "permission_mode")
    if permission_mode:
        auth_context["permission_mode"] = permission_mode
    context["auth_context"] = auth_context
    call["context"] = context
    return call


def decode_checked(payload: Any) -> dict[str, Any]:
    """What `gait mcp proxy|serve --adapter gastown` decodes: a plugin adapter's call is
    type-checked as a native `mcp` call (`gait.mcp.toolcall.resolve_decoder`)."""
    return decode_mcp(decode_gastown(payload))


def _identity_block(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ToolCallError(f"parse gastown tool call: {IDENTITY_KEY} must be an object")
    block: dict[str, str] = {}
    for _, key in IDENTITY_VARIABLES:
        item = value.get(key)
        if item is None:
            continue
        if not isinstance(item, str):
            raise ToolCallError(f"parse gastown tool call: {IDENTITY_KEY}.{key} must be a string")
        trimmed = go_trim_space(item)
        if trimmed:
            block[key] = trimmed
    return block


def _string(payload: dict[str, Any], key: str) -> str:
    # decode_claude_code has checked that the payload is an object
    return go_trim_space(string_field(payload, key, ADAPTER_NAME))


def _role_path(block: dict[str, str]) -> str:
    rig = block.get("gt_rig", "")
    if rig and block.get("gt_polecat"):
        return f"{rig}/polecats/{block['gt_polecat']}"
    if rig and block.get("gt_crew"):
        return f"{rig}/crew/{block['gt_crew']}"
    return ""


def _rig_directory(block: dict[str, str]) -> str:
    root = block.get("gt_root", "")
    if root and block.get("gt_rig"):
        return posixpath.join(root, block["gt_rig"])
    return root
