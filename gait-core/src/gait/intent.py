"""Intent requests: parsing, normalization and digests (spec gate.md §1 and §2).

The Go reference decodes an intent with `encoding/json` into typed structs and then normalizes
it (`core/gate/intent.go`). This module reproduces both steps:

1. **Decode** (`_decode_struct`): the raw mapping is read the way `json.Unmarshal` fills a Go
   struct. Object keys match field names case-insensitively, unknown keys are ignored, a JSON
   `null` leaves a string/bool/number/time field untouched but clears a pointer, map or slice, a
   key that appears twice (in two spellings) is decoded *into* the first value, and any type
   mismatch is an error. Failures raise `IntentDecodeError`.
2. **Normalize** (`normalize_intent`): every rule of spec §2.2 and §2.3, in the order Go applies
   them, so that an input with several problems reports the same first error. Failures raise
   `IntentError` with Go's message.

`NormalizedIntent.digest_payload()` is the exact JSON object Go hashes for `intent_digest`,
including Go's `omitempty` rules and its zero-time quirk (§1). Digests are computed lazily and
cached on the instance.

The optional sections (script, skill provenance, delegation, the context's agent identity and
sandbox) live in `gait.intent_sections`, imported only for an intent that has one (start-up
budget); their types stay importable from here.

String handling follows Go, not Python: `go_trim_space` is `strings.TrimSpace` (Unicode
`White_Space` minus the characters `str.strip` also removes) and `go_lower` is `strings.ToLower`
(per-rune simple lowercase mapping).
"""

from __future__ import annotations

import functools
import json
import json.encoder
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, overload

import attrs

from gait.canonical import canonical_json, sha256_hex
from gait.errors import InvalidInputError
from gait.gostrings import go_lower, go_trim_lower, go_trim_space
from gait.limits import MAX_INTENT_BYTES, MAX_JSON_DEPTH
from gait.strictjson import strict_decoder
from gait.timefmt import GoTime
from gait.vocabulary import DISCOVERY_METHODS, ENDPOINT_CLASSES

if TYPE_CHECKING:
    from gait.intent_sections import (
        AgentIdentity,
        Delegation,
        DelegationLink,
        Sandbox,
        Script,
        ScriptStep,
        SkillProvenance,
    )

__all__ = [
    "AgentIdentity",
    "ArgProvenance",
    "Context",
    "Delegation",
    "DelegationLink",
    "IntentDecodeError",
    "IntentError",
    "NormalizedIntent",
    "Sandbox",
    "Script",
    "ScriptStep",
    "SkillProvenance",
    "Target",
    "go_lower",
    "go_trim_space",
    "normalize_intent",
    "parse_intent_json",
    "prepare_for_evaluation",
    "raw_risk_class",
]

_SECTION_TYPES: Final = frozenset(
    {
        "AgentIdentity",
        "Delegation",
        "DelegationLink",
        "Sandbox",
        "Script",
        "ScriptStep",
        "SkillProvenance",
    }
)


def __getattr__(name: str) -> Any:
    if name in _SECTION_TYPES:
        from gait import intent_sections

        return getattr(intent_sections, name)
    raise AttributeError(f"module 'gait.intent' has no attribute {name!r}")


INTENT_SCHEMA_ID: Final = "gait.gate.intent_request"
INTENT_SCHEMA_VERSION: Final = "1.0.0"


class IntentError(InvalidInputError):
    """An intent that cannot be parsed or normalized. The message is Go's error text."""


class IntentDecodeError(IntentError):
    """The input is not a decodable intent document (bad JSON, wrong value type, too large).

    Go fails these while reading the file, before evaluation, so fail-closed never applies to
    them: the CLI always exits 6.
    """


# --------------------------------------------------------------------------------------------
# Optional string fields
# --------------------------------------------------------------------------------------------


def _get_norm(raw: Mapping[str, Any], key: str) -> str:
    """`go_trim_lower` of an optional decoded string field ("" when absent)."""
    value = raw.get(key)
    return go_trim_lower(value) if value else ""


def _get_trim(raw: Mapping[str, Any], key: str) -> str:
    """`go_trim_space` of an optional decoded string field ("" when absent)."""
    value = raw.get(key)
    return go_trim_space(value) if value else ""


def _fold_key(key: str) -> str:
    """The form in which Go's decoder compares an object key with an (ASCII) field name."""
    if key.isascii():
        return key.lower()
    # Only U+017F (long s) and U+212A (Kelvin sign) case-fold onto ASCII letters.
    return key.lower().replace("\u017f", "s")


def _is_hex64(text: str) -> bool:
    return len(text) == 64 and not text.strip("0123456789abcdef")


def _go_base(path: str) -> str:
    """Go `path.Base`."""
    if path == "":
        return "."
    path = path.rstrip("/")
    if path == "":
        return "/"
    return path[path.rfind("/") + 1 :]


def _unique_sorted(values: Iterable[str]) -> tuple[str, ...]:
    """Trim, drop empties, dedupe, sort (by code point, which is Go's byte order)."""
    out = {go_trim_space(value) for value in values}
    out.discard("")
    return tuple(sorted(out))


# --------------------------------------------------------------------------------------------
# Go url.Parse(...).Hostname()
# --------------------------------------------------------------------------------------------


class _URLError(Exception):
    pass


_HOST_OK: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$&'()*+,;=:[]<>\"-_.~"
)
_USERINFO_OK: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:~!$&'()*+,;=%@"
)
_HEXDIGITS: Final = frozenset("0123456789abcdefABCDEF")
_SCHEME_LETTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SCHEME_OTHER: Final = frozenset("0123456789+-.")


