"""The normalized intent's value types, their JSON forms and the intent digests (JCS)."""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, overload

import attrs

from gait.canonical import canonical_json, sha256_hex
from gait.intent_targets import ArgProvenance, Target
from gait.intent_text import MAX_SAFE_INT, json_int
from gait.timefmt import GoTime

if TYPE_CHECKING:
    from gait.intent_sections import AgentIdentity, Delegation, Sandbox, Script, SkillProvenance

# --------------------------------------------------------------------------------------------
# Normalized value types
# --------------------------------------------------------------------------------------------


# RFC 8785 bytes without the generic walk of `gait.canonical.canonical_json`. For values made
# only of strings, bools, None, ints within +-(2**53 - 1), lists and dicts whose keys have no
# character above U+FFFF, JCS is exactly what this encoder prints (the same fast path that
# `canonical_json` takes after its own domain check). Normalized intents are checked with
# `fast_domain` and fall back to `canonical_json` for anything else (e.g. fractional numbers).
_jcs_encoder: Final = json.JSONEncoder(
    ensure_ascii=False,
    separators=(",", ":"),
    sort_keys=True,
    allow_nan=False,
    check_circular=False,  # every payload is a fresh tree
)


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# The C encoder behind `_jcs_encoder`, built once (JSONEncoder.encode builds one per call).
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_c_encode: Any = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(
        None, _not_serializable, json.encoder.encode_basestring, None, ":", ",", True, False, False
    )
)


def fast_domain(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-MAX_SAFE_INT <= value <= MAX_SAFE_INT)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and max(key) > "\uffff"):
                return False
            if not fast_domain(item):
                return False
        return True
    if kind is list or kind is tuple:
        return all(map(fast_domain, value))
    return False


def jcs(value: Any, checked: bool) -> bytes:
    """Canonical JSON of `value`; `checked` says `value` is known to be in the fast domain."""
    if checked:
        try:
            if _c_encode is not None:
                return "".join(_c_encode(value, 0)).encode("utf-8")
            return _jcs_encoder.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            pass
    return canonical_json(value)


# Context strings that are only trimmed, in Go's field order.
_CONTEXT_PLAIN_STRINGS: Final = (
    "agent_id",
    "run_id",
    "workflow_id",
    "repo",
    "environment",
    "job_id",
    "session_id",
    "request_id",
    "credential_ref",
    "credential_issuer",
    "credential_subject",
    "credential_owner",
    "credential_target_binding",
    "credential_run_binding",
    "credential_job_binding",
    "approval_ref",
    "wrkr_inventory_ref",
    "agent_action_bom_ref",
    "environment_fingerprint",
)
CONTEXT_PLAIN_STRING_SET: Final = frozenset(_CONTEXT_PLAIN_STRINGS)
CONTEXT_OPTIONAL_STRINGS: Final = (
    *_CONTEXT_PLAIN_STRINGS,
    "credential_source",
    "credential_access_type",
    "context_set_digest",
    "context_evidence_mode",
)


@attrs.frozen
class Context:
    identity: str
    workspace: str
    risk_class: str
    phase: str = "apply"
    agent_id: str = ""
    run_id: str = ""
    workflow_id: str = ""
    repo: str = ""
    environment: str = ""
    job_id: str = ""
    session_id: str = ""
    request_id: str = ""
    credential_ref: str = ""
    credential_issuer: str = ""
    credential_subject: str = ""
    credential_owner: str = ""
    credential_target_binding: str = ""
    credential_run_binding: str = ""
    credential_job_binding: str = ""
    approval_ref: str = ""
    wrkr_inventory_ref: str = ""
    agent_action_bom_ref: str = ""
    environment_fingerprint: str = ""
    credential_source: str = ""
    credential_access_type: str = ""
    context_set_digest: str = ""
    context_evidence_mode: str = ""
    credential_ttl_seconds: int = 0
    credential_scopes: tuple[str, ...] = ()
    context_refs: tuple[str, ...] = ()
    auth_context: dict[str, Any] | None = None
    agent_identity: AgentIdentity | None = None
    sandbox: Sandbox | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "identity": self.identity,
            "workspace": self.workspace,
            "risk_class": self.risk_class,
        }
        if self.phase:
            out["phase"] = self.phase
        for name in CONTEXT_OPTIONAL_STRINGS:
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.credential_ttl_seconds:
            out["credential_ttl_seconds"] = json_int(self.credential_ttl_seconds)
        if self.credential_scopes:
            out["credential_scopes"] = list(self.credential_scopes)
        if self.context_refs:
            out["context_refs"] = list(self.context_refs)
        if self.auth_context:
            out["auth_context"] = self.auth_context
        if self.agent_identity is not None:
            out["agent_identity"] = self.agent_identity.to_json()
        if self.sandbox is not None:
            out["sandbox"] = self.sandbox.to_json()
        return out


