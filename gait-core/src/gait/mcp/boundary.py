"""One tool call, decided: the pipeline of `gait mcp proxy` and of each `gait mcp serve` request
(integrations.md §1.5).

    payload --adapter--> native call --checks--> intent --Gate.evaluate + enforce--> outcome
        --> emergency stop --> signed trace (atomic) --> optional runpack --> proxy output

The gate and the signing key are arguments: the CLI loads them once per invocation, the service
once per process (and the policy again only when its file changes).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from gait import __version__
from gait.errors import InvalidInputError
from gait.evaluate import EXIT_CODE_BY_VERDICT
from gait.fsutil import writing
from gait.gate import EnforceOptions, Gate, GateDecision, GateOutcome, enforce
from gait.gostrings import go_lower, go_trim_space
from gait.mcp.toolcall import (
    Decoder,
    ToolCallError,
    call_intent,
    fallback_context_used,
)
from gait.timefmt import GoTime

if TYPE_CHECKING:
    from gait.contracts.trace import TraceRecord
    from gait.exports import Exports
    from gait.keys import SigningKey
    from gait.mcp.trust import SnapshotSource

PROFILES: Final = ("standard", "oss-prod")
AUTH_MODES: Final = ("off", "none", "token", "oauth", "oauth_dcr")
FALLBACK_WARNING: Final = (
    "standard profile applied fallback intent context; use --profile oss-prod for strict context "
    "enforcement"
)
PERMISSIVE_POLICY: Final = (
    "oss-prod profile rejects policy default_verdict=allow; use default_verdict: block or "
    "require_approval"
)
ENVELOPE_PATH_REJECTED: Final = (
    "call.context.context_envelope_path is not supported; use --context-envelope at the boundary"
)
JOBS_UNSUPPORTED: Final = "job runtime state is not available in this version"


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise InvalidInputError(
            f'unsupported --profile value "{profile}" (expected standard or oss-prod)'
        )
    return profile


@attrs.frozen(kw_only=True)
class Settings:
    """What stays the same for every call of one proxy invocation or one server."""

    profile: str = "standard"
    key_mode: str = "dev"
    key_warnings: tuple[str, ...] = ()
    rate_limit_state: Path | None = None
    # Where MCP trust snapshots come from: read per call unless the service passes a cache.
    trust_snapshots: SnapshotSource | None = None


@attrs.frozen(kw_only=True)
class CallRequest:
    """One call: the adapter's payload and where its artifacts go.

    `trace_path` is a path the caller chose (replaced if it exists); otherwise the trace gets a
    new name `trace_<run id>_<UTC time>.json` in `trace_dir`, never replacing a file.
    """

    adapter: str
    payload: Any
    run_id: str = ""
    trace_path: Path | None = None
    trace_dir: Path = Path()
    runpack_out: Path | None = None


@attrs.frozen(kw_only=True)
class CallOutcome:
    output: dict[str, Any]
    exit_code: int
    verdict: str
    session_id: str


# ---- names ------------------------------------------------------------------------------------

_RUN_ID_JUNK: Final = re.compile(r"[^A-Za-z0-9_-]+")


def normalize_run_id(raw: str) -> str:
    """`"my run id"` -> `run_my_run_id`; empty stays empty."""
    value = _RUN_ID_JUNK.sub("_", go_trim_space(raw)).strip("_")
    if not value:
        return ""
    return value if value.startswith("run_") else "run_" + value


def timestamp_ns(now_ns: int | None = None) -> str:
    """UTC `YYYYMMDDTHHMMSS.nnnnnnnnn`, the reference's artifact-name timestamp."""
    ns = time.time_ns() if now_ns is None else now_ns
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds)) + f".{nanos:09d}"


def check_output_path(path: Path, what: str) -> Path:
    """A relative artifact path may not leave the working directory."""
    if not path.is_absolute() and ".." in path.parts:
        raise InvalidInputError(f"relative {what} path must not traverse parent directories")
    return path


class DirectorySync:
    """Group commit of a directory's fsync: one fsync makes durable every name linked into the
    directory before it started, so concurrent writers share it instead of queueing for one
    each."""

    def __init__(self, directory: Path) -> None:
        self.fd = os.open(directory, os.O_RDONLY)
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._running = False

    def sync(self) -> None:
        with self._cond:
            self._requested += 1
            ticket = self._requested  # our link happened before this point
            while self._done < ticket:
                if self._running:
                    self._cond.wait()
                    continue
                self._running = True
                covered = self._requested
                self._cond.release()
                try:
                    os.fsync(self.fd)
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._cond.notify_all()
                self._done = max(self._done, covered)