def _go_utf8_decode(data: bytes) -> str:
    """Decode like Go's range over a string: each invalid byte becomes one U+FFFD."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    out: list[str] = []
    index = 0
    while index < len(data):
        lead = data[index]
        if lead < 0x80:
            size = 1
        elif 0xC2 <= lead <= 0xDF:
            size = 2
        elif 0xE0 <= lead <= 0xEF:
            size = 3
        elif 0xF0 <= lead <= 0xF4:
            size = 4
        else:
            out.append("\ufffd")
            index += 1
            continue
        try:
            out.append(data[index : index + size].decode("utf-8"))
            index += size
        except UnicodeDecodeError:
            out.append("\ufffd")
            index += 1
    return "".join(out)


def _url_unescape(text: str, mode: str) -> str:
    """Go `url.unescape` for the modes "host", "zone" and "other" (path, fragment, userinfo)."""
    if "%" not in text and mode == "other":
        return text
    out = bytearray()
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == "%":
            if (
                index + 2 >= length
                or text[index + 1] not in _HEXDIGITS
                or text[index + 2] not in _HEXDIGITS
            ):
                raise _URLError("invalid URL escape")
            value = int(text[index + 1 : index + 3], 16)
            escape = text[index : index + 3]
            if mode == "host" and value < 0x80 and escape != "%25":
                raise _URLError("invalid URL escape")
            if mode == "zone" and escape != "%25" and value != 0x20 and chr(value) not in _HOST_OK:
                raise _URLError("invalid URL escape")
            out.append(value)
            index += 3
            continue
        if mode != "other" and char < "\x80" and char not in _HOST_OK:
            raise _URLError("invalid character in host name")
        out += char.encode("utf-8", "surrogatepass")
        index += 1
    return _go_utf8_decode(bytes(out))


def _valid_optional_port(port: str) -> bool:
    if port == "":
        return True
    return port[0] == ":" and all("0" <= char <= "9" for char in port[1:])


def _url_parse_host(host: str) -> str:
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            raise _URLError("missing ']' in host")
        if not _valid_optional_port(host[end + 1 :]):
            raise _URLError("invalid port after host")
        zone = host.find("%25", 0, end)
        if zone >= 0:
            return (
                _url_unescape(host[:zone], "host")
                + _url_unescape(host[zone:end], "zone")
                + _url_unescape(host[end:], "host")
            )
    else:
        colon = host.rfind(":")
        if colon != -1 and not _valid_optional_port(host[colon:]):
            raise _URLError("invalid port after host")
    return _url_unescape(host, "host")


def _url_parse_authority(authority: str) -> str:
    at = authority.rfind("@")
    if at < 0:
        return _url_parse_host(authority)
    host = _url_parse_host(authority[at + 1 :])
    userinfo = authority[:at]
    if any(char not in _USERINFO_OK for char in userinfo):
        raise _URLError("invalid userinfo")
    username, _, password = userinfo.partition(":")
    _url_unescape(username, "other")
    _url_unescape(password, "other")
    return host


def _url_hostname(raw: str) -> str:
    """Go `url.Parse(raw).Hostname()`; raises `_URLError` where `url.Parse` fails."""
    text, has_fragment, fragment = raw.partition("#")
    if any(char < " " or char == "\x7f" for char in text):
        raise _URLError("invalid control character in URL")
    host = ""
    if text != "*":
        scheme = ""
        rest = text
        for index, char in enumerate(text):
            if char in _SCHEME_LETTERS:
                continue
            if char in _SCHEME_OTHER:
                if index == 0:
                    break
                continue
            if char == ":":
                if index == 0:
                    raise _URLError("missing protocol scheme")
                scheme, rest = text[:index], text[index + 1 :]
            break
        rest = rest.partition("?")[0]
        opaque = False
        if not rest.startswith("/"):
            if scheme:
                opaque = True
            elif ":" in rest.partition("/")[0]:
                raise _URLError("first path segment in URL cannot contain colon")
        if not opaque:
            if (scheme or not rest.startswith("///")) and rest.startswith("//"):
                authority, slash, path = rest[2:].partition("/")
                host = _url_parse_authority(authority)
                rest = slash + path
            _url_unescape(rest, "other")
    if has_fragment:
        _url_unescape(fragment, "other")
    colon = host.rfind(":")
    if colon != -1 and _valid_optional_port(host[colon:]):
        host = host[:colon]
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


# --------------------------------------------------------------------------------------------
# Normalized value types
# --------------------------------------------------------------------------------------------


# RFC 8785 bytes without the generic walk of `gait.canonical.canonical_json`. For values made
# only of strings, bools, None, ints within +-(2**53 - 1), lists and dicts whose keys have no
# character above U+FFFF, JCS is exactly what this encoder prints (the same fast path that
# `canonical_json` takes after its own domain check). Normalized intents are checked with
# `_fast_domain` and fall back to `canonical_json` for anything else (e.g. fractional numbers).
_MAX_SAFE_INT: Final = 2**53 - 1
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


def _fast_domain(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_MAX_SAFE_INT <= value <= _MAX_SAFE_INT)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and max(key) > "\uffff"):
                return False
            if not _fast_domain(item):
                return False
        return True
    if kind is list or kind is tuple:
        return all(map(_fast_domain, value))
    return False


def _jcs(value: Any, checked: bool) -> bytes:
    """Canonical JSON of `value`; `checked` says `value` is known to be in the fast domain."""
    if checked:
        try:
            if _c_encode is not None:
                return "".join(_c_encode(value, 0)).encode("utf-8")
            return _jcs_encoder.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            pass
    return canonical_json(value)


def _json_int(value: int) -> int | float:
    """An int64 as Go's JCS prints it: through a float64 once it leaves the exact range."""
    return value if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT else float(value)


@attrs.frozen
class Target:
    """A normalized target. Field order is the sort order of spec §2.2."""

    kind: str
    value: str
    operation: str = ""
    sensitivity: str = ""
    endpoint_class: str = ""
    endpoint_domain: str = ""
    destructive: bool = False
    discovery_method: str = "unknown"
    read_only_hint: bool = False
    destructive_hint: bool = False
    idempotent_hint: bool = False
    open_world_hint: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "value": self.value}
        if self.operation:
            out["operation"] = self.operation
        if self.sensitivity:
            out["sensitivity"] = self.sensitivity
        if self.endpoint_class:
            out["endpoint_class"] = self.endpoint_class
        if self.endpoint_domain:
            out["endpoint_domain"] = self.endpoint_domain
        if self.destructive:
            out["destructive"] = True
        if self.discovery_method:
            out["discovery_method"] = self.discovery_method
        if self.read_only_hint:
            out["read_only_hint"] = True
        if self.destructive_hint:
            out["destructive_hint"] = True
        if self.idempotent_hint:
            out["idempotent_hint"] = True
        if self.open_world_hint:
            out["open_world_hint"] = True
        return out


_target_sort_key: Final = operator.attrgetter(*(field.name for field in attrs.fields(Target)))


@attrs.frozen
class ArgProvenance:
    arg_path: str
    source: str
    source_ref: str = ""
    integrity_digest: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {"arg_path": self.arg_path, "source": self.source}
        if self.source_ref:
            out["source_ref"] = self.source_ref
        if self.integrity_digest:
            out["integrity_digest"] = self.integrity_digest
        return out


