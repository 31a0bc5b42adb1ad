"""Normalization of an intent's targets, argument provenance, args and other free JSON, and
the raw-credential check (spec §2.2)."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

from gait.gostrings import go_lower, go_trim_lower, go_trim_space
from gait.intent_targets import ArgProvenance, Target, provenance_sort_key, target_sort_key
from gait.intent_text import (
    MAX_SAFE_INT,
    IntentError,
    get_norm,
    get_trim,
    go_base,
    is_hex64,
)
from gait.limits import MAX_JSON_DEPTH
from gait.vocabulary import DISCOVERY_METHODS, ENDPOINT_CLASSES

# --------------------------------------------------------------------------------------------
# Normalization (spec §2.2, §2.3)
# --------------------------------------------------------------------------------------------

_TARGET_KINDS: Final = frozenset(
    {"path", "url", "host", "repo", "bucket", "table", "queue", "topic", "other"}
)
_PROVENANCE_SOURCES: Final = frozenset({"user", "tool_output", "external", "system"})
CREDENTIAL_SOURCES: Final = frozenset(
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
CREDENTIAL_ACCESS_TYPES: Final = frozenset(
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
    base = go_base(tool_name)
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


def _url_hostname(raw: str) -> str:
    """Go url.Parse(raw).Hostname(), "" when it does not parse. Imported on first use: most
    targets are paths or hosts (start-up budget)."""
    from gait.intent_url import URLError, url_hostname

    try:
        return url_hostname(raw)
    except URLError:
        return ""


def _infer_endpoint_domain(kind: str, value: str) -> str:
    if kind == "host":
        host = go_trim_space(value)
        host = host.removeprefix("http://")
        host = host.removeprefix("https://")
        host = host.partition("/")[0]
        host = host.partition(":")[0]
        return go_trim_lower(host)
    if kind == "url":
        return go_trim_lower(_url_hostname(go_trim_space(value)))
    return ""


def _normalize_discovery_method(value: str) -> str:
    method = go_trim_lower(value)
    if not method:
        return "unknown"
    return method.replace("-", "_").replace(" ", "_")


def normalize_target(tool_name: str, raw: Mapping[str, Any]) -> Target:
    kind = get_norm(raw, "kind")
    value = get_trim(raw, "value")
    operation = get_norm(raw, "operation")
    endpoint_class = get_norm(raw, "endpoint_class")
    endpoint_domain = get_norm(raw, "endpoint_domain")
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
        get_norm(raw, "sensitivity"),
        endpoint_class,
        endpoint_domain,
        destructive,
        discovery_method,
        raw.get("read_only_hint", False),
        destructive_hint,
        raw.get("idempotent_hint", False),
        raw.get("open_world_hint", False),
    )


def dedupe_sorted_targets(targets: Iterable[Target]) -> tuple[Target, ...]:
    if type(targets) is list and len(targets) == 1:
        return (targets[0],)
    unique = dict.fromkeys(targets)
    if len(unique) < 2:
        return tuple(unique)
    return tuple(sorted(unique, key=target_sort_key))


def normalize_targets(tool_name: str, items: list[dict[str, Any]] | None) -> tuple[Target, ...]:
    if not items:
        return ()
    return dedupe_sorted_targets([normalize_target(tool_name, item) for item in items])


def _normalize_provenance_entry(raw: Mapping[str, Any]) -> ArgProvenance:
    arg_path = get_trim(raw, "arg_path")
    source = get_norm(raw, "source")
    source_ref = get_trim(raw, "source_ref")
    integrity_digest = get_norm(raw, "integrity_digest")
    if not arg_path or not source:
        raise IntentError("arg provenance requires arg_path and source")
    if source not in _PROVENANCE_SOURCES:
        raise IntentError(f"unsupported provenance source: {source}")
    if integrity_digest and not is_hex64(integrity_digest):
        raise IntentError(f"invalid provenance integrity_digest: {integrity_digest}")
    return ArgProvenance(arg_path, source, source_ref, integrity_digest)


def dedupe_sorted_provenance(entries: Iterable[ArgProvenance]) -> tuple[ArgProvenance, ...]:
    if type(entries) is list and len(entries) == 1:
        return (entries[0],)
    unique = dict.fromkeys(entries)
    if len(unique) < 2:
        return tuple(unique)
    return tuple(sorted(unique, key=provenance_sort_key))


def normalize_provenance(items: list[dict[str, Any]] | None) -> tuple[ArgProvenance, ...]:
    if not items:
        return ()
    return dedupe_sorted_provenance([_normalize_provenance_entry(item) for item in items])


# ---- args and other free JSON ----------------------------------------------------------------


def normalize_json(value: Any, depth: int) -> Any:
    """Go `normalizeJSONValue`: trim every string and object key.

    Numbers follow Go's float64: an integral value within +-(2**53 - 1) is returned as an `int`
    (it prints the same), anything else as a `float`.
    """
    kind = type(value)
    if kind is str:
        return go_trim_space(value)
    if kind is dict:
        return normalize_object(value, depth + 1)
    if kind is float:
        if value.is_integer():
            return int(value) if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else value
        if math.isfinite(value):
            return value
        raise IntentError("json: unsupported value: non-finite number")
    if value is None or kind is bool:
        return value
    if kind is int:
        if -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            return value
        try:
            return float(value)  # Go decodes every JSON number into a float64
        except OverflowError:
            raise IntentError("json: number out of range for float64") from None
    if kind is list or kind is tuple:
        if depth >= MAX_JSON_DEPTH:
            raise IntentError(f"args exceed maximum JSON nesting depth ({MAX_JSON_DEPTH})")
        return [normalize_json(item, depth + 1) for item in value]
    if isinstance(value, Mapping):
        return normalize_object(value, depth + 1)
    if isinstance(value, float):  # a _LiteralFloat from parse_intent_json
        return normalize_json(float(value), depth)
    if isinstance(value, int) and not isinstance(value, bool):
        return normalize_json(int(value), depth)
    raise IntentError(f"json: unsupported type: {kind.__name__}")


def normalize_object(value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    if depth > MAX_JSON_DEPTH:
        raise IntentError(f"args exceed maximum JSON nesting depth ({MAX_JSON_DEPTH})")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if type(key) is not str:
            raise IntentError(f"json: unsupported map key {key!r}")
        trimmed = go_trim_space(key)
        if not trimmed:
            raise IntentError("args contains empty key")
        out[trimmed] = normalize_json(item, depth)
    return out


def normalize_args(value: Mapping[str, Any] | None, prefix: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        return normalize_object(value, 1)
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


def looks_like_secret(value: str) -> bool:
    trimmed = go_trim_space(value)
    if not trimmed:
        return False
    lower = go_lower(trimmed)
    if lower.startswith(_SAFE_VALUE_PREFIXES) or is_hex64(lower):
        return False
    if trimmed.startswith(_SECRET_VALUE_PREFIXES):
        return True
    size = len(trimmed) if trimmed.isascii() else len(trimmed.encode("utf-8"))
    if size < 16 or any(char in trimmed for char in " \t\r\n"):
        return False
    chars = set(trimmed)
    return not chars.isdisjoint(_ASCII_LETTERS) and not chars.isdisjoint(_ASCII_DIGITS)


def reject_raw_credentials(path: str, value: Any) -> None:
    if type(value) is dict:
        for key in sorted(value):
            child = value[key]
            child_path = f"{path}.{key}"
            if type(child) is str and _key_suggests_credential(key) and looks_like_secret(child):
                raise IntentError(
                    f"{child_path} must not contain raw credential material; "
                    "use credential references or digests instead"
                )
            if type(child) is dict or type(child) is list:
                reject_raw_credentials(child_path, child)
    elif type(value) is list:
        for index, child in enumerate(value):
            if type(child) is dict or type(child) is list:
                reject_raw_credentials(f"{path}[{index}]", child)
