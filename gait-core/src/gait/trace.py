"""Signed trace records (`gait.gate.trace`): build, sign, write atomically, read and verify."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring as _encode_string
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from gait.canonical import short_id
from gait.errors import InvalidInputError, VerificationError
from gait.fsutil import write_atomic
from gait.keys import SigningKey, VerifyKey
from gait.limits import MAX_RECORD_BYTES
from gait.signing import sign_record, verify_record

if TYPE_CHECKING:
    # Imported by the functions that build traces: reading and verifying one (`gait trace
    # verify`) needs neither the record classes nor their JSON form (start-up budget).
    from gait.contracts.trace import TraceRecord
    from gait.timefmt import GoTime

POLICY_ID = "gait.gate.policy"
POLICY_VERSION = "1.0.0"


def trace_id_for(policy_digest: str, intent_digest: str, verdict: str) -> str:
    """The reference trace_id: hex(sha256("<policy_digest>:<intent_digest>:<verdict>"))[:24]."""
    return short_id(f"{policy_digest}:{intent_digest}:{verdict}")


def relationship_for(
    *,
    identity: str,
    tool_name: str,
    policy_digest: str,
    trace_id: str,
    plugins: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """The graph envelope the reference attaches to every trace (covered by the signature).

    Plugins that took part in the decision appear as `plugin` entities (`name@version`) with an
    `evaluated_by` edge: the reference keeps this envelope when it re-encodes a trace, so such a
    trace still verifies there, which a new top-level field would not.
    """
    agent = {"kind": "agent", "id": identity}
    policy = {"kind": "policy", "id": policy_digest}
    tool = {"kind": "tool", "id": tool_name}
    plugin_refs = [{"kind": "plugin", "id": f"{p['name']}@{p['version']}"} for p in plugins]
    entities = sorted(
        (
            e
            for e in (agent, policy, tool, {"kind": "trace", "id": trace_id}, *plugin_refs)
            if e["id"]
        ),
        key=lambda e: (e["kind"], e["id"]),
    )
    edges = [
        {"kind": "calls", "from": agent, "to": tool},
        {"kind": "governed_by", "from": tool, "to": policy},
    ]
    edges += [{"kind": "evaluated_by", "from": tool, "to": ref} for ref in plugin_refs]
    return {
        "entity_refs": entities,
        "policy_ref": {
            "policy_id": POLICY_ID,
            "policy_version": POLICY_VERSION,
            "policy_digest": policy_digest,
        },
        "agent_chain": [{"identity": identity, "role": "requester"}] if identity else [],
        "edges": edges,
        "related_entity_ids": sorted({e["id"] for e in entities}),
    }


@attrs.frozen(kw_only=True)
class TraceInput:
    """What a decision contributes to its trace."""

    created_at: GoTime
    producer_version: str
    tool_name: str
    args_digest: str
    intent_digest: str
    policy_digest: str
    verdict: str
    violations: Sequence[str]
    identity: str
    context: Mapping[str, Any] = attrs.field(factory=dict)
    correlation_id: str = ""
    latency_ms: float = 0.0
    script: Mapping[str, Any] = attrs.field(factory=dict)
    approval_token_ref: str = ""
    skill_provenance: Mapping[str, Any] | None = None
    plugins: Sequence[Mapping[str, str]] = ()
    mcp_trust: Mapping[str, Any] | None = None


def build_trace(source: TraceInput, *, observed_at: GoTime | None = None) -> TraceRecord:
    from gait.contracts.trace import TraceRecord
    from gait.timefmt import GoTime

    observed = observed_at or GoTime.now()
    trace_id = trace_id_for(source.policy_digest, source.intent_digest, source.verdict)
    context = source.context
    steps = tuple(source.script.get("step_verdicts", ()))
    return TraceRecord(
        created_at=source.created_at,
        observed_at=observed,
        producer_version=source.producer_version,
        trace_id=trace_id,
        event_id=short_id(f"{trace_id}:{observed.format()}"),
        correlation_id=source.correlation_id,
        tool_name=source.tool_name,
        args_digest=source.args_digest,
        intent_digest=source.intent_digest,
        policy_digest=source.policy_digest,
        policy_id=POLICY_ID,
        policy_version=POLICY_VERSION,
        verdict=source.verdict,
        violations=tuple(sorted(set(source.violations))),
        agent_id=str(context.get("agent_id", "")),
        run_id=str(context.get("run_id", "")),
        workflow_id=str(context.get("workflow_id", "")),
        repo=str(context.get("repo", "")),
        environment=str(context.get("environment", "")),
        credential_ref=str(context.get("credential_ref", "")),
        matched_rule_ids=tuple(sorted({str(s.get("matched_rule", "")) for s in steps} - {""})),
        script=bool(source.script),
        step_count=int(source.script.get("step_count", 0)),
        script_hash=str(source.script.get("script_hash", "")),
        composite_risk_class=str(source.script.get("composite_risk_class", "")),
        step_verdicts=steps,
        latency_ms=max(source.latency_ms, 0.0),
        approval_token_ref=source.approval_token_ref,
        mcp_trust=dict(source.mcp_trust) if source.mcp_trust else None,
        relationship=relationship_for(
            identity=source.identity,
            tool_name=source.tool_name,
            policy_digest=source.policy_digest,
            trace_id=trace_id,
            plugins=source.plugins,
        ),
        skill_provenance=dict(source.skill_provenance) if source.skill_provenance else None,
    )


def sign_trace(trace: TraceRecord, key: SigningKey) -> TraceRecord:
    """The trace with its signature over the canonical JSON of everything else."""
    return sign_trace_wire(trace, key)[0]


def sign_trace_wire(trace: TraceRecord, key: SigningKey) -> tuple[TraceRecord, dict[str, Any]]:
    """The signed trace and its wire form, converted once (`signature` is the last field)."""
    from gait.contracts import to_wire
    from gait.contracts.trace import SignatureRecord

    body = to_wire(trace if trace.signature is None else attrs.evolve(trace, signature=None))
    signature = sign_record(key, body)
    signed = attrs.evolve(trace, signature=SignatureRecord(**signature.to_json()))
    return signed, {**body, "signature": signature.to_json()}


def trace_json_bytes(record: Mapping[str, Any]) -> bytes:
    """The file form: 2-space indented JSON and a newline, as the reference writes it.

    The same bytes as `json.dumps(record, indent=2, ensure_ascii=False)` (a property test
    checks it), about three times faster: with `indent`, the standard library falls back to its
    pure-Python encoder, and the service writes a trace for every decision.
    """
    parts: list[str] = []
    _indented(record, "\n", parts)
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def _indented(value: Any, newline: str, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(_encode_string(value))
    elif kind is dict or isinstance(value, Mapping):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            out.append(separator)
            out.append(_encode_string(key) if type(key) is str else json.dumps(str(key)))
            out.append(": ")
            _indented(item, inner, out)
            separator = "," + inner
        out.append(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _indented(item, inner, out)
            separator = "," + inner
        out.append(newline + "]")
    else:
        out.append(json.dumps(value, ensure_ascii=False))


def write_trace(path: Path, trace: TraceRecord) -> None:
    from gait.contracts import to_wire

    write_trace_bytes(path, trace_json_bytes(to_wire(trace)))


def write_trace_bytes(path: Path, data: bytes) -> None:
    if not path.is_absolute() and ".." in path.parts:
        raise InvalidInputError(f"trace path must not contain '..': {path}")
    write_atomic(path, data, what="trace")


def read_trace(path: Path) -> dict[str, Any]:
    """Read a trace file as raw JSON (a regular file, size-limited).

    Unreadable, not JSON (NaN and numbers outside float64 included) or not an object: invalid
    input. Duplicate or case-variant keys: a failed verification, since readers would disagree
    on what was signed (gait.strictjson)."""
    from gait.fsutil import read_regular_file
    from gait.strictjson import AmbiguousKeyError, JSONReadError, loads

    data = read_regular_file(path, MAX_RECORD_BYTES, what="trace")
    try:
        record = loads(data)
    except AmbiguousKeyError as exc:
        raise VerificationError(f"trace {path} has more than one reading: {exc}") from exc
    except JSONReadError as exc:
        raise InvalidInputError(f"trace {path} is not valid JSON: {exc}") from exc
    if not isinstance(record, dict):
        raise InvalidInputError(f"trace {path} must be a JSON object")
    return record


def verify_trace(record: Mapping[str, Any], key: VerifyKey) -> str:
    """Verify a trace as read from disk; returns the signing key id, raises VerificationError."""
    if record.get("schema_id") != "gait.gate.trace":
        raise VerificationError("not a gait.gate.trace record")
    from gait.signing import is_hex64

    for name in ("args_digest", "intent_digest", "policy_digest"):
        if not is_hex64(record.get(name)):
            raise VerificationError(f"{name} must be 64 lowercase hex digits")
    return verify_record(record, key, strict=True).key_id