_provenance_sort_key: Final = operator.attrgetter(
    "arg_path", "source", "source_ref", "integrity_digest"
)


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
_CONTEXT_PLAIN_STRING_SET: Final = frozenset(_CONTEXT_PLAIN_STRINGS)
_CONTEXT_OPTIONAL_STRINGS: Final = (
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
        for name in _CONTEXT_OPTIONAL_STRINGS:
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.credential_ttl_seconds:
            out["credential_ttl_seconds"] = _json_int(self.credential_ttl_seconds)
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
        return _fast_domain(self.args)

    @_cached
    def canonical_bytes(self) -> bytes:
        """RFC 8785 bytes of `digest_payload()` (Go `NormalizedIntentBytes`)."""
        context = self.context
        auth = context.auth_context
        sandbox = context.sandbox
        fast = (
            self._args_in_fast_domain
            # the only numbers outside args: int64s that may need float64 formatting
            and -_MAX_SAFE_INT <= context.credential_ttl_seconds <= _MAX_SAFE_INT
            and (sandbox is None or -_MAX_SAFE_INT <= sandbox.timeout_seconds <= _MAX_SAFE_INT)
            and (auth is None or _fast_domain(auth))
            and (self.script is None or all(_fast_domain(s.args) for s in self.script.steps))
        )
        return _jcs(self.digest_payload(), fast)

    @_cached
    def intent_digest(self) -> str:
        return sha256_hex(self.canonical_bytes)

    @_cached
    def args_digest(self) -> str:
        return sha256_hex(_jcs(self.args, self._args_in_fast_domain))

    @property
    def is_destructive(self) -> bool:
        return any(target.destructive for target in self.targets)

    @property
    def is_script(self) -> bool:
        return self.script is not None


# --------------------------------------------------------------------------------------------
# JSON bytes -> raw mapping
# --------------------------------------------------------------------------------------------


class _LiteralFloat(float):
    """A JSON number written with a fraction or exponent (Go will not decode it into an int)."""

    __slots__ = ()


def _number_out_of_range(text: str) -> IntentDecodeError:
    return IntentDecodeError(f"json: cannot unmarshal number {text} into Go value of type float64")


def _parse_json_int(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _number_out_of_range(text)
    return value


def _parse_json_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _number_out_of_range(text)
    return _LiteralFloat(value)


def _reject_json_constant(text: str) -> Any:
    raise IntentDecodeError(f"invalid character '{text[0]}' looking for beginning of value")


# One reading only: duplicate and case-variant keys are refused (gait.strictjson).
_json_decoder: Final = strict_decoder(
    parse_int=_parse_json_int,
    parse_float=_parse_json_float,
    parse_constant=_reject_json_constant,
)


def _check_depth(value: Any, limit: int, what: str = "intent") -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise IntentDecodeError(f"{what} exceeds maximum JSON nesting depth ({limit})")
        children = item.values() if type(item) is dict else item
        for child in children:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))


