"""The optional sections of an intent request: script, skill provenance, delegation, and the
context's agent identity and sandbox.

`gait.intent` imports this module only for an intent that has one of them: building these attrs
classes costs start-up time, and `gait gate eval` runs once per tool call. The names stay
importable from `gait.intent`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

from gait.gostrings import go_lower, go_trim_lower, go_trim_space
from gait.intent_targets import ArgProvenance, Target
from gait.intent_text import (
    IntentError,
    enum_value,
    get_norm,
    get_trim,
    is_hex64,
    json_int,
    unique_sorted,
)
from gait.intent_values import (
    looks_like_secret,
    normalize_args,
    normalize_provenance,
    normalize_targets,
)
from gait.timefmt import ZERO_TIME_TEXT, GoTime

MAX_SCRIPT_STEPS: Final = 64
_SANDBOX_NETWORK_MODES: Final = frozenset({"disabled", "egress_allowlist", "full"})
_SANDBOX_ENV_EXPOSURE_MODES: Final = frozenset({"allowlist", "full", "none"})
_SANDBOX_FILESYSTEM_ISOLATIONS: Final = frozenset({"container", "none", "workspace"})
_SANDBOX_USER_MODES: Final = frozenset({"default", "root", "unprivileged"})


def _time_text(value: GoTime | None) -> str:
    return ZERO_TIME_TEXT if value is None else value.format()


def _go_clean_path(path: str) -> str:
    """Go `path.Clean` (what `filepath.Clean` does on Unix)."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(segment)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


@attrs.frozen
class SkillProvenance:
    skill_name: str
    source: str
    publisher: str
    skill_version: str = ""
    digest: str = ""
    signature_key_id: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {"skill_name": self.skill_name, "source": self.source, "publisher": self.publisher}
        if self.skill_version:
            out["skill_version"] = self.skill_version
        if self.digest:
            out["digest"] = self.digest
        if self.signature_key_id:
            out["signature_key_id"] = self.signature_key_id
        return out


@attrs.frozen
class DelegationLink:
    """One hop of `delegation.chain`. A time of `None` is Go's zero time."""

    delegator_identity: str
    delegate_identity: str
    scope_class: str = ""
    token_ref: str = ""
    issued_at: GoTime | None = None
    expires_at: GoTime | None = None

    def to_json(self) -> dict[str, Any]:
        out = {
            "delegator_identity": self.delegator_identity,
            "delegate_identity": self.delegate_identity,
            # time.Time is a struct, so `omitempty` never drops it (spec §1).
            "issued_at": _time_text(self.issued_at),
            "expires_at": _time_text(self.expires_at),
        }
        if self.scope_class:
            out["scope_class"] = self.scope_class
        if self.token_ref:
            out["token_ref"] = self.token_ref
        return out


@attrs.frozen
class Delegation:
    requester_identity: str
    scope_class: str = ""
    token_refs: tuple[str, ...] = ()
    chain: tuple[DelegationLink, ...] = ()
    issued_at: GoTime | None = None
    expires_at: GoTime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requester_identity": self.requester_identity,
            "issued_at": _time_text(self.issued_at),
            "expires_at": _time_text(self.expires_at),
        }
        if self.scope_class:
            out["scope_class"] = self.scope_class
        if self.token_refs:
            out["token_refs"] = list(self.token_refs)
        if self.chain:
            out["chain"] = [link.to_json() for link in self.chain]
        return out


@attrs.frozen
class AgentIdentity:
    lifecycle_states: tuple[str, ...] = ()
    owner: str = ""
    manifest_digest: str = ""
    publisher: str = ""
    source: str = ""
    issued_at: GoTime | None = None
    approved_at: GoTime | None = None
    expires_at: GoTime | None = None
    revoked: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "issued_at": _time_text(self.issued_at),
            "approved_at": _time_text(self.approved_at),
            "expires_at": _time_text(self.expires_at),
        }
        if self.lifecycle_states:
            out["lifecycle_states"] = list(self.lifecycle_states)
        if self.owner:
            out["owner"] = self.owner
        if self.manifest_digest:
            out["manifest_digest"] = self.manifest_digest
        if self.publisher:
            out["publisher"] = self.publisher
        if self.source:
            out["source"] = self.source
        if self.revoked:
            out["revoked"] = True
        return out


@attrs.frozen
class Sandbox:
    network_mode: str = ""
    writable_paths: tuple[str, ...] = ()
    read_only_roots: tuple[str, ...] = ()
    env_exposure_mode: str = ""
    timeout_seconds: int = 0
    filesystem_isolation: str = ""
    user_mode: str = ""
    evidence_ref: str = ""
    evidence_digest: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.network_mode:
            out["network_mode"] = self.network_mode
        if self.writable_paths:
            out["writable_paths"] = list(self.writable_paths)
        if self.read_only_roots:
            out["read_only_roots"] = list(self.read_only_roots)
        if self.env_exposure_mode:
            out["env_exposure_mode"] = self.env_exposure_mode
        if self.timeout_seconds:
            out["timeout_seconds"] = json_int(self.timeout_seconds)
        if self.filesystem_isolation:
            out["filesystem_isolation"] = self.filesystem_isolation
        if self.user_mode:
            out["user_mode"] = self.user_mode
        if self.evidence_ref:
            out["evidence_ref"] = self.evidence_ref
        if self.evidence_digest:
            out["evidence_digest"] = self.evidence_digest
        return out


