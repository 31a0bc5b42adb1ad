"""One decision, end to end: the only place a decision is assembled (docs/architecture.md).

    Request --adapt--> native call            (adapter form: mcp proxy|serve, hooks)
            --normalize--> intent             (profile, oss-prod and OAuth checks)
            --evaluate--> GateDecision        (policy + plugin evaluators; MCP server trust)
            --enforce--> GateOutcome          (rate limits, budgets, approvals, simulate,
                                               emergency stop)
            --sign--> Signed                  (trace record and its signed wire form)
            --persist--> Result               (trace file, runpack or approval audit, extra
                                               artifacts, the command's output)
            --export--> exporters   --sink--> sinks (non-allow decisions)

`decide(request, runtime)` runs the stages in that order. Every entry point calls it (`gait gate
eval`, `gait mcp proxy`, the Gas Town hook's local path, the Python API), or calls the same stage
functions in the same order with its own scheduling: `gait mcp serve` runs the CPU-only stages
on its event loop, `enforce` on its pool when it touches state files, `persist` through its
group-commit trace writer, exports in the background, and sinks that return at once.

A request comes in one of two forms: an intent (`adapter` empty: `gait gate eval`, the Python
API) or an adapter's payload (`adapter` and `decoder` set). Only the adapter form has a native
call, so only it has the OAuth and server-trust checks, the emergency stop and the proxy output;
only the intent form carries approval tokens and simulate mode (the reference's split).

The types progress: `gait.evaluate.Decision` (the policy alone) -> `GateDecision` (+ plugins,
trust) -> `GateOutcome` (+ post-evaluation) -> `Signed` (+ trace) -> `Result` (+ artifacts).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from gait.errors import InvalidInputError
from gait.evaluate import EXIT_CODE_BY_VERDICT
from gait.fsutil import writing
from gait.gate import EnforceOptions, Gate, GateDecision, GateOutcome, enforce
from gait.gostrings import go_trim_space
from gait.mcp.artifacts import normalize_run_id, write_new, write_runpack
from gait.mcp.checks import (
    ENVELOPE_PATH_REJECTED,
    FALLBACK_WARNING,
    JOBS_UNSUPPORTED,
    check_oauth,
    check_strict,
)
from gait.pipeline_output import call_output, gate_event, gate_output

if TYPE_CHECKING:
    from gait.contracts.trace import TraceRecord
    from gait.exports import Exports
    from gait.keys import SigningKey, VerifyKey
    from gait.mcp.toolcall import Decoder
    from gait.mcp.trust import SnapshotSource
    from gait.registry import Sink

__all__ = [
    "Evaluated",
    "Request",
    "Result",
    "Runtime",
    "Settings",
    "Signed",
    "adapt",
    "decide",
    "enforce_stage",
    "evaluate_stage",
    "export",
    "normalize",
    "persist",
    "prepare",
    "settle",
    "sign",
    "sink",
    "trace_file",
]


# The records below are compared by identity and not printed: without generated `__eq__`,
# `__hash__` and `__repr__` they cost half as much to define, which every `gait gate eval`
# and `gait mcp proxy` pays at start-up.


@attrs.frozen(kw_only=True)
class Settings:
    """What stays the same for every decision of one invocation or one server."""

    profile: str = "standard"
    key_mode: str = "dev"
    key_warnings: tuple[str, ...] = ()
    rate_limit_state: Path | None = None
    # Where MCP trust snapshots come from: read per call unless the service passes a cache.
    trust_snapshots: SnapshotSource | None = None


@attrs.frozen(kw_only=True, eq=False, repr=False)
class Runtime:
    """What a decision runs with: the gate (policy and plugins), the signing key, the settings,
    and where its record goes (exporters, sinks, extra artifacts such as the Gas Town intent
    record, each called with the `Result` after the trace is written)."""

    gate: Gate
    key: SigningKey
    settings: Settings = Settings()
    # The key that verifies approval tokens; None: the signing key's public half.
    approval_key: VerifyKey | None = None
    exports: Exports | None = None
    sinks: Sequence[Sink] = ()
    artifacts: Sequence[Callable[[Result], None]] = ()


@attrs.frozen(kw_only=True, eq=False, repr=False)
class Request:
    """One decision to make and where its artifacts go.

    `trace_path` is a path the caller chose (replaced if it exists). Otherwise an adapter-form
    trace gets a new name `trace_<run id>_<UTC time>.json` in `trace_dir`, never replacing a
    file, and an intent-form trace is `trace_<trace id>.json`.
    """

    payload: Any
    adapter: str = ""
    decoder: Decoder | None = None
    run_id: str = ""
    trace_path: Path | None = None
    trace_dir: Path = Path()
    runpack_out: Path | None = None
    # Intent form (`gait gate eval`): post-evaluation inputs and artifacts.
    simulate: bool = False
    # Read only when the verdict is require_approval.
    approval_tokens: Callable[[], Sequence[Mapping[str, Any]]] | None = None
    approval_token_ref: str = ""
    approval_audit_out: Path | None = None
    correlation_id: str = ""

    @property
    def is_call(self) -> bool:
        return bool(self.adapter)


@attrs.frozen(kw_only=True, eq=False, repr=False)
class Evaluated:
    """After `evaluate`: the policy's decision (with plugins and trust), before enforcement."""

    request: Request
    call: dict[str, Any] | None
    decision: GateDecision
    started: float

    @property
    def needs_state(self) -> bool:
        """Whether `enforce` reads and writes the rate-limit state file (blocking I/O)."""
        evaluation = self.decision.evaluation
        return evaluation.rate_limit is not None or evaluation.destructive_budget is not None


