"""Tool calls: the built-in adapters (integrations.md §1.3) and the native call to intent mapping
(§1.4).

An adapter turns one framework's payload (already decoded JSON) into the *native* call, the
`ToolCall` object of §1.2 as a plain dict with its types checked. `call_intent` turns a native
call into a raw `gait.gate.intent_request`, which the gate normalizes like any other intent.
Third-party adapters (`gait_bridge` records of kind `adapter`) produce native calls too, so the
mapping and everything after it is shared.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from gait.errors import InvalidInputError
from gait.gostrings import go_lower, go_trim_space
from gait.timefmt import GoTime

Decoder = Callable[[Any], dict[str, Any]]

DEFAULT_ADAPTER: Final = "mcp"
INTENT_PRODUCER_VERSION: Final = "0.0.0-dev"
ZERO_CREATED_AT: Final = "1980-01-01T00:00:00Z"
DEFAULT_IDENTITY: Final = "mcp-proxy"
DEFAULT_WORKSPACE: Final = "."
DEFAULT_RISK_CLASS: Final = "high"


class ToolCallError(InvalidInputError):
    """A payload the adapter cannot decode, or a call that cannot become an intent."""


# ---- checking the native call's shape (Go decodes it into typed structs) -----------------------

_STR, _BOOL, _OBJ, _STRS = "a string", "a boolean", "an object", "a list of strings"

_TARGET: Final[dict[str, Any]] = {
    **dict.fromkeys(
        ("kind", "value", "operation", "sensitivity", "discovery_method", "discoveryMethod"), _STR
    ),
    **dict.fromkeys(
        (
            "read_only_hint",
            "readOnlyHint",
            "destructive_hint",
            "destructiveHint",
            "idempotent_hint",
            "idempotentHint",
            "open_world_hint",
            "openWorldHint",
        ),
        _BOOL,
    ),
    "annotations": _OBJ,
}
_PROVENANCE: Final = dict.fromkeys(("arg_path", "source", "source_ref", "integrity_digest"), _STR)
_OAUTH: Final[dict[str, Any]] = {
    **dict.fromkeys(
        (
            "issuer",
            "subject",
            "client_id",
            "token_type",
            "dcr_client_id",
            "redirect_uri",
            "token_binding",
            "auth_time",
            "evidence_ref",
        ),
        _STR,
    ),
    "audience": _STRS,
    "scopes": _STRS,
}
_CONTEXT: Final[dict[str, Any]] = {
    **dict.fromkeys(
        (
            "identity",
            "workspace",
            "risk_class",
            "phase",
            "job_id",
            "session_id",
            "request_id",
            "run_id",
            "auth_mode",
            "environment_fingerprint",
            "context_envelope_path",
        ),
        _STR,
    ),
    "oauth_evidence": ("struct", _OAUTH),
    "auth_context": _OBJ,
    "credential_scopes": _STRS,
}
_LINK: Final = dict.fromkeys(
    ("delegator_identity", "delegate_identity", "scope_class", "token_ref"), _STR
)
_DELEGATION: Final[dict[str, Any]] = {
    "requester_identity": _STR,
    "scope_class": _STR,
    "token_refs": _STRS,
    "chain": ("list", _LINK),
}
_STEP: Final[dict[str, Any]] = {
    "name": _STR,
    "args": _OBJ,
    "targets": ("list", _TARGET),
    "arg_provenance": ("list", _PROVENANCE),
}
_SERVER: Final = dict.fromkeys(
    ("server_id", "server_name", "publisher", "source", "endpoint"), _STR
)
TOOL_CALL: Final[dict[str, Any]] = {
    "name": _STR,
    "args": _OBJ,
    "script": ("struct", {"steps": ("list", _STEP)}),
    "target": _STR,
    "targets": ("list", _TARGET),
    "arg_provenance": ("list", _PROVENANCE),
    "server": ("struct", _SERVER),
    "context": ("struct", _CONTEXT),
    "delegation": ("struct", _DELEGATION),
    "created_at": _STR,
}


def _checked(value: Any, shape: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The known fields of `value` with their types checked; unknown keys and nulls dropped."""
    if not isinstance(value, dict):
        raise ToolCallError(f"{path or 'payload'} must be an object")
    out: dict[str, Any] = {}
    for key, kind in shape.items():
        item = value.get(key)
        if item is None:
            continue
        if kind == _STR:
            if not isinstance(item, str):
                raise ToolCallError(f"{_where(path, key)} must be {kind}")
        elif kind == _BOOL:
            if not isinstance(item, bool):
                raise ToolCallError(f"{_where(path, key)} must be {kind}")
        elif kind == _OBJ:
            if not isinstance(item, dict):
                raise ToolCallError(f"{_where(path, key)} must be {kind}")
        elif kind == _STRS:
            if not isinstance(item, list) or not all(isinstance(s, str) for s in item):
                raise ToolCallError(f"{_where(path, key)} must be {kind}")
        elif kind[0] == "struct":
            item = _checked(item, kind[1], _where(path, key))
        else:  # list of structs
            where = _where(path, key)
            if not isinstance(item, list):
                raise ToolCallError(f"{where} must be a list")
            item = [_checked(entry, kind[1], f"{where}[{i}]") for i, entry in enumerate(item)]
        out[key] = item
    return out