_T = TypeVar("_T")


class _cached(Generic[_T]):
    """`functools.cached_property` without the per-access lock of Python 3.11.

    A non-data descriptor: the first access stores the value in the instance `__dict__`, which
    then shadows the descriptor, so later reads are plain attribute lookups.
    """

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _cached[_T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> _T | _cached[_T]:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.name] = value
        return value


@attrs.frozen(slots=False)
class NormalizedIntent:
    """A normalized intent. Treat `args` and the other dicts as read-only.

    `args_digest`, `intent_digest` and `canonical_bytes` are computed on first use and cached.
    """

    tool_name: str
    args: dict[str, Any]
    targets: tuple[Target, ...]
    arg_provenance: tuple[ArgProvenance, ...]
    skill_provenance: SkillProvenance | None
    delegation: Delegation | None
    script: Script | None
    script_hash: str
    context: Context
    created_at: GoTime | None = None
    producer_version: str = ""
    relationship: dict[str, Any] | None = None

    def digest_payload(self) -> dict[str, Any]:
        """The JSON object whose RFC 8785 form is hashed into `intent_digest` (spec §2.4)."""
        out: dict[str, Any] = {
            "tool_name": self.tool_name,
            "args": self.args,
            "targets": [target.to_json() for target in self.targets],
            "context": self.context.to_json(),
        }
        if self.script is not None:
            out["script_hash"] = self.script_hash
            out["script"] = self.script.to_json()
        if self.arg_provenance:
            out["arg_provenance"] = [entry.to_json() for entry in self.arg_provenance]
        if self.skill_provenance is not None:
            out["skill_provenance"] = self.skill_provenance.to_json()
        if self.delegation is not None:
            out["delegation"] = self.delegation.to_json()
        return out

    @_cached
    def _args_in_fast_domain(self) -> bool:
        return fast_domain(self.args)

    @_cached
    def canonical_bytes(self) -> bytes:
        """RFC 8785 bytes of `digest_payload()` (Go `NormalizedIntentBytes`)."""
        context = self.context
        auth = context.auth_context
        sandbox = context.sandbox
        fast = (
            self._args_in_fast_domain
            # the only numbers outside args: int64s that may need float64 formatting
            and -MAX_SAFE_INT <= context.credential_ttl_seconds <= MAX_SAFE_INT
            and (sandbox is None or -MAX_SAFE_INT <= sandbox.timeout_seconds <= MAX_SAFE_INT)
            and (auth is None or fast_domain(auth))
            and (self.script is None or all(fast_domain(s.args) for s in self.script.steps))
        )
        return jcs(self.digest_payload(), fast)

    @_cached
    def intent_digest(self) -> str:
        return sha256_hex(self.canonical_bytes)

    @_cached
    def args_digest(self) -> str:
        return sha256_hex(jcs(self.args, self._args_in_fast_domain))

    @property
    def is_destructive(self) -> bool:
        return any(target.destructive for target in self.targets)

    @property
    def is_script(self) -> bool:
        return self.script is not None