@attrs.frozen(kw_only=True, eq=False, repr=False)
class Signed:
    """After `enforce` and `sign`: the final outcome and its signed trace."""

    evaluated: Evaluated
    outcome: GateOutcome
    trace: TraceRecord
    wire: dict[str, Any]
    warnings: tuple[str, ...]


@attrs.frozen(kw_only=True, eq=False, repr=False)
class Result:
    """After `persist`: the artifacts written and the command's output (the JSON answer of
    `gait gate eval`, `gait mcp proxy` or a service request), which `export` may extend."""

    signed: Signed
    output: dict[str, Any]
    trace_path: Path
    exit_code: int
    verdict: str
    session_id: str


# ---- the stages -------------------------------------------------------------------------------


def adapt(request: Request) -> dict[str, Any] | None:
    """The adapter's payload as a native MCP call (None for the intent form)."""
    if not request.is_call:
        return None
    if request.decoder is None:
        raise InvalidInputError(f"no decoder for adapter {request.adapter!r}")
    call = request.decoder(request.payload)
    context = call.get("context") or {}
    if go_trim_space(context.get("context_envelope_path", "")):
        raise InvalidInputError(ENVELOPE_PATH_REJECTED)
    return call


def normalize(request: Request, runtime: Runtime, call: dict[str, Any] | None) -> Any:
    """The checks before evaluation, and the raw intent to evaluate."""
    settings = runtime.settings
    form = "call" if call is not None else "intent"
    if call is not None:
        check_oauth(call, settings.profile)
    check_strict(
        settings.profile,
        key_mode=settings.key_mode,
        default_verdict=runtime.gate.policy.policy.default_verdict,
        simulate=request.simulate,
        form=form,
    )
    if call is None:
        return request.payload
    from gait.mcp.toolcall import call_intent

    return call_intent(call, strict=settings.profile == "oss-prod")


def evaluate_stage(
    request: Request, runtime: Runtime, call: dict[str, Any] | None, intent: Any, started: float
) -> Evaluated:
    """Policy and plugin evaluators (`Gate.evaluate`), then MCP server trust for a call. An
    intent that cannot be normalized is invalid input: nothing is written for it."""
    gate = runtime.gate
    decision = gate.evaluate(intent)
    normalized = decision.evaluation.intent
    if normalized is None:
        message = "intent is not evaluable: " + ",".join(decision.reason_codes)
        if call is None:
            raise InvalidInputError(message)
        from gait.mcp.toolcall import ToolCallError

        raise ToolCallError(message)
    trust = gate.policy.policy.mcp_trust
    if call is not None and trust.enabled:
        from gait.mcp.trust import apply_trust, decide_trust, read_snapshot

        # The risk class the policy decided with (`high` when the call has none), not the
        # call's raw one: leaving it out must not skip the check (docs/compatibility.md).
        checked = decide_trust(
            trust,
            call.get("server"),
            normalized.context.risk_class,
            runtime.settings.trust_snapshots or read_snapshot,
        )
        decision = apply_trust(decision, checked, trust.action)
    return Evaluated(request=request, call=call, decision=decision, started=started)