def _where(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _parse(adapter: str, decode: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return decode()
    except ToolCallError as exc:
        raise ToolCallError(f"parse {adapter} tool call: {exc}") from None


# ---- adapters -----------------------------------------------------------------------------------


def decode_mcp(payload: Any) -> dict[str, Any]:
    """The native `ToolCall` (§1.2): every section, unknown keys ignored."""
    call = _parse("mcp", lambda: _checked(payload, TOOL_CALL, ""))
    created_at = call.get("created_at", "")
    if created_at:
        try:
            GoTime.parse(created_at)
        except ValueError:
            raise ToolCallError(
                f"parse mcp tool call: created_at must be RFC3339, got {created_at!r}"
            ) from None
    return call


def _object_arguments(value: Any, what: str) -> dict[str, Any]:
    """A JSON string (parsed; blank is `{}`), an object, or null; anything else is an error."""
    if value is None:
        return {}
    if isinstance(value, str):
        if not value.strip():
            return {}
        from gait.intent import parse_intent_json

        try:
            return parse_intent_json(value.encode("utf-8"), what="arguments", go_type="map")
        except InvalidInputError as exc:
            raise ToolCallError(f"decode {what}: {exc}") from None
    if isinstance(value, dict):
        return value
    raise ToolCallError(f"decode {what}: expected a JSON object, got {_json_kind(value)}")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else type(value).__name__


def string_field(payload: Mapping[str, Any], key: str, adapter: str) -> str:
    """`payload[key]` when it is a string, "" when absent or null; an adapter's error otherwise."""
    value = payload.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ToolCallError(f"parse {adapter} tool call: {key} must be a string")
    return value


def _require_object(payload: Any, adapter: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ToolCallError(f"parse {adapter} tool call: payload must be an object")
    return payload


def decode_openai(payload: Any) -> dict[str, Any]:
    """`{"function": {"name", "arguments": string | object | null}}`; `type` is ignored."""
    function = _require_object(payload, "openai").get("function")
    if function is None:
        function = {}
    if not isinstance(function, dict):
        raise ToolCallError("parse openai tool call: function must be an object")
    return {
        "name": string_field(function, "name", "openai"),
        "args": _object_arguments(function.get("arguments"), "openai arguments"),
    }


def decode_anthropic(payload: Any) -> dict[str, Any]:
    """`{"type", "name", "input": {...}}`; `type` is not checked."""
    payload = _require_object(payload, "anthropic")
    arguments = payload.get("input")
    if arguments is not None and not isinstance(arguments, dict):
        raise ToolCallError("parse anthropic tool call: input must be an object")
    return {"name": string_field(payload, "name", "anthropic"), "args": arguments or {}}


def decode_langchain(payload: Any) -> dict[str, Any]:
    """`{"tool", "tool_input": object | JSON string | null}`."""
    payload = _require_object(payload, "langchain")
    return {
        "name": string_field(payload, "tool", "langchain"),
        "args": _object_arguments(payload.get("tool_input"), "langchain tool_input"),
    }


_CLAUDE_TOOLS: Final = {
    **dict.fromkeys(("read", "grep", "glob", "webfetch", "websearch"), "tool.read"),
    **dict.fromkeys(("write", "edit", "notebookedit"), "tool.write"),
    "bash": "tool.exec",
    "task": "tool.delegate",
}


def shared_tool_name(raw: str, core_tools: Mapping[str, str]) -> str:
    """A host's tool name to Gait's: one of the host's core tools by `core_tools` (keyed by the
    name lower-cased without spaces, `_` and `-`, so `Web Fetch`, `web_fetch` and `WebFetch`
    agree), a dotted name lower-cased as is, any other `tool.<name>` with spaces and hyphens as
    underscores. Hosts mapping to the same shared names let one policy serve them all."""
    name = go_trim_space(raw)
    canonical = re.sub(r"[ _-]", "", go_lower(name))
    if canonical in core_tools:
        return core_tools[canonical]
    if "." in name:
        return go_lower(name)
    return "tool." + re.sub(r"[ -]", "_", go_lower(name))


def claude_tool_name(raw: str) -> str:
    """Claude Code's tool names to Gait's (`Bash` -> `tool.exec`, `Custom Action` ->
    `tool.custom_action`, a dotted name lower-cased as is)."""
    return shared_tool_name(raw, _CLAUDE_TOOLS)


def first_string(arguments: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    """The first of `keys` whose value is a non-blank string, trimmed; "" if none is."""
    for key in keys:
        value = arguments.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _claude_targets(tool_name: str, arguments: Mapping[str, Any]) -> list[dict[str, Any]]:
    path = first_string(arguments, ("path", "file_path", "filepath", "file"))
    if tool_name == "tool.read":
        url = first_string(arguments, ("url", "uri"))
        targets = [{"kind": "path", "value": path, "operation": "read"}] if path else []
        if url:
            targets.append({"kind": "url", "value": url, "operation": "read"})
        return targets
    if tool_name == "tool.write":
        return [{"kind": "path", "value": path, "operation": "write"}] if path else []
    if tool_name == "tool.exec":
        command = first_string(arguments, ("command", "cmd", "script"))
        return [{"kind": "other", "value": command, "operation": "execute"}] if command else []
    if tool_name == "tool.delegate":
        task = first_string(arguments, ("task", "prompt", "description"))
        return [{"kind": "other", "value": task, "operation": "delegate"}] if task else []
    return []


def decode_claude_code(payload: Any) -> dict[str, Any]:
    """A Claude Code hook event: `tool_name`|`name`, `tool_input`|`input`, `session_id`,
    `hook_event_name`."""
    payload = _require_object(payload, "claude code")
    raw_name = string_field(payload, "tool_name", "claude code") or string_field(
        payload, "name", "claude code"
    )
    if not raw_name.strip():
        raise ToolCallError("claude code tool call name is required")
    raw_input = payload.get("tool_input")
    if raw_input is None:
        raw_input = payload.get("input")
    arguments = _object_arguments(raw_input, "claude code tool_input")
    name = claude_tool_name(raw_name)
    context: dict[str, Any] = {}
    session_id = string_field(payload, "session_id", "claude code")
    if session_id:
        context["session_id"] = session_id
    hook_event = string_field(payload, "hook_event_name", "claude code")
    if hook_event:
        context["auth_context"] = {"hook_event_name": hook_event, "adapter": "claude_code"}
    call: dict[str, Any] = {"name": name, "args": arguments}
    targets = _claude_targets(name, arguments)
    if targets:
        call["targets"] = targets
    if context:
        call["context"] = context
    return call


# name -> (decoder, description). Aliases are adapters of their own name with the same decoder.
BUILTIN_ADAPTERS: Final[dict[str, tuple[Decoder, str]]] = {
    "mcp": (decode_mcp, "the native Gait MCP tool call"),
    "openai": (decode_openai, "an OpenAI function call"),
    "anthropic": (decode_anthropic, "an Anthropic tool_use block"),
    "langchain": (decode_langchain, "a LangChain tool call"),
    "claude_code": (decode_claude_code, "a Claude Code PreToolUse hook event"),
    "claude-code": (decode_claude_code, "alias of claude_code"),
    "claudecode": (decode_claude_code, "alias of claude_code"),
}


def adapter_name(raw: str) -> str:
    """Adapter names are trimmed and lower-cased; empty means `mcp`."""
    return go_lower(go_trim_space(raw)) or DEFAULT_ADAPTER


class AdapterSource(Protocol):
    """What `resolve_decoder` needs of `gait.plugins.PluginHost`, declared here so that this
    module, which the plugin host imports, does not import it back."""

    def adapter(self, name: str) -> Decoder | None: ...


def resolve_decoder(host: AdapterSource, name: str) -> Decoder:
    """The adapter called `name` (built-in or from a plugin), or `unsupported adapter: <name>`.

    A plugin's adapter returns a native call; it is checked like an `mcp` payload, so a plugin
    cannot hand the mapping a value of the wrong type.
    """
    adapter = host.adapter(name)
    if adapter is None:
        raise ToolCallError(f"unsupported adapter: {name}")
    if any(adapter is decoder for decoder, _ in BUILTIN_ADAPTERS.values()):
        return adapter
    plugin_adapter = adapter
    return lambda payload: decode_mcp(plugin_adapter(payload))


def parse_payload(data: bytes) -> dict[str, Any]:
    """A tool-call file or request: size-limited JSON whose numbers read as Go's float64."""
    from gait.intent import parse_intent_json

    return parse_intent_json(data, what="tool call", go_type="mcp.ToolCall")


# ---- native call -> intent (§1.4) ---------------------------------------------------------------

_HINTS: Final = (
    ("read_only_hint", "readOnlyHint"),
    ("destructive_hint", "destructiveHint"),
    ("idempotent_hint", "idempotentHint"),
    ("open_world_hint", "openWorldHint"),
)


def _annotation_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and go_lower(go_trim_space(value)) in ("true", "false"):
        return go_lower(go_trim_space(value)) == "true"
    return None


def _target(raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("kind", "value", "operation", "sensitivity"):
        value = go_trim_space(raw.get(key, ""))
        if value:
            out[key] = value
    hints = {snake: bool(raw.get(snake) or raw.get(camel)) for snake, camel in _HINTS}
    discovery = go_trim_space(raw.get("discovery_method", "")) or go_trim_space(
        raw.get("discoveryMethod", "")
    )
    annotations = raw.get("annotations") or {}
    for snake, camel in _HINTS:
        for key in (snake, camel):
            if key in annotations:
                flag = _annotation_bool(annotations[key])
                if flag is not None:
                    hints[snake] = flag
                break
    for key in ("discovery_method", "discoveryMethod"):
        if isinstance(annotations.get(key), str):
            discovery = go_trim_space(annotations[key])
            break
    if discovery:
        out["discovery_method"] = discovery
    out.update({key: True for key, flag in hints.items() if flag})
    return out


def _legacy_target(value: str) -> dict[str, Any]:
    kind = "url" if "://" in value else "path" if "/" in value else "host" if value else "other"
    return {"kind": kind, "value": value}


def _trimmed(raw: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        value = raw.get(key)
        if isinstance(value, str):
            value = go_trim_space(value)
            if value:
                out[key] = value
        elif isinstance(value, list):
            values = [go_trim_space(v) for v in value if go_trim_space(v)]
            if values:
                out[key] = values
    return out


def _provenance(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_trimmed(e, ("arg_path", "source", "source_ref", "integrity_digest")) for e in entries]


def _delegation(raw: Mapping[str, Any]) -> dict[str, Any]:
    out = _trimmed(raw, ("requester_identity", "scope_class", "token_refs"))
    chain = [
        _trimmed(link, ("delegator_identity", "delegate_identity", "scope_class", "token_ref"))
        for link in raw.get("chain", ())
    ]
    if chain:
        out["chain"] = chain
    return out


STRICT_FIELDS: Final = ("identity", "workspace", "session_id")


def call_intent(call: Mapping[str, Any], *, strict: bool = False) -> dict[str, Any]:
    """The raw intent of a native call (ToIntentRequestWithOptions). `strict` is the oss-prod
    profile: identity, workspace and session id must be given."""
    name = go_trim_space(call.get("name", ""))
    steps = (call.get("script") or {}).get("steps") or []
    for index, step in enumerate(steps):
        if not go_trim_space(step.get("name", "")):
            raise ToolCallError(f"script.steps[{index}].name is required")
    if not name and not steps:
        raise ToolCallError("tool call name is required")
    context = call.get("context") or {}
    if strict:
        for field in STRICT_FIELDS:
            if not go_trim_space(context.get(field, "")):
                raise ToolCallError(f"context.{field} is required in strict profile")
    targets = [_target(t) for t in call.get("targets") or ()]
    legacy = go_trim_space(call.get("target", ""))
    if not targets and legacy:
        targets = [_legacy_target(legacy)]
    intent_context: dict[str, Any] = {
        "identity": go_trim_space(context.get("identity", "")) or DEFAULT_IDENTITY,
        "workspace": go_trim_space(context.get("workspace", "")) or DEFAULT_WORKSPACE,
        "risk_class": go_trim_space(context.get("risk_class", "")) or DEFAULT_RISK_CLASS,
        **_trimmed(
            context,
            (
                "phase",
                "job_id",
                "session_id",
                "request_id",
                "credential_scopes",
                "environment_fingerprint",
            ),
        ),
    }
    auth_context = dict(context.get("auth_context") or {})
    if go_trim_space(context.get("auth_mode", "")):
        auth_context["auth_mode"] = go_trim_space(context["auth_mode"])
    if context.get("oauth_evidence"):
        auth_context["oauth_evidence"] = context["oauth_evidence"]
    if auth_context:
        intent_context["auth_context"] = auth_context
    created_at = call.get("created_at", "")
    intent: dict[str, Any] = {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": GoTime.parse(created_at).utc().format() if created_at else ZERO_CREATED_AT,
        "producer_version": INTENT_PRODUCER_VERSION,
        "tool_name": name,
        "args": call.get("args") or {},
        "targets": targets,
        "context": intent_context,
    }
    if steps:
        intent["tool_name"] = "script"
        intent["args"] = {}
        intent["script"] = {
            "steps": [
                {
                    "tool_name": go_trim_space(step["name"]),
                    "args": step.get("args") or {},
                    "targets": [_target(t) for t in step.get("targets") or ()],
                    "arg_provenance": _provenance(step.get("arg_provenance") or []),
                }
                for step in steps
            ]
        }
    if call.get("arg_provenance"):
        intent["arg_provenance"] = _provenance(call["arg_provenance"])
    if call.get("delegation"):
        intent["delegation"] = _delegation(call["delegation"])
    return intent


def fallback_context_used(call: Mapping[str, Any]) -> bool:
    """True when the standard profile filled in identity, workspace or session id."""
    context = call.get("context") or {}
    return any(not go_trim_space(context.get(field, "")) for field in STRICT_FIELDS)
