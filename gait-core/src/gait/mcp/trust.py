"""MCP server trust (integrations.md §1.8): the `mcp_trust` policy block checked against a local
trust snapshot, per call (`gait mcp proxy` and `serve`) or for one server (`gait mcp verify`).

A snapshot (`gait.mcp.trust_snapshot`) is a local JSON file that a scanner or registry renders;
Gait never fetches trust data. Each entry is keyed by its lower-cased `server_id`, else its
`server_name`. A file that cannot be read leaves every server `missing`; a file that does not
parse, or keys two entries alike, is `invalid` as a whole. The decision object (`mcp_trust` in
outputs and traces) has the reference's fields; a failed check is enforced when the call's
risk class is one of `required_risk_classes`, and then makes the verdict stricter.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from gait.errors import InvalidInputError
from gait.gostrings import go_text, go_trim_lower, go_trim_space
from gait.limits import MAX_INTENT_BYTES, MAX_TRUST_SNAPSHOT_BYTES
from gait.timefmt import ZERO_TIME_TEXT, GoTime

if TYPE_CHECKING:
    from gait.gate import GateDecision
    from gait.policy import MCPTrust

SNAPSHOT_SCHEMA_ID: Final = "gait.mcp.trust_snapshot"
SNAPSHOT_SCHEMA_VERSION: Final = "1.0.0"
TRUST_VIOLATION: Final = "mcp_trust_policy"
UNAVAILABLE: Final = "mcp_trust_snapshot_unavailable"
INVALID: Final = "mcp_trust_snapshot_invalid"
_TRUSTED_STATUSES: Final = frozenset({"", "trusted", "allow", "pass"})
# The status a failed check gives, the first failing check deciding.
_STATUS_BY_REASON: Final = {
    "mcp_trust_status_untrusted": "untrusted",
    "mcp_trust_publisher_untrusted": "untrusted",
    "mcp_trust_registry_unverified": "invalid",
    "mcp_trust_stale": "stale",
    "mcp_trust_below_threshold": "below_threshold",
}
# `gait mcp verify` without --risk-class checks as the most severe required class.
_SEVERITY: Final = ("critical", "high", "medium", "low")
_SERVER_FIELDS: Final = ("server_id", "server_name", "publisher", "source", "endpoint")
_REGISTRY_STRINGS: Final = (
    "pack_name",
    "pack_version",
    "digest",
    "metadata_path",
    "pin_path",
    "pin_digest",
    "signature_error",
    "publisher",
    "source",
)
_REGISTRY_FLAGS: Final = ("pin_present", "pin_verified", "signature_verified", "publisher_allowed")
_MAX_CACHED_SNAPSHOTS: Final = 16
# The decision object's fields in the reference's order, and the values its omitempty drops.
_DECISION_FIELDS: Final = (
    "server_id",
    "server_name",
    "publisher",
    "source",
    "status",
    "decision_source",
    "score",
    "threshold",
    "updated_at",
    "max_age_seconds",
    "required",
    "enforced",
    "registry_verified",
    "publisher_allowed",
    "reason_codes",
)
_EMPTY: Final[tuple[object, ...]] = ("", 0, False, [])


class SnapshotInvalid(ValueError):
    """A snapshot file that was read but cannot be used."""


def server_key(server_id: str, server_name: str) -> str:
    """The identity a server is looked up by: lower-cased id, else lower-cased name."""
    return go_trim_lower(server_id) or go_trim_lower(server_name)


@attrs.frozen(kw_only=True)
class SnapshotEntry:
    server_id: str
    server_name: str
    publisher: str
    source: str
    status: str
    updated_at: GoTime | None  # None: Go's zero time
    updated_at_text: str  # as the decision object writes it (RFC 3339, UTC)
    score: float
    evidence_path: str
    registry_verified: bool  # False too when the entry has no registry_verification


@attrs.frozen
class Snapshot:
    entries: Mapping[str, SnapshotEntry]


# ---- reading a snapshot -----------------------------------------------------------------------


def _string(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SnapshotInvalid(f"{where}{key} must be a string")
    return go_text(value)


def _time(raw: Mapping[str, Any], key: str, where: str) -> GoTime | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SnapshotInvalid(f"{where}{key} must be an RFC 3339 time")
    try:
        moment = GoTime.parse(value).utc()
    except (ValueError, OverflowError):
        raise SnapshotInvalid(f"{where}{key} must be an RFC 3339 time") from None
    return None if moment.format() == ZERO_TIME_TEXT else moment


def _registry_verified(raw: Any, where: str) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, dict):
        raise SnapshotInvalid(f"{where}registry_verification must be an object")
    for key in _REGISTRY_STRINGS:
        _string(raw, key, f"{where}registry_verification.")
    flags = {}
    for key in _REGISTRY_FLAGS:
        value = raw.get(key)
        if value is not None and not isinstance(value, bool):
            raise SnapshotInvalid(f"{where}registry_verification.{key} must be a boolean")
        flags[key] = bool(value)
    return (
        flags["signature_verified"]
        and flags["publisher_allowed"]
        and (not flags["pin_present"] or flags["pin_verified"])
    )


def _entry(raw: Any, index: int) -> SnapshotEntry:
    where = f"entries[{index}]."
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SnapshotInvalid(f"entries[{index}] must be an object")
    score = raw.get("score")
    if score is None:
        score = 0.0
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise SnapshotInvalid(f"{where}score must be a number")
    try:
        score = float(score)
    except OverflowError:
        score = math.inf
    if not math.isfinite(score):  # Python reads 1e999 as infinity; Go refuses it
        raise SnapshotInvalid(f"{where}score is out of range")
    updated_at = _time(raw, "updated_at", where)
    entry = SnapshotEntry(
        server_id=go_trim_space(_string(raw, "server_id", where)),
        server_name=go_trim_space(_string(raw, "server_name", where)),
        publisher=go_trim_lower(_string(raw, "publisher", where)),
        source=go_trim_lower(_string(raw, "source", where)),
        status=go_trim_lower(_string(raw, "status", where)),
        updated_at=updated_at,
        updated_at_text=updated_at.format() if updated_at is not None else ZERO_TIME_TEXT,
        score=score,
        evidence_path=go_trim_space(_string(raw, "evidence_path", where)),
        registry_verified=_registry_verified(raw.get("registry_verification"), where),
    )
    _string(raw, "endpoint", where)
    if not server_key(entry.server_id, entry.server_name):
        raise SnapshotInvalid(f"trust snapshot entry[{index}] requires server_id or server_name")
    return entry


def parse_snapshot(data: bytes) -> Snapshot:
    """A snapshot file's bytes → the entries by server key; SnapshotInvalid when unusable."""
    if len(data) > MAX_TRUST_SNAPSHOT_BYTES:
        raise SnapshotInvalid(f"trust snapshot exceeds {MAX_TRUST_SNAPSHOT_BYTES} bytes")
    from gait.strictjson import JSONReadError, loads

    try:
        document = loads(data)
    except JSONReadError as exc:
        raise SnapshotInvalid(f"parse trust snapshot: {exc}") from None
    if not isinstance(document, dict):
        raise SnapshotInvalid("parse trust snapshot: not a JSON object")
    schema_id = _string(document, "schema_id", "")
    if not go_trim_space(schema_id):
        schema_id = SNAPSHOT_SCHEMA_ID
    if schema_id != SNAPSHOT_SCHEMA_ID:
        raise SnapshotInvalid(f"unsupported trust snapshot schema_id {json.dumps(schema_id)}")
    schema_version = _string(document, "schema_version", "")
    if not go_trim_space(schema_version):
        schema_version = SNAPSHOT_SCHEMA_VERSION
    if schema_version != SNAPSHOT_SCHEMA_VERSION:
        raise SnapshotInvalid(
            f"unsupported trust snapshot schema_version {json.dumps(schema_version)}"
        )
    _time(document, "created_at", "")
    _string(document, "producer_version", "")
    raw_entries = document.get("entries")
    if raw_entries is None:
        raw_entries = []
    if not isinstance(raw_entries, list):
        raise SnapshotInvalid("entries must be a list")
    entries: dict[str, SnapshotEntry] = {}
    for index, raw in enumerate(raw_entries):
        entry = _entry(raw, index)
        key = server_key(entry.server_id, entry.server_name)
        if key in entries:
            raise SnapshotInvalid(f"trust snapshot has two entries for server {json.dumps(key)}")
        entries[key] = entry
    return Snapshot(entries)