def prepare(request: Request, runtime: Runtime) -> Evaluated:
    """adapt, normalize, evaluate: CPU only (but a trust snapshot's stat when the policy checks
    trust)."""
    started = time.perf_counter()
    call = adapt(request)
    intent = normalize(request, runtime, call)
    return evaluate_stage(request, runtime, call, intent, started)


def enforce_stage(evaluated: Evaluated, runtime: Runtime) -> tuple[GateOutcome, tuple[str, ...]]:
    """Rate limits and budgets (state-file I/O when `needs_state`), approval tokens, simulate
    mode, and for a call the emergency stop; the outcome and the warnings to show."""
    request, decision = evaluated.request, evaluated.decision
    settings = runtime.settings
    tokens: Sequence[Mapping[str, Any]] = ()
    if decision.verdict == "require_approval" and request.approval_tokens is not None:
        tokens = request.approval_tokens()
    outcome = enforce(
        decision,
        EnforceOptions(
            approval_tokens=tokens,
            approval_key=runtime.approval_key or runtime.key.public,
            rate_limit_state=settings.rate_limit_state,
            simulate=request.simulate,
        ),
    )
    warnings = list(settings.key_warnings)
    if evaluated.call is not None:
        intent = decision.evaluation.intent
        assert intent is not None
        if intent.context.job_id:
            # No job runtime here: every job is one whose state cannot be read, and the
            # reference blocks those (emergency_stop_state_unavailable).
            outcome = _preempt(outcome, "emergency_stop_state_unavailable")
            warnings.append(f"job_status_unavailable={JOBS_UNSUPPORTED}")
        if settings.profile != "oss-prod":
            from gait.mcp.toolcall import fallback_context_used

            if fallback_context_used(evaluated.call):
                warnings.append(FALLBACK_WARNING)
    return outcome, tuple(warnings)


def sign(
    evaluated: Evaluated, runtime: Runtime, outcome: GateOutcome, warnings: tuple[str, ...]
) -> Signed:
    """Build and sign the trace (plugins' `gait_export` hook sees it)."""
    request = evaluated.request
    trace, wire = runtime.gate.sign_trace_wire(
        outcome,
        runtime.key,
        correlation_id=request.correlation_id,
        approval_token_ref=request.approval_token_ref,
    )
    return Signed(evaluated=evaluated, outcome=outcome, trace=trace, wire=wire, warnings=warnings)


def settle(evaluated: Evaluated, runtime: Runtime) -> Signed:
    """enforce, then sign (the service runs this pair on its pool when `needs_state`)."""
    outcome, warnings = enforce_stage(evaluated, runtime)
    return sign(evaluated, runtime, outcome, warnings)


def trace_file(signed: Signed) -> tuple[str, bytes]:
    """An adapter-form trace's default name prefix (`trace_<run id>_`) and the file's bytes."""
    from gait.trace import trace_json_bytes

    run_id = normalize_run_id(signed.evaluated.request.run_id)
    return f"trace_{run_id}_", trace_json_bytes(signed.wire)


def persist(signed: Signed, runtime: Runtime, trace_path: Path | None = None) -> Result:
    """Write the trace (unless the caller already wrote it to `trace_path`), the runpack (a
    call) or the approval audit (an intent), the runtime's extra artifacts, and build the
    output. Blocking file I/O."""
    from gait.trace import write_trace_bytes

    request = signed.evaluated.request
    if trace_path is None:
        if request.trace_path is not None or not request.is_call:
            trace_path = request.trace_path or Path(f"trace_{signed.outcome.trace_id}.json")
            write_trace_bytes(trace_path, trace_file(signed)[1])
        else:
            prefix, data = trace_file(signed)
            # The name is chosen when the file is complete; a failure names the pattern.
            with writing(request.trace_dir / f"{prefix}*.json", "trace"):
                trace_path = write_new(request.trace_dir, prefix, ".json", data)
    output = _call_artifacts(signed, runtime, trace_path) if request.is_call else None
    if output is None:
        output = _intent_artifacts(signed, runtime, trace_path)
    outcome = signed.outcome
    intent = outcome.decision.evaluation.intent
    assert intent is not None
    result = Result(
        signed=signed,
        output=output,
        trace_path=trace_path,
        exit_code=EXIT_CODE_BY_VERDICT[outcome.verdict],
        verdict=outcome.verdict,
        session_id=intent.context.session_id,
    )
    for artifact in runtime.artifacts:
        artifact(result)
    return result