def parse_intent_json(
    data: bytes, *, what: str = "intent", go_type: str = "gate.IntentRequest"
) -> dict[str, Any]:
    """Untrusted bytes to a raw intent mapping, or `IntentDecodeError`.

    Enforces `MAX_INTENT_BYTES`, strict UTF-8 and `MAX_JSON_DEPTH`; rejects NaN and Infinity,
    numbers outside float64, and duplicate or case-variant keys at any depth. Every number
    becomes a float, as in Go (`1` -> `1.0`). `what` and `go_type` name the document in
    messages (tool calls are read the same way).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise IntentDecodeError(f"{what} must be JSON bytes")
    if len(data) > MAX_INTENT_BYTES:
        raise IntentDecodeError(f"{what} exceeds maximum size ({MAX_INTENT_BYTES} bytes)")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntentDecodeError(f"{what} is not valid UTF-8: {exc.reason}") from None
    try:
        value = _json_decoder.decode(text)
    except IntentDecodeError:
        raise
    except json.JSONDecodeError as exc:
        raise IntentDecodeError(f"parse {what} json: {exc.msg} (offset {exc.pos})") from None
    except RecursionError:
        raise IntentDecodeError(
            f"{what} exceeds maximum JSON nesting depth ({MAX_JSON_DEPTH})"
        ) from None
    except (ValueError, OverflowError) as exc:
        raise IntentDecodeError(f"parse {what} json: {exc}") from None
    if type(value) is not dict:
        raise IntentDecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go value of type {go_type}"
        )
    _check_depth(value, MAX_JSON_DEPTH, what)
    return value


def decode_json_prefix(text: str, *, what: str) -> tuple[Any, int]:
    """The first JSON value of `text` read as Go reads it into `any` (every number a float64,
    no NaN or Infinity, at most `MAX_JSON_DEPTH` deep) and the offset just after it, for a
    caller that rejects trailing data itself. Raises `IntentDecodeError`."""
    start = len(text) - len(text.lstrip(" \t\n\r"))
    try:
        value, end = _json_decoder.raw_decode(text, start)
    except IntentDecodeError:
        raise
    except json.JSONDecodeError as exc:
        raise IntentDecodeError(f"{exc.msg} (offset {exc.pos})") from None
    except RecursionError:
        raise IntentDecodeError(
            f"{what} exceeds maximum JSON nesting depth ({MAX_JSON_DEPTH})"
        ) from None
    except (ValueError, OverflowError) as exc:
        raise IntentDecodeError(str(exc)) from None
    if type(value) is dict or type(value) is list:
        _check_depth(value, MAX_JSON_DEPTH, what)
    return value, end


# --------------------------------------------------------------------------------------------
# Decoding a raw mapping the way json.Unmarshal fills the Go structs
# --------------------------------------------------------------------------------------------

_STR: Final = "string"
_BOOL: Final = "bool"
_INT: Final = "int64"
_TIME: Final = "time.Time"
_MAP: Final = "map[string]interface {}"
_STRS: Final = "[]string"


class _Shape:
    """The JSON fields of one Go struct: name -> kind."""

    __slots__ = ("go_name", "kinds")

    def __init__(self, go_name: str, kinds: dict[str, Any]) -> None:
        self.go_name = go_name
        self.kinds = kinds


class _Ref:
    """A nested struct field: `struct` (value), `ptr` (pointer) or `list` (slice of structs)."""

    __slots__ = ("container", "shape")

    def __init__(self, container: str, shape: _Shape) -> None:
        self.container = container
        self.shape = shape


_TARGET_SHAPE: Final = _Shape(
    "IntentTarget",
    {
        "kind": _STR,
        "value": _STR,
        "operation": _STR,
        "sensitivity": _STR,
        "endpoint_class": _STR,
        "endpoint_domain": _STR,
        "destructive": _BOOL,
        "discovery_method": _STR,
        "read_only_hint": _BOOL,
        "destructive_hint": _BOOL,
        "idempotent_hint": _BOOL,
        "open_world_hint": _BOOL,
    },
)
_PROVENANCE_SHAPE: Final = _Shape(
    "IntentArgProvenance",
    {"arg_path": _STR, "source": _STR, "source_ref": _STR, "integrity_digest": _STR},
)
_STEP_SHAPE: Final = _Shape(
    "IntentScriptStep",
    {
        "tool_name": _STR,
        "args": _MAP,
        "targets": _Ref("list", _TARGET_SHAPE),
        "arg_provenance": _Ref("list", _PROVENANCE_SHAPE),
    },
)
_SCRIPT_SHAPE: Final = _Shape("IntentScript", {"steps": _Ref("list", _STEP_SHAPE)})
_SKILL_SHAPE: Final = _Shape(
    "SkillProvenance",
    {
        "skill_name": _STR,
        "skill_version": _STR,
        "source": _STR,
        "publisher": _STR,
        "digest": _STR,
        "signature_key_id": _STR,
    },
)
_LINK_SHAPE: Final = _Shape(
    "DelegationLink",
    {
        "delegator_identity": _STR,
        "delegate_identity": _STR,
        "scope_class": _STR,
        "token_ref": _STR,
        "issued_at": _TIME,
        "expires_at": _TIME,
    },
)
_DELEGATION_SHAPE: Final = _Shape(
    "IntentDelegation",
    {
        "requester_identity": _STR,
        "scope_class": _STR,
        "token_refs": _STRS,
        "chain": _Ref("list", _LINK_SHAPE),
        "issued_at": _TIME,
        "expires_at": _TIME,
    },
)
_AGENT_IDENTITY_SHAPE: Final = _Shape(
    "AgentIdentity",
    {
        "lifecycle_states": _STRS,
        "owner": _STR,
        "manifest_digest": _STR,
        "publisher": _STR,
        "source": _STR,
        "issued_at": _TIME,
        "approved_at": _TIME,
        "expires_at": _TIME,
        "revoked": _BOOL,
    },
)
_SANDBOX_SHAPE: Final = _Shape(
    "SandboxMetadata",
    {
        "network_mode": _STR,
        "writable_paths": _STRS,
        "read_only_roots": _STRS,
        "env_exposure_mode": _STR,
        "timeout_seconds": _INT,
        "filesystem_isolation": _STR,
        "user_mode": _STR,
        "evidence_ref": _STR,
        "evidence_digest": _STR,
    },
)
_CONTEXT_SHAPE: Final = _Shape(
    "IntentContext",
    {
        "identity": _STR,
        "workspace": _STR,
        "risk_class": _STR,
        "phase": _STR,
        **dict.fromkeys(_CONTEXT_OPTIONAL_STRINGS, _STR),
        "credential_ttl_seconds": _INT,
        "credential_scopes": _STRS,
        "context_refs": _STRS,
        "auth_context": _MAP,
        "agent_identity": _Ref("ptr", _AGENT_IDENTITY_SHAPE),
        "sandbox": _Ref("ptr", _SANDBOX_SHAPE),
    },
)
_NODE_REF_SHAPE: Final = _Shape("RelationshipNodeRef", {"kind": _STR, "id": _STR})
_RELATIONSHIP_SHAPE: Final = _Shape(
    "RelationshipEnvelope",
    {
        "parent_ref": _Ref("ptr", _NODE_REF_SHAPE),
        "entity_refs": _Ref("list", _Shape("RelationshipRef", {"kind": _STR, "id": _STR})),
        "policy_ref": _Ref(
            "ptr",
            _Shape(
                "PolicyRef",
                {
                    "policy_id": _STR,
                    "policy_version": _STR,
                    "policy_digest": _STR,
                    "matched_rule_ids": _STRS,
                },
            ),
        ),
        "agent_chain": _Ref("list", _Shape("AgentLink", {"identity": _STR, "role": _STR})),
        "edges": _Ref(
            "list",
            _Shape(
                "RelationshipEdge",
                {
                    "kind": _STR,
                    "from": _Ref("struct", _NODE_REF_SHAPE),
                    "to": _Ref("struct", _NODE_REF_SHAPE),
                },
            ),
        ),
        "parent_record_id": _STR,
        "related_record_ids": _STRS,
        "related_entity_ids": _STRS,
        "agent_lineage": _Ref(
            "list",
            _Shape(
                "AgentLineage",
                {"agent_id": _STR, "delegated_by": _STR, "delegation_record_id": _STR},
            ),
        ),
    },
)
_REQUEST_SHAPE: Final = _Shape(
    "IntentRequest",
    {
        "schema_id": _STR,
        "schema_version": _STR,
        "created_at": _TIME,
        "producer_version": _STR,
        "tool_name": _STR,
        "args": _MAP,
        "args_digest": _STR,
        "intent_digest": _STR,
        "script_hash": _STR,
        "script": _Ref("ptr", _SCRIPT_SHAPE),
        "targets": _Ref("list", _TARGET_SHAPE),
        "arg_provenance": _Ref("list", _PROVENANCE_SHAPE),
        "skill_provenance": _Ref("ptr", _SKILL_SHAPE),
        "delegation": _Ref("ptr", _DELEGATION_SHAPE),
        "relationship": _Ref("ptr", _RELATIONSHIP_SHAPE),
        "context": _Ref("struct", _CONTEXT_SHAPE),
    },
)


def _json_kind(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _type_error(value: Any, shape: _Shape, path: str, name: str, go_type: str) -> IntentDecodeError:
    field = f"{path}.{name}" if path else name
    return IntentDecodeError(
        f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
        f"{shape.go_name}.{field} of type {go_type}"
    )


_INT64_LIMIT: Final = 2**63
_ZERO_MOMENT: Final = datetime(1, 1, 1, tzinfo=UTC)


def _decode_int(value: Any, shape: _Shape, path: str, name: str) -> int:
    kind = type(value)
    if kind is float:  # a JSON integer literal (parse_int=float) or a Python float
        if value.is_integer() and -_INT64_LIMIT <= value < _INT64_LIMIT:
            return int(value)
    elif kind is int and -_INT64_LIMIT <= value < _INT64_LIMIT:
        return int(value)
    raise _type_error(value, shape, path, name, _INT)


@functools.lru_cache(maxsize=1024)
def _parse_time(text: str) -> GoTime | None:
    # Go requires the upper-case "T" and "Z".
    if "t" in text or "z" in text:
        raise ValueError(text)
    parsed = GoTime.parse(text)
    utc = parsed.utc()
    if utc.moment == _ZERO_MOMENT and utc.nanos == 0:
        return None
    return parsed


def _decode_time(value: Any, shape: _Shape, path: str, name: str) -> GoTime | None:
    """RFC 3339 text as Go's `time.Time.UnmarshalJSON` reads it; `None` for the zero time."""
    if type(value) is not str:
        raise _type_error(value, shape, path, name, _TIME)
    try:
        return _parse_time(value)
    except (ValueError, OverflowError):
        raise IntentDecodeError(f'parsing time "{value}" as RFC3339: cannot parse') from None