def _stat_signature(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read(path: str) -> tuple[tuple[int, ...], bytes]:
    """The file's stat signature and bytes; OSError for anything but a readable regular file
    (non-blocking open: a FIFO must not stall a decision)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path} is not a regular file")
        return _stat_signature(st), handle.read(MAX_TRUST_SNAPSHOT_BYTES + 1)


@attrs.frozen
class SnapshotState:
    """A snapshot, or the reason code of why there is none and a message saying so."""

    snapshot: Snapshot | None
    reason: str = ""
    detail: str = ""


SnapshotSource = Callable[[str], SnapshotState]


def _unavailable(path: str, exc: OSError) -> SnapshotState:
    return SnapshotState(None, UNAVAILABLE, f"trust snapshot {path}: {exc.strerror or exc}")


def _state_of(path: str, data: bytes) -> SnapshotState:
    try:
        return SnapshotState(parse_snapshot(data))
    except SnapshotInvalid as exc:
        return SnapshotState(None, INVALID, f"trust snapshot {path} is invalid: {exc}")


def read_snapshot(path: str) -> SnapshotState:
    """Read and parse a snapshot now (the one-shot commands)."""
    try:
        _, data = _read(path)
    except OSError as exc:
        return _unavailable(path, exc)
    return _state_of(path, data)


class SnapshotCache:
    """Snapshots by path for a long-running service: a request costs one stat; the file is read
    and parsed again only when it changed (device, inode, size, mtime or ctime). A snapshot
    that cannot be used is logged once per change, not once per decision."""

    def __init__(self) -> None:
        # Only the service logs (a one-shot command reports in its output): `logging` costs
        # `gait mcp proxy` start-up time.
        import logging

        self._log = logging.getLogger("gait.mcp.trust")
        self._states: dict[str, tuple[tuple[int, ...] | None, SnapshotState]] = {}

    def __call__(self, path: str) -> SnapshotState:
        cached = self._states.get(path)
        try:
            signature = _stat_signature(os.stat(path))
            if cached is not None and cached[0] == signature:
                return cached[1]
            read_signature, data = _read(path)
            settled = _stat_signature(os.stat(path)) == read_signature
            state = _state_of(path, data)
        except OSError as exc:
            # No signature: the next decision looks again.
            read_signature, settled, state = None, True, _unavailable(path, exc)
        if state.reason and (cached is None or cached[1] != state):
            self._log.warning("%s; calls that require MCP trust are not allowed", state.detail)
        if len(self._states) >= _MAX_CACHED_SNAPSHOTS:
            self._states.clear()
        # A file that changed while it was read is read again by the next decision.
        self._states[path] = (read_signature if settled else None, state)
        return state


# ---- the decision -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TrustDecision:
    """The `mcp_trust` decision object; `wire` is its JSON form (the reference's field order,
    empty fields left out)."""

    status: str
    reason_codes: tuple[str, ...]
    required: bool
    enforced: bool
    wire: Mapping[str, Any]
    detail: str = ""  # why the snapshot could not be used, for people (not in the wire form)


def _contains_fold(values: tuple[str, ...], value: str) -> bool:
    wanted = go_trim_lower(value)
    return any(go_trim_lower(candidate) == wanted for candidate in values)


def _trimmed_server(server: Mapping[str, Any] | None) -> tuple[str, str, str, str]:
    """The call's server id, name, publisher and source as the decision reports them (Go's
    trims also read a lone surrogate as U+FFFD)."""
    fields = [str((server or {}).get(key) or "") for key in _SERVER_FIELDS[:4]]
    return (
        go_trim_space(fields[0]),
        go_trim_space(fields[1]),
        go_trim_lower(fields[2]),
        go_trim_lower(fields[3]),
    )


def _stale(updated_at: GoTime | None, max_age_seconds: int, now: Callable[[], GoTime]) -> bool:
    if updated_at is None:
        return True
    try:
        deadline = updated_at.add_nanos(max_age_seconds * 1_000_000_000)
    except OverflowError:  # beyond year 9999: not stale before then
        return False
    return deadline.instant() < now().instant()


def _entry_failures(
    policy: MCPTrust, entry: SnapshotEntry, now: Callable[[], GoTime]
) -> tuple[list[str], bool, bool]:
    """The failed checks of a snapshot entry, in the reference's order, and whether its
    publisher is allowed and its registry verification holds (each False when not checked)."""
    failures = []
    if entry.status not in _TRUSTED_STATUSES:
        failures.append("mcp_trust_status_untrusted")
    publisher_allowed = bool(policy.publisher_allowlist) and _contains_fold(
        policy.publisher_allowlist, entry.publisher
    )
    if policy.publisher_allowlist and not publisher_allowed:
        failures.append("mcp_trust_publisher_untrusted")
    registry_verified = policy.require_registry and entry.registry_verified
    if policy.require_registry and not registry_verified:
        failures.append("mcp_trust_registry_unverified")
    max_age = policy.max_age_seconds
    if max_age > 0 and _stale(entry.updated_at, max_age, now):
        failures.append("mcp_trust_stale")
    if policy.min_score > 0 and entry.score < policy.min_score:
        failures.append("mcp_trust_below_threshold")
    return failures, publisher_allowed, registry_verified


def decide_trust(
    policy: MCPTrust,
    server: Mapping[str, Any] | None,
    risk_class: str,
    snapshots: SnapshotSource,
    now: Callable[[], GoTime] = GoTime.now,
) -> TrustDecision:
    """The trust decision for one server (`policy` must be enabled)."""
    required = _contains_fold(policy.required_risk_classes, risk_class)
    identity = _trimmed_server(server)
    key = server_key(identity[0], identity[1])
    state = snapshots(policy.snapshot) if key else None
    entry = state.snapshot.entries.get(key) if state and state.snapshot else None
    publisher_allowed = registry_verified = False
    if not key:
        status, reasons = "missing", ["mcp_trust_identifier_missing"]
    elif state is not None and state.snapshot is None:
        status = "missing" if state.reason == UNAVAILABLE else "invalid"
        reasons = [state.reason]
    elif entry is None:
        status, reasons = "unknown", ["mcp_trust_server_unknown"]
    else:
        failures, publisher_allowed, registry_verified = _entry_failures(policy, entry, now)
        status = _STATUS_BY_REASON[failures[0]] if failures else "trusted"
        reasons = sorted(set(failures)) or ["mcp_trust_verified"]
    enforced = required and status != "trusted"
    source = go_trim_space(policy.snapshot)
    if entry is not None:
        identity = (entry.server_id, entry.server_name, entry.publisher, entry.source)
        source = entry.evidence_path or source
    values = (
        *identity,
        status,
        source,
        entry.score if entry is not None else 0.0,
        policy.min_score,
        entry.updated_at_text if entry is not None else ZERO_TIME_TEXT,
        policy.max_age_seconds,
        required,
        enforced,
        registry_verified,
        publisher_allowed,
        reasons,
    )
    return TrustDecision(
        status=status,
        reason_codes=tuple(reasons),
        required=required,
        enforced=enforced,
        detail=state.detail if state is not None else "",
        # Go's omitempty: a zero time is a struct, never empty, so `updated_at` always shows.
        wire={
            field: value
            for field, value in zip(_DECISION_FIELDS, values, strict=True)
            if value not in _EMPTY or field == "updated_at"
        },
    )


def stricter_for_trust(current: str, action: str) -> str:
    """The reference's verdict when trust is enforced: `block` and `dry_run` stay (neither
    executes), otherwise the stricter of the current verdict and the action."""
    if current in ("block", "dry_run"):
        return current
    if action == "block":
        return "block"
    return "require_approval"


def apply_trust(decision: GateDecision, trust: TrustDecision, action: str) -> GateDecision:
    """The decision with the trust check's reason codes (always), and when enforced its
    violation and the stricter verdict; it carries the decision object into the trace."""
    reasons = tuple(sorted({*decision.reason_codes, *trust.reason_codes}))
    verdict, violations = decision.verdict, decision.violations
    if trust.enforced:
        verdict = stricter_for_trust(verdict, action)
        violations = tuple(sorted({*violations, TRUST_VIOLATION}))
    return attrs.evolve(
        decision,
        verdict=verdict,
        reason_codes=reasons,
        violations=violations,
        mcp_trust=dict(trust.wire),
    )


# ---- `gait mcp verify` ------------------------------------------------------------------------


def default_risk_class(policy: MCPTrust) -> str:
    """The most severe of the required risk classes (unknown ones rank last), else `high`."""
    if not policy.required_risk_classes:
        return "high"
    return min(
        policy.required_risk_classes,
        key=lambda c: _SEVERITY.index(c) if c in _SEVERITY else len(_SEVERITY),
    )


def read_server(path: str) -> dict[str, str]:
    """A server description file (`server_id`, `server_name`, `publisher`, `source`,
    `endpoint`), size-limited and strictly typed."""
    from gait.fsutil import read_regular_file
    from gait.strictjson import JSONReadError, loads

    try:
        data = read_regular_file(path.strip(), MAX_INTENT_BYTES, what="server description")
    except InvalidInputError as exc:
        raise InvalidInputError(f"read server description: {exc}") from None
    try:
        raw = loads(data)
    except JSONReadError as exc:
        raise InvalidInputError(f"parse server description: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidInputError("parse server description: not a JSON object")
    server = {}
    for key in _SERVER_FIELDS:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(f"parse server description: {key} must be a string")
        server[key] = go_text(value or "")
    if not server_key(server["server_id"], server["server_name"]):
        raise InvalidInputError("server description requires server_id or server_name")
    return server