_SYNCS: dict[Path, DirectorySync] = {}
_SYNCS_LOCK = threading.Lock()
_SEQUENCE = itertools.count()


def _directory_sync(directory: Path) -> DirectorySync:
    sync = _SYNCS.get(directory)
    if sync is None:
        with _SYNCS_LOCK:
            sync = _SYNCS.setdefault(directory, DirectorySync(directory))
    return sync


def remove_stale_temporaries(directory: Path) -> int:
    """Remove the temporary files of writers that are gone (a SIGKILLed server leaves the one it
    was writing); a temporary file names its writer's process id."""
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed += 1
    return removed


_TEMPORARY: Final = re.compile(r"^\.[\w-]*?(\d+)\.\d+\.tmp$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process nobody has reaped yet is gone too
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def write_new(directory: Path, prefix: str, suffix: str, data: bytes) -> Path:
    """Write `data` under a new `<prefix><UTC time><suffix>` name in `directory`, atomically and
    durably: the data goes into a file with no name yet (O_TMPFILE; where that is missing, a
    temporary name), is `fdatasync`ed, then linked to its name (a name taken by another writer,
    thread or process, moves to the next nanosecond), and the directory is fsynced with the
    other writers of the moment. A reader, or a crash, sees the whole file or none (mode 0600).
    """
    sync = _directory_sync(directory)
    try:
        fd = os.open(directory, _TMPFILE_FLAGS, 0o600)
        tmp = None
    except OSError:  # no O_TMPFILE (other systems, some file systems)
        tmp = directory / f".{prefix}{os.getpid()}.{next(_SEQUENCE)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fdatasync(fd)
        source = f"/proc/self/fd/{fd}" if tmp is None else tmp
        now = time.time_ns()
        while True:
            path = directory / f"{prefix}{timestamp_ns(now)}{suffix}"
            try:
                # linkat(AT_SYMLINK_FOLLOW) gives the unnamed file its name; a directory fd
                # makes os.link call linkat rather than link.
                os.link(source, path, src_dir_fd=sync.fd, follow_symlinks=True)
            except FileExistsError:
                now += 1
                continue
            break
    finally:
        os.close(fd)
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    sync.sync()
    return path


_TMPFILE_FLAGS: Final = getattr(os, "O_TMPFILE", 0) | os.O_WRONLY | os.O_CLOEXEC


# ---- checks before evaluation -----------------------------------------------------------------

_OAUTH_REQUIRED: Final = (
    "issuer",
    "audience",
    "subject",
    "client_id",
    "token_type",
    "scopes",
    "redirect_uri",
    "evidence_ref",
)


def _nonempty(value: Any) -> bool:
    if isinstance(value, list):
        return any(isinstance(v, str) and go_trim_space(v) for v in value)
    return isinstance(value, str) and bool(go_trim_space(value))


def check_oauth(call: Mapping[str, Any], profile: str) -> None:
    """The OAuth boundary check of §1.5 step 5."""
    context = call.get("context") or {}
    auth_context = context.get("auth_context") or {}
    mode = go_lower(go_trim_space(context.get("auth_mode", "")))
    if not mode and isinstance(auth_context.get("oauth_mode"), str):
        mode = go_lower(go_trim_space(auth_context["oauth_mode"]))
    if not mode:
        if context.get("oauth_evidence") is None:
            return
        mode = "oauth"
    if mode not in AUTH_MODES:
        raise InvalidInputError("context.auth_mode must be one of off|none|token|oauth|oauth_dcr")
    if mode in ("off", "none", "token") or profile != "oss-prod":
        return
    evidence = context.get("oauth_evidence")
    if evidence is None and isinstance(auth_context.get("oauth_evidence"), dict):
        evidence = auth_context["oauth_evidence"]
    if evidence is None:
        raise InvalidInputError("oss-prod with OAuth auth mode requires context.oauth_evidence")
    required = _OAUTH_REQUIRED + (("dcr_client_id", "token_binding") if mode == "oauth_dcr" else ())
    missing = [name for name in required if not _nonempty(evidence.get(name))]
    auth_time = evidence.get("auth_time")
    if not _nonempty(auth_time):
        missing.append("auth_time")
    else:
        try:
            GoTime.parse(go_trim_space(auth_time))
        except ValueError:
            raise InvalidInputError("context.oauth_evidence.auth_time must be RFC3339") from None
    if missing:
        raise InvalidInputError(f"missing OAuth evidence fields: {', '.join(missing)}")


# ---- the pipeline -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Evaluated:
    """A call decided by the policy, before post-evaluation (rate limits) and signing."""

    call: dict[str, Any]
    decision: GateDecision
    started: float

    @property
    def needs_state(self) -> bool:
        """Whether post-evaluation reads and writes the rate-limit state file (blocking I/O)."""
        evaluation = self.decision.evaluation
        return evaluation.rate_limit is not None or evaluation.destructive_budget is not None


@attrs.frozen(kw_only=True)
class Signed:
    evaluated: Evaluated
    outcome: GateOutcome
    trace: TraceRecord
    wire: dict[str, Any]
    warnings: tuple[str, ...]


def evaluate_call(
    gate: Gate, decoder: Decoder, request: CallRequest, settings: Settings
) -> Evaluated:
    """Steps 1-8 of §1.5: decode, boundary checks, intent, policy, MCP server trust. CPU only,
    but for the trust snapshot (a stat, and a read when the file changed) when the policy
    checks trust."""
    started = time.perf_counter()
    call = decoder(request.payload)
    context = call.get("context") or {}
    if go_trim_space(context.get("context_envelope_path", "")):
        raise InvalidInputError(ENVELOPE_PATH_REJECTED)
    strict = settings.profile == "oss-prod"
    check_oauth(call, settings.profile)
    if strict and settings.key_mode != "prod":
        raise InvalidInputError("oss-prod profile requires --key-mode prod")
    if strict and gate.policy.policy.default_verdict == "allow":
        raise InvalidInputError(PERMISSIVE_POLICY)
    decision = gate.evaluate(call_intent(call, strict=strict))
    intent = decision.evaluation.intent
    if intent is None:
        raise ToolCallError("intent is not evaluable: " + ",".join(decision.reason_codes))
    trust = gate.policy.policy.mcp_trust
    if trust.enabled:
        from gait.mcp.trust import apply_trust, decide_trust, read_snapshot

        # The risk class the policy decided with (`high` when the call has none), not the
        # call's raw one: leaving it out must not skip the check (docs/compatibility.md).
        checked = decide_trust(
            trust,
            call.get("server"),
            intent.context.risk_class,
            settings.trust_snapshots or read_snapshot,
        )
        decision = apply_trust(decision, checked, trust.action)
    return Evaluated(call=call, decision=decision, started=started)


def sign_call(gate: Gate, evaluated: Evaluated, key: SigningKey, settings: Settings) -> Signed:
    """Post-evaluation (rate limits: file I/O when `needs_state`), emergency stop, signing."""
    decision = evaluated.decision
    intent = decision.evaluation.intent
    assert intent is not None
    outcome = enforce(decision, EnforceOptions(rate_limit_state=settings.rate_limit_state))
    warnings = list(settings.key_warnings)
    if intent.context.job_id:
        # No job runtime here: every job is one whose state cannot be read, and the reference
        # blocks those (emergency_stop_state_unavailable).
        outcome = _preempt(outcome, "emergency_stop_state_unavailable")
        warnings.append(f"job_status_unavailable={JOBS_UNSUPPORTED}")
    if settings.profile != "oss-prod" and fallback_context_used(evaluated.call):
        warnings.append(FALLBACK_WARNING)
    trace, wire = gate.sign_trace_wire(outcome, key)
    return Signed(
        evaluated=evaluated, outcome=outcome, trace=trace, wire=wire, warnings=tuple(warnings)
    )


def store_call(
    signed: Signed, key: SigningKey, request: CallRequest, trace_path: Path | None = None
) -> CallOutcome:
    """Write the trace (unless the caller wrote it to `trace_path`) and the runpack, and build
    the output (§1.6). Blocking file I/O."""
    if trace_path is None:
        trace_path = write_trace_of(signed, request)
    decision = signed.evaluated.decision
    outcome, trace = signed.outcome, signed.trace
    intent = decision.evaluation.intent
    assert intent is not None
    context = signed.evaluated.call.get("context") or {}
    run_id = (
        normalize_run_id(request.run_id)
        or normalize_run_id(context.get("run_id", ""))
        or "run_mcp_" + decision.intent_digest[:12]
    )
    runpack_path = ""
    if request.runpack_out is not None:
        runpack_path = str(write_runpack(request.runpack_out, run_id, outcome, trace, key))
    latency_ms = max(int((time.perf_counter() - signed.evaluated.started) * 1000), 0)
    output = {
        "ok": True,
        "executed": False,
        "adapter": request.adapter,
        "run_id": run_id,
        "job_id": intent.context.job_id,
        "phase": intent.context.phase,
        "session_id": intent.context.session_id,
        "tool_name": intent.tool_name,
        "verdict": outcome.verdict,
        "reason_codes": list(outcome.reason_codes),
        "violations": list(outcome.violations),
        "policy_digest": decision.policy_digest,
        "policy_id": trace.policy_id,
        "policy_version": trace.policy_version,
        "matched_rule_ids": list(trace.matched_rule_ids),
        "intent_digest": decision.intent_digest,
        "decision_latency_ms": latency_ms,
        "trace_id": trace.trace_id,
        "trace_path": str(trace_path),
        "runpack_path": runpack_path,
        "mcp_trust": decision.mcp_trust,
        "warnings": list(signed.warnings),
        "relationship": trace.relationship,
    }
    return CallOutcome(
        output={k: v for k, v in output.items() if v not in ("", [], None, 0) or k in _ALWAYS},
        exit_code=EXIT_CODE_BY_VERDICT[outcome.verdict],
        verdict=outcome.verdict,
        session_id=intent.context.session_id,
    )


def decide_call(
    gate: Gate,
    key: SigningKey,
    decoder: Decoder,
    request: CallRequest,
    settings: Settings,
    exports: Exports | None = None,
) -> CallOutcome:
    """Decide one call, write its signed trace and export it; raises InvalidInputError for a
    call that cannot be decided (nothing is written then). The service runs the same steps,
    with the CPU-only ones on its event loop and the file I/O on a thread pool."""
    evaluated = evaluate_call(gate, decoder, request, settings)
    signed = sign_call(gate, evaluated, key, settings)
    outcome = store_call(signed, key, request)
    if exports is not None:
        exports.record_call(signed.trace, outcome.output)
    return outcome


_ALWAYS: Final = frozenset({"ok", "executed"})


def _preempt(outcome: GateOutcome, reason: str) -> GateOutcome:
    return attrs.evolve(
        outcome,
        verdict="block",
        reason_codes=tuple(sorted({*outcome.reason_codes, reason})),
        violations=tuple(sorted({*outcome.violations, "emergency_stop_active"})),
    )


def trace_file(signed: Signed, request: CallRequest) -> tuple[str, bytes]:
    """The default trace name's prefix (`trace_<run id>_`) and the file's bytes."""
    from gait.trace import trace_json_bytes

    return f"trace_{normalize_run_id(request.run_id)}_", trace_json_bytes(signed.wire)


def write_trace_of(signed: Signed, request: CallRequest) -> Path:
    from gait.trace import write_trace_bytes

    prefix, data = trace_file(signed, request)
    if request.trace_path is not None:
        write_trace_bytes(request.trace_path, data)
        return request.trace_path
    # The name is chosen when the file is complete; a failure names the pattern.
    with writing(request.trace_dir / f"{prefix}*.json", "trace"):
        return write_new(request.trace_dir, prefix, ".json", data)


def write_runpack(
    path: Path, run_id: str, outcome: GateOutcome, trace: TraceRecord, key: SigningKey
) -> Path:
    """The one-decision runpack of §1.5 step 15, in reference capture mode (digests only)."""
    from gait.canonical import digest
    from gait.runpack.record import RecordInput, build_runpack
    from gait.runpack.zipio import write_runpack_zip

    check_output_path(path, "runpack output")
    intent = outcome.decision.evaluation.intent
    assert intent is not None
    created = trace.created_at.format()
    result = {
        "verdict": outcome.verdict,
        "reason_codes": list(outcome.reason_codes),
        "violations": list(outcome.violations),
        "trace_id": trace.trace_id,
    }
    common = {"created_at": created, "producer_version": __version__, "run_id": run_id}
    source = RecordInput.from_json(
        {
            "run": {
                **common,
                "timeline": [
                    {"event": "proxy_eval_start", "ts": created},
                    {"event": "proxy_eval_finish", "ts": created},
                ],
            },
            "intents": [
                {
                    **common,
                    "intent_id": "intent_1",
                    "tool_name": intent.tool_name,
                    "args_digest": intent.args_digest,
                }
            ],
            "results": [
                {
                    **common,
                    "intent_id": "intent_1",
                    "status": "ok" if outcome.verdict in ("allow", "dry_run") else "error",
                    "result_digest": digest(result),
                }
            ],
            "refs": {**common, "receipts": []},
        }
    )
    built = build_runpack(source, capture_mode="reference", signing_key=key)
    if path.parent != Path():
        with writing(path, "runpack"):
            os.makedirs(path.parent, mode=0o750, exist_ok=True)
    write_runpack_zip(path, built.members)
    return path
