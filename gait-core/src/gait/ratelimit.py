"""Fixed-window counters for `rate_limit` and `destructive_budget`, in a locked state file.

The state file and its lock are the reference's (`gait.gate.rate_limit_state`,
`<state>.lock`), so both implementations can share one file.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import attrs

from gait.errors import InvalidInputError
from gait.fsutil import lock_file, write_atomic, writing
from gait.limits import MAX_RECORD_BYTES
from gait.timefmt import GoTime

STATE_SCHEMA = "gait.gate.rate_limit_state"
LOCK_RETRY_SECONDS = 0.015
LOCK_TIMEOUT_SECONDS = 3.0
LOCK_STALE_SECONDS = 15.0


@attrs.frozen(kw_only=True)
class LimitSpec:
    requests: int
    window: str = "minute"
    scope: str = "tool_identity"


@attrs.frozen(kw_only=True)
class LimitResult:
    allowed: bool
    key: str
    used: int
    remaining: int
    scope: str


def _bucket(now: GoTime, window: str) -> str:
    moment = now.utc().moment.replace(second=0, microsecond=0)
    if window == "hour":
        moment = moment.replace(minute=0)
    return GoTime(moment).format()


def _scope_key(scope: str, tool_name: str, identity: str) -> str:
    if scope == "tool":
        return tool_name
    if scope == "identity":
        return identity
    return f"{tool_name}|{identity}"


def _locked(state: Path) -> contextlib.AbstractContextManager[None]:
    lock = state.with_name(state.name + ".lock")
    with writing(state, "rate limit state"):
        lock.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps(
        {
            "schema_id": "gait.gate.rate_limit_lock",
            "pid": os.getpid(),
            "created_at": GoTime.now().format(),
        }
    ).encode()
    return lock_file(
        lock,
        timeout=LOCK_TIMEOUT_SECONDS,
        stale_after=LOCK_STALE_SECONDS,
        retry=LOCK_RETRY_SECONDS,
        what="rate limit state",
        body=body,
    )


def _read_counters(state: Path) -> dict[str, int]:
    from gait.fsutil import FileReadError, read_regular_file
    from gait.strictjson import loads

    try:
        data = read_regular_file(state, MAX_RECORD_BYTES, what="rate limit state")
    except FileReadError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            return {}
        raise
    try:
        parsed = loads(data)
        counters = parsed.get("counters") or []
        return {str(c["key"]): int(c["count"]) for c in counters}
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise InvalidInputError(f"rate limit state {state} is not valid: {exc}") from exc


def consume(
    state: Path, spec: LimitSpec, *, tool_name: str, identity: str, now: GoTime
) -> LimitResult:
    """Count one request in the current window; deny (without counting) when it is full."""
    bucket = _bucket(now, spec.window)
    key = f"{spec.window}|{spec.scope}|{bucket}|{_scope_key(spec.scope, tool_name, identity)}"
    with _locked(state):
        counters = {
            k: v
            for k, v in _read_counters(state).items()
            if len(k.split("|", 3)) == 4
            and not (k.split("|", 3)[0] == spec.window and k.split("|", 3)[2] != bucket)
        }
        used = counters.get(key, 0)
        if used >= spec.requests:
            allowed = False
        else:
            used += 1
            counters[key] = used
            allowed = True
        document = {
            "schema_id": STATE_SCHEMA,
            "schema_version": "1.0.0",
            "counters": [{"key": k, "count": counters[k]} for k in sorted(counters)],
        }
        data = (json.dumps(document, indent=2) + "\n").encode()
        write_atomic(state, data, what="rate limit state")
    return LimitResult(
        allowed=allowed,
        key=key,
        used=used,
        remaining=max(spec.requests - used, 0),
        scope=spec.scope,
    )