def _call_artifacts(signed: Signed, runtime: Runtime, trace_path: Path) -> dict[str, Any]:
    request = signed.evaluated.request
    decision = signed.evaluated.decision
    context = (signed.evaluated.call or {}).get("context") or {}
    run_id = (
        normalize_run_id(request.run_id)
        or normalize_run_id(context.get("run_id", ""))
        or "run_mcp_" + decision.intent_digest[:12]
    )
    runpack_path = ""
    if request.runpack_out is not None:
        written = write_runpack(
            request.runpack_out, run_id, signed.outcome, signed.trace, runtime.key
        )
        runpack_path = str(written)
    latency_ms = max(int((time.perf_counter() - signed.evaluated.started) * 1000), 0)
    return call_output(
        signed.outcome,
        signed.trace,
        adapter=request.adapter,
        run_id=run_id,
        trace_path=str(trace_path),
        runpack_path=runpack_path,
        latency_ms=latency_ms,
        warnings=signed.warnings,
    )


def _intent_artifacts(signed: Signed, runtime: Runtime, trace_path: Path) -> dict[str, Any]:
    from gait.fsutil import write_atomic
    from gait.trace import trace_json_bytes

    request, outcome = signed.evaluated.request, signed.outcome
    output = gate_output(outcome, str(trace_path), runtime.settings.profile, signed.warnings)
    if outcome.approval is not None and outcome.approval_context is not None:
        intent = outcome.decision.evaluation.intent
        assert intent is not None
        audit_path = request.approval_audit_out or Path(f"approval_audit_{outcome.trace_id}.json")
        audit = outcome.approval.audit_record(
            trace_id=outcome.trace_id, tool_name=intent.tool_name, context=outcome.approval_context
        )
        write_atomic(audit_path, trace_json_bytes(audit), what="approval audit")
        output["approval_audit_path"] = str(audit_path)
        if not outcome.approval.approval_ref and request.approval_token_ref:
            output["approval_ref"] = request.approval_token_ref
    return output


def export(result: Result, runtime: Runtime) -> None:
    """Hand the decision to the selected exporters, after every artifact is written (the
    reference's order): a failing fail-closed export fails the command, and the trace stays."""
    exports = runtime.exports
    if exports is None:
        return
    signed = result.signed
    if signed.evaluated.request.is_call:
        exports.record_call(signed.trace, result.output)
        return
    latency_ms = int((time.perf_counter() - signed.evaluated.started) * 1000)
    event = gate_event(signed.outcome, signed.trace, str(result.trace_path), latency_ms)
    exports.record(event, result.output)


def sink(result: Result, sinks: Sequence[Sink]) -> None:
    """Give a non-allow decision's trace to each sink (`submit` returns at once)."""
    trace_path = result.output.get("trace_path")
    if not sinks or result.verdict == "allow" or not trace_path:
        return
    for each in sinks:
        each.submit(trace_path, decision=result.output)


def decide(request: Request, runtime: Runtime) -> Result:
    """Decide one request: every stage, in order. Raises InvalidInputError (or another
    GaitError) for a request that cannot be decided; nothing is written then."""
    evaluated = prepare(request, runtime)
    result = persist(settle(evaluated, runtime), runtime)
    export(result, runtime)
    sink(result, runtime.sinks)
    return result


_PREEMPT_VIOLATION: Final = "emergency_stop_active"


def _preempt(outcome: GateOutcome, reason: str) -> GateOutcome:
    return attrs.evolve(
        outcome,
        verdict="block",
        reason_codes=tuple(sorted({*outcome.reason_codes, reason})),
        violations=tuple(sorted({*outcome.violations, _PREEMPT_VIOLATION})),
    )