def _decode_strings(value: Any, shape: _Shape, path: str, name: str, previous: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise _type_error(value, shape, path, name, _STRS)
    old = previous if isinstance(previous, list) else []
    out: list[str] = []
    for index, item in enumerate(value):
        if type(item) is str:
            out.append(item)
        elif item is None:  # null leaves the element as it was
            out.append(old[index] if index < len(old) else "")
        else:
            raise _type_error(item, shape, path, name, _STR)
    return out


def _decode_struct(
    raw: Mapping[Any, Any], shape: _Shape, path: str, into: dict[str, Any] | None
) -> dict[str, Any]:
    """Decode `raw` into a new dict, or into the partly decoded struct `into` (Go merges)."""
    out: dict[str, Any] = {} if into is None else into
    kinds = shape.kinds
    for key, value in raw.items():
        kind = kinds.get(key)
        name = key
        if kind is None:
            if type(key) is not str:
                raise IntentDecodeError(f"json: object key {key!r} is not a string")
            name = _fold_key(key)
            kind = kinds.get(name)
            if kind is None:
                continue
        if kind is _STR:
            if type(value) is str:
                out[name] = value
            elif value is not None:
                raise _type_error(value, shape, path, name, _STR)
        elif type(kind) is _Ref:
            if value is None:
                if kind.container != "struct":
                    out[name] = None
                continue
            child_path = f"{path}.{name}" if path else name
            if kind.container == "list":
                out[name] = _decode_struct_list(value, kind.shape, child_path, out.get(name))
            elif type(value) is dict or isinstance(value, Mapping):
                previous = out.get(name)
                out[name] = _decode_struct(
                    value, kind.shape, child_path, previous if type(previous) is dict else None
                )
            else:
                raise _type_error(value, shape, path, name, kind.shape.go_name)
        elif value is None:
            if kind is _MAP or kind is _STRS:
                out[name] = None
        elif kind is _BOOL:
            if type(value) is not bool:
                raise _type_error(value, shape, path, name, _BOOL)
            out[name] = value
        elif kind is _MAP:
            if type(value) is not dict and not isinstance(value, Mapping):
                raise _type_error(value, shape, path, name, _MAP)
            previous = out.get(name)
            if type(previous) is dict:  # Go decodes into the existing map
                previous.update(value)
            else:
                out[name] = dict(value)
        elif kind is _STRS:
            out[name] = _decode_strings(value, shape, path, name, out.get(name))
        elif kind is _INT:
            out[name] = _decode_int(value, shape, path, name)
        else:  # _TIME
            out[name] = _decode_time(value, shape, path, name)
    return out


def _decode_struct_list(
    value: Any, shape: _Shape, path: str, previous: Any
) -> list[dict[str, Any]]:
    if type(value) is not list and not isinstance(value, tuple):
        raise IntentDecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
            f"{shape.go_name}.{path} of type []{shape.go_name}"
        )
    old = previous if isinstance(previous, list) else ()
    out: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        # Go decodes into the existing element, so fields of an earlier value survive.
        base = old[index] if index < len(old) else None
        if type(item) is dict or isinstance(item, Mapping):
            out.append(_decode_struct(item, shape, path, base))
        elif item is None:
            out.append(base if base is not None else {})
        else:
            raise IntentDecodeError(
                f"json: cannot unmarshal {_json_kind(item)} into Go struct field "
                f"{shape.go_name}.{path} of type {shape.go_name}"
            )
    return out


def _decode_request(raw: Any) -> dict[str, Any]:
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise IntentDecodeError(
            f"json: cannot unmarshal {_json_kind(raw)} into Go value of type gate.IntentRequest"
        )
    return _decode_struct(raw, _REQUEST_SHAPE, "", None)


# --------------------------------------------------------------------------------------------
# Normalization (spec §2.2, §2.3)
# --------------------------------------------------------------------------------------------

_TARGET_KINDS: Final = frozenset(
    {"path", "url", "host", "repo", "bucket", "table", "queue", "topic", "other"}
)
_PROVENANCE_SOURCES: Final = frozenset({"user", "tool_output", "external", "system"})
_CREDENTIAL_SOURCES: Final = frozenset(
    {
        "aws_iam_user",
        "aws_sts",
        "azure_federated",
        "command",
        "env",
        "gcp_sts",
        "github_oidc",
        "github_pat",
        "kubernetes_service_account",
        "stub",
        "unknown",
        "vault_dynamic",
    }
)
_CREDENTIAL_ACCESS_TYPES: Final = frozenset(
    {"cloud_admin", "inherited", "jit", "standing", "static", "unknown"}
)


_READ_OPERATIONS: Final = frozenset(
    {"read", "get", "list", "open", "cat", "head", "download", "stat"}
)
_WRITE_OPERATIONS: Final = frozenset(
    {"write", "append", "put", "create", "update", "save", "copy", "move", "rename"}
)
_DELETE_OPERATIONS: Final = frozenset(
    {"delete", "remove", "rm", "unlink", "rmdir", "drop", "truncate"}
)
_DNS_OPERATIONS: Final = frozenset({"dns", "resolve", "lookup"})
_EXEC_OPERATIONS: Final = frozenset({"exec", "spawn", "run", "shell", "command"})
_DESTRUCTIVE_OPERATIONS: Final = _DELETE_OPERATIONS | {"exec", "spawn"}
_DESTRUCTIVE_CLASSES: Final = frozenset({"fs.delete", "proc.exec"})


def _has_tool_hint(tool_name: str, hints: tuple[str, ...]) -> bool:
    base = _go_base(tool_name)
    return any(hint in base for hint in hints)


def _infer_endpoint_class(kind: str, operation: str, tool_name: str) -> str:
    if kind == "path":
        if operation in _READ_OPERATIONS:
            return "fs.read"
        if operation in _WRITE_OPERATIONS:
            return "fs.write"
        if operation in _DELETE_OPERATIONS:
            return "fs.delete"
        if _has_tool_hint(tool_name, ("read", "list", "fetch", "search")):
            return "fs.read"
        if _has_tool_hint(tool_name, ("write", "update", "save", "create")):
            return "fs.write"
        if _has_tool_hint(tool_name, ("delete", "remove", "rm", "drop")):
            return "fs.delete"
        return "other"
    if kind in ("host", "url"):
        return "net.dns" if operation in _DNS_OPERATIONS else "net.http"
    if kind == "other" and (
        operation in _EXEC_OPERATIONS
        or _has_tool_hint(tool_name, ("exec", "shell", "command", "spawn", "run"))
    ):
        return "proc.exec"
    return "other"


def _infer_endpoint_domain(kind: str, value: str) -> str:
    if kind == "host":
        host = go_trim_space(value)
        host = host.removeprefix("http://")
        host = host.removeprefix("https://")
        host = host.partition("/")[0]
        host = host.partition(":")[0]
        return go_trim_lower(host)
    if kind == "url":
        try:
            return go_trim_lower(_url_hostname(go_trim_space(value)))
        except _URLError:
            return ""
    return ""