@attrs.frozen
class ScriptStep:
    tool_name: str
    args: dict[str, Any]
    targets: tuple[Target, ...] = ()
    arg_provenance: tuple[ArgProvenance, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tool_name": self.tool_name, "args": self.args}
        if self.targets:
            out["targets"] = [target.to_json() for target in self.targets]
        if self.arg_provenance:
            out["arg_provenance"] = [entry.to_json() for entry in self.arg_provenance]
        return out


@attrs.frozen
class Script:
    steps: tuple[ScriptStep, ...]

    def to_json(self) -> dict[str, Any]:
        return {"steps": [step.to_json() for step in self.steps]}


# ---- script ------------------------------------------------------------------------------------


def normalize_script(raw: Mapping[str, Any]) -> Script:
    steps_in = raw.get("steps") or []
    if not steps_in:
        raise IntentError("script.steps must not be empty")
    if len(steps_in) > MAX_SCRIPT_STEPS:
        raise IntentError(f"script.steps exceeds max supported steps ({MAX_SCRIPT_STEPS})")
    steps: list[ScriptStep] = []
    for index, step in enumerate(steps_in):
        tool_name = go_trim_lower(step.get("tool_name", ""))
        if not tool_name:
            raise IntentError(f"script.steps[{index}].tool_name is required")
        args = normalize_args(step.get("args"), f"normalize script.steps[{index}].args")
        try:
            targets = normalize_targets(tool_name, step.get("targets"))
        except IntentError as exc:
            raise IntentError(f"normalize script.steps[{index}].targets: {exc}") from None
        try:
            provenance = normalize_provenance(step.get("arg_provenance"))
        except IntentError as exc:
            raise IntentError(f"normalize script.steps[{index}].arg_provenance: {exc}") from None
        steps.append(ScriptStep(tool_name, args, targets, provenance))
    return Script(tuple(steps))


# ---- skill provenance and delegation -----------------------------------------------------------


def normalize_skill_provenance(raw: Mapping[str, Any]) -> SkillProvenance:
    skill_name = get_trim(raw, "skill_name")
    source = get_norm(raw, "source")
    publisher = get_trim(raw, "publisher")
    if not skill_name or not source or not publisher:
        raise IntentError("skill provenance requires skill_name, source, and publisher")
    skill_digest = get_norm(raw, "digest")
    if skill_digest and not is_hex64(skill_digest):
        raise IntentError(f"invalid skill provenance digest: {skill_digest}")
    return SkillProvenance(
        skill_name,
        source,
        publisher,
        get_trim(raw, "skill_version"),
        skill_digest,
        get_trim(raw, "signature_key_id"),
    )


def _utc(value: GoTime | None) -> GoTime | None:
    return None if value is None else value.utc()


def _after(later: GoTime, earlier: GoTime) -> bool:
    """`later.After(earlier)` for two times already in UTC."""
    return (later.moment, later.nanos) > (earlier.moment, earlier.nanos)


def normalize_delegation(raw: Mapping[str, Any]) -> Delegation:
    requester = get_trim(raw, "requester_identity")
    if not requester:
        raise IntentError("delegation.requester_identity is required")
    scope_class = get_norm(raw, "scope_class")
    token_refs = unique_sorted(raw.get("token_refs") or ())
    chain: list[DelegationLink] = []
    for index, link in enumerate(raw.get("chain") or ()):
        delegator = go_trim_space(link.get("delegator_identity", ""))
        delegate = go_trim_space(link.get("delegate_identity", ""))
        if not delegator or not delegate:
            raise IntentError(
                f"delegation.chain[{index}] requires delegator_identity and delegate_identity"
            )
        if index > 0 and chain[index - 1].delegate_identity != delegator:
            raise IntentError(
                f"delegation.chain[{index}] delegator_identity must match "
                f"delegation.chain[{index - 1}].delegate_identity"
            )
        issued_at = _utc(link.get("issued_at"))
        expires_at = _utc(link.get("expires_at"))
        if issued_at is not None and expires_at is not None and not _after(expires_at, issued_at):
            raise IntentError(f"delegation.chain[{index}] expires_at must be after issued_at")
        chain.append(
            DelegationLink(
                delegator,
                delegate,
                go_trim_lower(link.get("scope_class", "")),
                go_trim_space(link.get("token_ref", "")),
                issued_at,
                expires_at,
            )
        )
    issued_at = _utc(raw.get("issued_at"))
    expires_at = _utc(raw.get("expires_at"))
    if issued_at is not None and expires_at is not None and not _after(expires_at, issued_at):
        raise IntentError("delegation.expires_at must be after issued_at")
    if chain and chain[-1].delegate_identity != requester:
        raise IntentError(
            "delegation.chain last delegate_identity must match delegation.requester_identity"
        )
    return Delegation(requester, scope_class, token_refs, tuple(chain), issued_at, expires_at)


# ---- context: sandbox and agent identity -------------------------------------------------------

# Compiled (by `re`) on first use: only sandbox metadata is checked for it.
_ENV_ASSIGNMENT: Final = "[A-Za-z_][A-Za-z0-9_]*="
_EVIDENCE_REF_PREFIXES: Final = ("ref:", "receipt:", "proof:", "sandbox:", "sha256:")


def _reject_sandbox_string(path: str, value: str) -> None:
    trimmed = go_trim_space(value)
    if not trimmed:
        return
    if re.match(_ENV_ASSIGNMENT, trimmed) is not None:
        raise IntentError(f"{path} must not contain raw environment variable assignments")
    if not path.endswith(".evidence_ref"):
        return
    if go_lower(trimmed).startswith(_EVIDENCE_REF_PREFIXES):
        return
    if looks_like_secret(trimmed):
        raise IntentError(
            f"{path} must not contain secret-like sandbox material; "
            "use sandbox evidence refs or digests instead"
        )


def _normalize_sandbox_paths(path: str, values: list[str] | None) -> tuple[str, ...]:
    if not values:
        return ()
    seen: set[str] = set()
    for index, raw in enumerate(values):
        value = _go_clean_path(go_trim_space(raw))
        if value in (".", ""):
            continue
        _reject_sandbox_string(f"{path}[{index}]", value)
        seen.add(value)
    return tuple(sorted(seen))


def normalize_sandbox(raw: Mapping[str, Any]) -> Sandbox | None:
    network_mode = enum_value(
        get_norm(raw, "network_mode"),
        _SANDBOX_NETWORK_MODES,
        "context.sandbox.network_mode is unsupported",
    )
    env_exposure_mode = enum_value(
        get_norm(raw, "env_exposure_mode"),
        _SANDBOX_ENV_EXPOSURE_MODES,
        "context.sandbox.env_exposure_mode is unsupported",
    )
    filesystem_isolation = enum_value(
        get_norm(raw, "filesystem_isolation"),
        _SANDBOX_FILESYSTEM_ISOLATIONS,
        "context.sandbox.filesystem_isolation is unsupported",
    )
    user_mode = enum_value(
        get_norm(raw, "user_mode"),
        _SANDBOX_USER_MODES,
        "context.sandbox.user_mode is unsupported",
    )
    timeout_seconds: int = raw.get("timeout_seconds", 0)
    if timeout_seconds < 0:
        raise IntentError("context.sandbox.timeout_seconds must be >= 0")
    writable_paths = _normalize_sandbox_paths(
        "context.sandbox.writable_paths", raw.get("writable_paths")
    )
    read_only_roots = _normalize_sandbox_paths(
        "context.sandbox.read_only_roots", raw.get("read_only_roots")
    )
    evidence_ref = get_trim(raw, "evidence_ref")
    evidence_digest = get_norm(raw, "evidence_digest")
    if evidence_digest and not is_hex64(evidence_digest):
        raise IntentError("context.sandbox.evidence_digest must be sha256 hex")
    _reject_sandbox_string("context.sandbox.evidence_ref", evidence_ref)
    sandbox = Sandbox(
        network_mode,
        writable_paths,
        read_only_roots,
        env_exposure_mode,
        timeout_seconds,
        filesystem_isolation,
        user_mode,
        evidence_ref,
        evidence_digest,
    )
    if sandbox == _EMPTY_SANDBOX:
        return None
    return sandbox


_EMPTY_SANDBOX: Final = Sandbox()


def normalize_agent_identity(raw: Mapping[str, Any]) -> AgentIdentity:
    manifest_digest = get_norm(raw, "manifest_digest")
    if manifest_digest and not is_hex64(manifest_digest):
        raise IntentError("context.agent_identity.manifest_digest must be sha256 hex")
    issued_at = _utc(raw.get("issued_at"))
    approved_at = _utc(raw.get("approved_at"))
    expires_at = _utc(raw.get("expires_at"))
    if issued_at is not None and approved_at is not None and _after(issued_at, approved_at):
        raise IntentError("context.agent_identity.approved_at must be on or after issued_at")
    if expires_at is not None:
        if issued_at is not None and not _after(expires_at, issued_at):
            raise IntentError("context.agent_identity.expires_at must be after issued_at")
        if approved_at is not None and not _after(expires_at, approved_at):
            raise IntentError("context.agent_identity.expires_at must be after approved_at")
    return AgentIdentity(
        unique_sorted(raw.get("lifecycle_states") or ()),
        get_trim(raw, "owner"),
        manifest_digest,
        get_trim(raw, "publisher"),
        get_norm(raw, "source"),
        issued_at,
        approved_at,
        expires_at,
        raw.get("revoked", False),
    )