def _normalize_discovery_method(value: str) -> str:
    method = go_trim_lower(value)
    if not method:
        return "unknown"
    return method.replace("-", "_").replace(" ", "_")


def _normalize_target(tool_name: str, raw: Mapping[str, Any]) -> Target:
    kind = _get_norm(raw, "kind")
    value = _get_trim(raw, "value")
    operation = _get_norm(raw, "operation")
    endpoint_class = _get_norm(raw, "endpoint_class")
    endpoint_domain = _get_norm(raw, "endpoint_domain")
    discovery_method = _normalize_discovery_method(raw.get("discovery_method", ""))
    if not kind or not value:
        raise IntentError("targets require kind and value")
    if kind not in _TARGET_KINDS:
        raise IntentError(f"unsupported target kind: {kind}")
    if not endpoint_class:
        endpoint_class = _infer_endpoint_class(kind, operation, tool_name)
    if endpoint_class not in ENDPOINT_CLASSES:
        raise IntentError(f"unsupported endpoint class: {endpoint_class}")
    if not endpoint_domain:
        endpoint_domain = _infer_endpoint_domain(kind, value)
    if discovery_method not in DISCOVERY_METHODS:
        raise IntentError(f"unsupported discovery method: {discovery_method}")
    destructive_hint = raw.get("destructive_hint", False)
    destructive = (
        raw.get("destructive", False)
        or destructive_hint
        or endpoint_class in _DESTRUCTIVE_CLASSES
        or operation in _DESTRUCTIVE_OPERATIONS
    )
    return Target(
        kind,
        value,
        operation,
        _get_norm(raw, "sensitivity"),
        endpoint_class,
        endpoint_domain,
        destructive,
        discovery_method,
        raw.get("read_only_hint", False),
        destructive_hint,
        raw.get("idempotent_hint", False),
        raw.get("open_world_hint", False),
    )


def _dedupe_sorted_targets(targets: Iterable[Target]) -> tuple[Target, ...]:
    if type(targets) is list and len(targets) == 1:
        return (targets[0],)
    unique = dict.fromkeys(targets)
    if len(unique) < 2:
        return tuple(unique)
    return tuple(sorted(unique, key=_target_sort_key))


def _normalize_targets(tool_name: str, items: list[dict[str, Any]] | None) -> tuple[Target, ...]:
    if not items:
        return ()
    return _dedupe_sorted_targets([_normalize_target(tool_name, item) for item in items])


def _normalize_provenance_entry(raw: Mapping[str, Any]) -> ArgProvenance:
    arg_path = _get_trim(raw, "arg_path")
    source = _get_norm(raw, "source")
    source_ref = _get_trim(raw, "source_ref")
    integrity_digest = _get_norm(raw, "integrity_digest")
    if not arg_path or not source:
        raise IntentError("arg provenance requires arg_path and source")
    if source not in _PROVENANCE_SOURCES:
        raise IntentError(f"unsupported provenance source: {source}")
    if integrity_digest and not _is_hex64(integrity_digest):
        raise IntentError(f"invalid provenance integrity_digest: {integrity_digest}")
    return ArgProvenance(arg_path, source, source_ref, integrity_digest)


def _dedupe_sorted_provenance(entries: Iterable[ArgProvenance]) -> tuple[ArgProvenance, ...]:
    if type(entries) is list and len(entries) == 1:
        return (entries[0],)
    unique = dict.fromkeys(entries)
    if len(unique) < 2:
        return tuple(unique)
    return tuple(sorted(unique, key=_provenance_sort_key))


def _normalize_provenance(items: list[dict[str, Any]] | None) -> tuple[ArgProvenance, ...]:
    if not items:
        return ()
    return _dedupe_sorted_provenance([_normalize_provenance_entry(item) for item in items])


# ---- args and other free JSON ----------------------------------------------------------------


def _normalize_json(value: Any, depth: int) -> Any:
    """Go `normalizeJSONValue`: trim every string and object key.

    Numbers follow Go's float64: an integral value within +-(2**53 - 1) is returned as an `int`
    (it prints the same), anything else as a `float`.
    """
    kind = type(value)
    if kind is str:
        return go_trim_space(value)
    if kind is dict:
        return _normalize_object(value, depth + 1)
    if kind is float:
        if value.is_integer():
            return int(value) if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT else value
        if math.isfinite(value):
            return value
        raise IntentError("json: unsupported value: non-finite number")
    if value is None or kind is bool:
        return value
    if kind is int:
        if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            return value
        try:
            return float(value)  # Go decodes every JSON number into a float64
        except OverflowError:
            raise IntentError("json: number out of range for float64") from None
    if kind is list or kind is tuple:
        if depth >= MAX_JSON_DEPTH:
            raise IntentError(f"args exceed maximum JSON nesting depth ({MAX_JSON_DEPTH})")
        return [_normalize_json(item, depth + 1) for item in value]
    if isinstance(value, Mapping):
        return _normalize_object(value, depth + 1)
    if isinstance(value, float):  # a _LiteralFloat from parse_intent_json
        return _normalize_json(float(value), depth)
    if isinstance(value, int) and not isinstance(value, bool):
        return _normalize_json(int(value), depth)
    raise IntentError(f"json: unsupported type: {kind.__name__}")


def _normalize_object(value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    if depth > MAX_JSON_DEPTH:
        raise IntentError(f"args exceed maximum JSON nesting depth ({MAX_JSON_DEPTH})")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if type(key) is not str:
            raise IntentError(f"json: unsupported map key {key!r}")
        trimmed = go_trim_space(key)
        if not trimmed:
            raise IntentError("args contains empty key")
        out[trimmed] = _normalize_json(item, depth)
    return out


def _normalize_args(value: Mapping[str, Any] | None, prefix: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        return _normalize_object(value, 1)
    except IntentError as exc:
        raise IntentError(f"{prefix}: {exc}") from None


# ---- raw credential material -------------------------------------------------------------------

_SAFE_KEY_SUFFIXES: Final = (
    "_ref",
    "_refs",
    "_digest",
    "_digests",
    "_hash",
    "_issuer",
    "_source",
    "_type",
    "_ttl",
    "_ttl_seconds",
    "_id",
    "_ids",
    "_name",
    "_names",
    "_scope",
    "_scopes",
)
# The reference's pattern `token|secret|api[_-]?key|access[_-]?key|password|credential`.
_CREDENTIAL_KEY_WORDS: Final = (
    "token",
    "secret",
    "apikey",
    "api_key",
    "api-key",
    "accesskey",
    "access_key",
    "access-key",
    "password",
    "credential",
)
_SAFE_VALUE_PREFIXES: Final = ("env:", "stub:", "cmd:", "ref:", "sha256:")
_SECRET_VALUE_PREFIXES: Final = ("ghp_", "gho_", "github_pat_", "sk-", "AKIA", "ASIA")
_ASCII_LETTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_DIGITS: Final = frozenset("0123456789")


@functools.lru_cache(maxsize=4096)
def _key_suggests_credential(key: str) -> bool:
    name = go_trim_lower(key)
    if not name or name.endswith(_SAFE_KEY_SUFFIXES):
        return False
    # Go matches with (?i): on lower-cased text that only adds U+017F as a second "s".
    name = name.replace("\u017f", "s")
    return any(word in name for word in _CREDENTIAL_KEY_WORDS)


def _looks_like_secret(value: str) -> bool:
    trimmed = go_trim_space(value)
    if not trimmed:
        return False
    lower = go_lower(trimmed)
    if lower.startswith(_SAFE_VALUE_PREFIXES) or _is_hex64(lower):
        return False
    if trimmed.startswith(_SECRET_VALUE_PREFIXES):
        return True
    size = len(trimmed) if trimmed.isascii() else len(trimmed.encode("utf-8"))
    if size < 16 or any(char in trimmed for char in " \t\r\n"):
        return False
    chars = set(trimmed)
    return not chars.isdisjoint(_ASCII_LETTERS) and not chars.isdisjoint(_ASCII_DIGITS)


def _reject_raw_credentials(path: str, value: Any) -> None:
    if type(value) is dict:
        for key in sorted(value):
            child = value[key]
            child_path = f"{path}.{key}"
            if type(child) is str and _key_suggests_credential(key) and _looks_like_secret(child):
                raise IntentError(
                    f"{child_path} must not contain raw credential material; "
                    "use credential references or digests instead"
                )
            if type(child) is dict or type(child) is list:
                _reject_raw_credentials(child_path, child)
    elif type(value) is list:
        for index, child in enumerate(value):
            if type(child) is dict or type(child) is list:
                _reject_raw_credentials(f"{path}[{index}]", child)


# ---- context -----------------------------------------------------------------------------------


def _enum(value: str, allowed: frozenset[str], message: str) -> str:
    if value and value not in allowed:
        raise IntentError(f"{message}: {value}")
    return value


def _normalize_auth_context(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        normalized = _normalize_object(value, 1)
    except IntentError as exc:
        raise IntentError(f"normalize context.auth_context: {exc}") from None
    if not normalized:
        return None
    _reject_raw_credentials("context.auth_context", normalized)
    return normalized


def _normalize_context(raw: Mapping[str, Any]) -> Context:
    identity = _get_trim(raw, "identity")
    workspace = _get_trim(raw, "workspace")
    risk_class = _get_norm(raw, "risk_class")
    if not identity:
        raise IntentError("context.identity is required")
    if not workspace:
        raise IntentError("context.workspace is required")
    if not risk_class:
        raise IntentError("context.risk_class is required")

    auth_context = _normalize_auth_context(raw.get("auth_context"))
    sandbox_raw = raw.get("sandbox")
    sandbox = None
    if sandbox_raw is not None:
        from gait.intent_sections import normalize_sandbox

        sandbox = normalize_sandbox(sandbox_raw)
    identity_raw = raw.get("agent_identity")
    agent_identity = None
    if identity_raw is not None:
        from gait.intent_sections import normalize_agent_identity

        agent_identity = normalize_agent_identity(identity_raw)
    context_set_digest = _get_norm(raw, "context_set_digest")
    if context_set_digest and not _is_hex64(context_set_digest):
        raise IntentError("context.context_set_digest must be sha256 hex")
    ttl: int = raw.get("credential_ttl_seconds", 0)
    if ttl < 0:
        raise IntentError("context.credential_ttl_seconds must be >= 0")
    credential_source = _enum(
        _get_norm(raw, "credential_source"),
        _CREDENTIAL_SOURCES,
        "context.credential_source is unsupported",
    )
    credential_access_type = _enum(
        _get_norm(raw, "credential_access_type"),
        _CREDENTIAL_ACCESS_TYPES,
        "context.credential_access_type is unsupported",
    )
    evidence_mode = _get_norm(raw, "context_evidence_mode")
    if evidence_mode and evidence_mode not in ("best_effort", "required"):
        raise IntentError("context.context_evidence_mode must be best_effort or required")
    phase = _get_norm(raw, "phase") or "apply"
    if phase not in ("plan", "apply"):
        raise IntentError("context.phase must be plan or apply")

    extras: dict[str, Any] = {}
    for name in _CONTEXT_PLAIN_STRING_SET.intersection(raw):
        value = go_trim_space(raw[name])
        if value:
            extras[name] = value
    scopes = raw.get("credential_scopes")
    if scopes:
        extras["credential_scopes"] = _unique_sorted(scopes)
    refs = raw.get("context_refs")
    if refs:
        extras["context_refs"] = _unique_sorted(refs)
    return Context(
        identity=identity,
        workspace=workspace.replace("\\", "/"),
        risk_class=risk_class,
        phase=phase,
        credential_source=credential_source,
        credential_access_type=credential_access_type,
        context_set_digest=context_set_digest,
        context_evidence_mode=evidence_mode,
        credential_ttl_seconds=ttl,
        auth_context=auth_context,
        agent_identity=agent_identity,
        sandbox=sandbox,
        **extras,
    )


# ---- relationship envelope (normalized, never digested) ---------------------------------------

_RELATIONSHIP_PARENT_KINDS: Final = frozenset(
    {"trace", "run", "session", "intent", "policy", "agent", "evidence"}
)
_RELATIONSHIP_ENTITY_KINDS: Final = frozenset(
    {"agent", "tool", "resource", "policy", "run", "trace", "delegation", "evidence"}
)
_RELATIONSHIP_AGENT_ROLES: Final = frozenset({"requester", "delegator", "delegate"})
_RELATIONSHIP_EDGE_KINDS: Final = frozenset(
    {"delegates_to", "calls", "governed_by", "targets", "derived_from", "emits_evidence"}
)


def _node(raw: Mapping[str, Any] | None) -> tuple[str, str]:
    raw = raw or {}
    return _get_norm(raw, "kind"), _get_trim(raw, "id")


def _normalize_relationship(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    kind, node_id = _node(raw.get("parent_ref"))
    if kind and node_id and kind in _RELATIONSHIP_PARENT_KINDS:
        out["parent_ref"] = {"kind": kind, "id": node_id}

    refs: set[tuple[str, str]] = set()
    for item in raw.get("entity_refs") or ():
        kind, node_id = _node(item)
        if kind and node_id and kind in _RELATIONSHIP_ENTITY_KINDS:
            refs.add((kind, node_id))
    if refs:
        out["entity_refs"] = [{"kind": kind, "id": node_id} for kind, node_id in sorted(refs)]

    policy = raw.get("policy_ref")
    if policy is not None:
        policy_ref: dict[str, Any] = {}
        for name in ("policy_id", "policy_version"):
            value = go_trim_space(policy.get(name, ""))
            if value:
                policy_ref[name] = value
        policy_digest = go_trim_lower(policy.get("policy_digest", ""))
        if policy_digest:
            policy_ref["policy_digest"] = policy_digest
        matched = _unique_sorted(policy.get("matched_rule_ids") or ())
        if matched:
            policy_ref["matched_rule_ids"] = list(matched)
        if policy_ref:
            out["policy_ref"] = policy_ref

    chain: set[tuple[str, str]] = set()
    for item in raw.get("agent_chain") or ():
        role = go_trim_lower(item.get("role", ""))
        identity = go_trim_space(item.get("identity", ""))
        if role and identity and role in _RELATIONSHIP_AGENT_ROLES:
            chain.add((role, identity))
    if chain:
        out["agent_chain"] = [
            {"identity": identity, "role": role} for role, identity in sorted(chain)
        ]

    edges: set[tuple[str, str, str, str, str]] = set()
    for item in raw.get("edges") or ():
        edge_kind = go_trim_lower(item.get("kind", ""))
        from_kind, from_id = _node(item.get("from"))
        to_kind, to_id = _node(item.get("to"))
        if edge_kind in _RELATIONSHIP_EDGE_KINDS and from_kind and from_id and to_kind and to_id:
            edges.add((edge_kind, from_kind, from_id, to_kind, to_id))
    if edges:
        out["edges"] = [
            {
                "kind": edge[0],
                "from": {"kind": edge[1], "id": edge[2]},
                "to": {"kind": edge[3], "id": edge[4]},
            }
            for edge in sorted(edges)
        ]

    parent_record_id = _get_trim(raw, "parent_record_id")
    if parent_record_id:
        out["parent_record_id"] = parent_record_id
    related_records = _unique_sorted(raw.get("related_record_ids") or ())
    if related_records:
        out["related_record_ids"] = list(related_records)
    related_entities = _unique_sorted(raw.get("related_entity_ids") or ()) or _unique_sorted(
        node_id for _, node_id in refs
    )
    if related_entities:
        out["related_entity_ids"] = list(related_entities)

    lineage: set[tuple[str, str, str]] = set()
    for item in raw.get("agent_lineage") or ():
        agent_id = go_trim_space(item.get("agent_id", ""))
        if agent_id:
            lineage.add(
                (
                    agent_id,
                    go_trim_space(item.get("delegated_by", "")),
                    go_trim_space(item.get("delegation_record_id", "")),
                )
            )
    if lineage:
        entries = []
        for agent_id, delegated_by, record_id in sorted(lineage):
            entry = {"agent_id": agent_id}
            if delegated_by:
                entry["delegated_by"] = delegated_by
            if record_id:
                entry["delegation_record_id"] = record_id
            entries.append(entry)
        out["agent_lineage"] = entries
    return out or None


# ---- the whole request -------------------------------------------------------------------------


def normalize_intent(raw: Mapping[str, Any]) -> NormalizedIntent:
    """Normalize a raw intent (spec §2.2). Any problem raises `IntentError`."""
    request = _decode_request(raw)

    script_raw = request.get("script")
    script = None
    if script_raw is not None:
        from gait.intent_sections import normalize_script

        script = normalize_script(script_raw)

    tool_name = "script" if script is not None else go_trim_lower(request.get("tool_name", ""))
    if not tool_name:
        raise IntentError("tool_name is required")

    args = _normalize_args(request.get("args"), "normalize args")
    if args:
        _reject_raw_credentials("args", args)

    targets_in = request.get("targets")
    if script is not None and not targets_in:
        targets = _dedupe_sorted_targets(target for step in script.steps for target in step.targets)
    else:
        targets = _normalize_targets(tool_name, targets_in)

    provenance_in = request.get("arg_provenance")
    if script is not None and not provenance_in:
        provenance = _dedupe_sorted_provenance(
            entry for step in script.steps for entry in step.arg_provenance
        )
    else:
        provenance = _normalize_provenance(provenance_in)

    skill_raw = request.get("skill_provenance")
    skill = None
    if skill_raw is not None:
        from gait.intent_sections import normalize_skill_provenance

        skill = normalize_skill_provenance(skill_raw)
    context = _normalize_context(request.get("context") or {})
    delegation_raw = request.get("delegation")
    delegation = None
    if delegation_raw is not None:
        from gait.intent_sections import normalize_delegation

        delegation = normalize_delegation(delegation_raw)
    script_hash = ""
    if script is not None:
        fast = all(_fast_domain(step.args) for step in script.steps)
        script_hash = sha256_hex(_jcs(script.to_json(), fast))
    relationship_raw = request.get("relationship")
    relationship = None if relationship_raw is None else _normalize_relationship(relationship_raw)

    return NormalizedIntent(
        tool_name=tool_name,
        args=args,
        targets=targets,
        arg_provenance=provenance,
        skill_provenance=skill,
        delegation=delegation,
        script=script,
        script_hash=script_hash,
        context=context,
        created_at=request.get("created_at"),
        producer_version=request.get("producer_version", ""),
        relationship=relationship,
    )


def prepare_for_evaluation(intent: NormalizedIntent) -> NormalizedIntent:
    """Spec §2.5 without a context envelope: drop the unverified context-evidence claims.

    Returns `intent` itself (with its cached digests) when there is nothing to strip.
    """
    context = intent.context
    auth = context.auth_context
    has_age = auth is not None and "context_age_seconds" in auth
    if (
        not (context.context_set_digest or context.context_evidence_mode or context.context_refs)
        and not has_age
    ):
        return intent
    if auth is not None and has_age:
        auth = {key: value for key, value in auth.items() if key != "context_age_seconds"} or None
    stripped = attrs.evolve(
        context,
        context_set_digest="",
        context_evidence_mode="",
        context_refs=(),
        auth_context=auth,
    )
    return attrs.evolve(intent, context=stripped)


def raw_risk_class(raw: Mapping[str, Any]) -> str:
    """The trimmed, lowercased `context.risk_class` of a raw intent, normalizable or not.

    Keys match as Go decodes them (case-insensitively). Returns "" when the value is absent or
    when the document cannot be decoded at all (Go rejects those before evaluation).
    """
    try:
        request = _decode_request(raw)
    except IntentError:
        return ""
    context: Mapping[str, Any] = request.get("context") or {}
    return go_trim_lower(context.get("risk_class", ""))
