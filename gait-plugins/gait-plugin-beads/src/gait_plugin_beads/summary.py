"""From a trace file to the text of its Beads issue: verified first, then summarized.

Everything here is a pure function of the trace, the optional gate-eval output and the key, so
the same input always gives the same title, body, labels and `bd create` arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from gait.errors import InvalidInputError, VerificationError
from gait.keys import VerifyKey
from gait.limits import MAX_RECORD_BYTES
from gait.trace import verify_trace

EXTERNAL_REF_PREFIX = "gait:"
LABEL = "gait"
UNVERIFIED_LABEL = "gait-unverified"
VERDICTS = ("allow", "block", "dry_run", "require_approval")
REQUIRED_FIELDS = ("trace_id", "verdict", "tool_name", "intent_digest", "policy_digest")


@attrs.frozen
class IssueShape:
    """The `bd create --type/--priority` a verdict gets (bd: priority 0 is the highest)."""

    issue_type: str
    priority: int


# A block is a bug to triage first; an approval is a task someone is waiting on; a dry run
# and an allow (only ever bridged one trace at a time, on request) are for the record.
SHAPES: dict[str, IssueShape] = {
    "block": IssueShape("bug", 1),
    "require_approval": IssueShape("task", 2),
    "dry_run": IssueShape("task", 3),
    "allow": IssueShape("task", 4),
}

FOLLOW_UP: dict[str, tuple[str, ...]] = {
    "block": (
        "- if blocked unexpectedly, validate policy match and reason codes",
        "- if expected block, convert incident to regression fixture",
    ),
    "require_approval": (
        "- if the call should run, grant it: gait approve --intent-digest {intent_digest} "
        "--policy-digest {policy_digest} --scope tool:{tool_name} --ttl <ttl> "
        "--approver <you> --reason-code <code>",
        "- if it should not, close this issue: without a token the call stays held",
    ),
    "dry_run": (
        "- the call was evaluated without enforcement; review it before enforcing the policy",
    ),
    "allow": ("- the call was allowed; this issue records it for audit",),
}


@attrs.frozen(kw_only=True)
class SignatureCheck:
    """How the trace's signature was checked: `verified`, or `unverified` and why."""

    status: str
    key_id: str = ""
    error: str = ""

    @property
    def verified(self) -> bool:
        return self.status == "verified"


@attrs.frozen(kw_only=True)
class Decision:
    """The parts of a `gait gate eval --json` (or `gait mcp proxy --json`) output we use."""

    path: str
    trace_id: str
    verdict: str
    policy_digest: str
    intent_digest: str
    reason_codes: tuple[str, ...]


@attrs.frozen(kw_only=True)
class TraceSummary:
    """The deterministic summary of one trace and the issue it becomes."""

    trace_path: str
    trace_id: str
    verdict: str
    tool_name: str
    policy_digest: str
    intent_digest: str
    args_digest: str
    violations: tuple[str, ...]
    # None: no decision output was supplied (traces carry no reason codes).
    reason_codes: tuple[str, ...] | None
    decision_path: str
    signature: SignatureCheck
    issue_type: str
    priority: int

    @property
    def external_ref(self) -> str:
        return EXTERNAL_REF_PREFIX + self.trace_id

    @property
    def labels(self) -> tuple[str, ...]:
        labels = [LABEL, LABEL + "-" + self.verdict.replace("_", "-")]
        if not self.signature.verified:
            labels.append(UNVERIFIED_LABEL)
        return tuple(labels)

    @property
    def title(self) -> str:
        title = f"Gait {self.verdict}: {self.tool_name} ({self.trace_id})"
        if not self.signature.verified:
            title += " [unverified]"
        return _one_line(title)

    @property
    def reason_codes_text(self) -> str:
        if self.reason_codes is None:
            return (
                "not supplied (traces do not record reason codes; pass --decision with the "
                "gate eval --json output)"
            )
        if not self.reason_codes:
            return "the decision output lists none"
        return ", ".join(self.reason_codes) + " (from the decision output, which is not signed)"

    @property
    def signature_text(self) -> str:
        if self.signature.verified:
            return f"verified (key_id {self.signature.key_id})"
        return f"NOT VERIFIED ({self.signature.error}); bridged with --allow-unverified"

    @property
    def description(self) -> str:
        lines = ["Gait trace bridge report", ""]
        if not self.signature.verified:
            lines += [
                "WARNING: this trace's signature was not verified. Every field below is "
                "unauthenticated.",
                "",
            ]
        lines += [
            f"Trace Path: {self.trace_path}",
            f"Trace ID: {self.trace_id}",
            f"Verdict: {self.verdict}",
            f"Tool Name: {self.tool_name}",
            f"Policy Digest: {self.policy_digest}",
            f"Intent Digest: {self.intent_digest}",
        ]
        if self.args_digest:
            lines.append(f"Args Digest: {self.args_digest}")
        lines += [
            f"Violations: {', '.join(self.violations) or 'none'}",
            f"Reason Codes: {self.reason_codes_text}",
            f"Signature: {self.signature_text}",
            f"External Ref: {self.external_ref}",
            "",
            "Follow-up:",
        ]
        fields = {
            "intent_digest": self.intent_digest,
            "policy_digest": self.policy_digest,
            "tool_name": self.tool_name,
        }
        lines += [line.format(**fields) for line in FOLLOW_UP[self.verdict]]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "trace_path": self.trace_path,
            "trace_id": self.trace_id,
            "verdict": self.verdict,
            "tool_name": self.tool_name,
            "policy_digest": self.policy_digest,
            "intent_digest": self.intent_digest,
            "args_digest": self.args_digest,
            "violations": list(self.violations),
            # null, not []: without a decision output nobody knows the reason codes.
            "reason_codes": None if self.reason_codes is None else list(self.reason_codes),
            "reason_codes_source": "none_supplied" if self.reason_codes is None else "decision",
            "signature_status": self.signature.status,
            "key_id": self.signature.key_id,
            "title": self.title,
            "description": self.description,
            "issue_type": self.issue_type,
            "priority": self.priority,
            "labels": list(self.labels),
            "external_ref": self.external_ref,
        }
        if self.decision_path:
            out["decision_path"] = self.decision_path
        if self.signature.error:
            out["signature_error"] = self.signature.error
        return out


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _normalized(values: Iterable[str]) -> tuple[str, ...]:
    """Trimmed, de-duplicated and sorted, as the reference does."""
    return tuple(sorted({value.strip() for value in values} - {""}))


def _string_list(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInputError(f"{what} must be an array of strings")
    return _normalized(value)


def check_signature(
    record: Mapping[str, Any],
    key: VerifyKey | None,
    *,
    path: Path,
    allow_unverified: bool,
    no_key_hint: str = "",
) -> SignatureCheck:
    """Verify first: a trace that does not verify is refused (exit 2) unless allowed."""
    try:
        if key is None:
            raise VerificationError(
                "no key to verify it with" + (f" ({no_key_hint})" if no_key_hint else "")
            )
        key_id = verify_trace(record, key)
    except VerificationError as exc:
        if not allow_unverified:
            raise VerificationError(
                f"trace {path} does not verify: {exc}; refusing to bridge it "
                "(--allow-unverified files it, marked unverified)"
            ) from exc
        return SignatureCheck(status="unverified", error=str(exc))
    return SignatureCheck(status="verified", key_id=key_id)


def read_decision(path: Path) -> Decision:
    """A gate-eval JSON output: its trace id ties it to a trace, its reason codes are used."""
    from gait.fsutil import read_regular_file
    from gait.strictjson import JSONReadError, loads

    data = read_regular_file(path, MAX_RECORD_BYTES, what="decision")
    try:
        value = loads(data)
    except JSONReadError as exc:
        raise InvalidInputError(f"decision {path} is not valid JSON: {exc}") from exc
    return decision_from_json(value, str(path.resolve()))


def decision_from_json(value: Any, path: str) -> Decision:
    """Validate a decision object (from a file, or handed over in memory by a service)."""
    where = f"decision {path}" if path else "decision"
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{where} must be a JSON object")
    fields: dict[str, str] = {}
    for name in ("trace_id", "verdict", "policy_digest", "intent_digest"):
        item = value.get(name, "")
        if not isinstance(item, str):
            raise InvalidInputError(f"{where}: {name} must be a string")
        fields[name] = item
    if not fields["trace_id"]:
        raise InvalidInputError(
            f"{where} has no trace_id: give the JSON output of gait gate eval --json"
        )
    return Decision(
        path=path,
        reason_codes=_string_list(value.get("reason_codes"), f"{where}: reason_codes"),
        **fields,
    )


def _matches(decision: Decision, record: Mapping[str, Any]) -> None:
    for name in ("trace_id", "verdict", "policy_digest", "intent_digest"):
        given = getattr(decision, name)
        if given and given != record.get(name):
            where = f"decision {decision.path}" if decision.path else "the decision"
            raise InvalidInputError(
                f"{where} does not belong to this trace: its {name} is "
                f"{given!r}, the trace's is {record.get(name)!r}"
            )


def summarize(
    record: Mapping[str, Any],
    *,
    path: Path,
    signature: SignatureCheck,
    decision: Decision | None = None,
    issue_type: str = "",
    priority: int | None = None,
) -> TraceSummary:
    """The summary of a (checked) trace; exit 6 for missing fields or a mismatched decision."""
    values: dict[str, str] = {}
    for name in (*REQUIRED_FIELDS, "args_digest"):
        item = record.get(name, "")
        if not isinstance(item, str):
            raise InvalidInputError(f"trace {path}: {name} must be a string")
        if name in REQUIRED_FIELDS and not item.strip():
            raise InvalidInputError(f"trace {path}: {name} is required in trace payload")
        values[name] = item.strip()
    verdict = values["verdict"]
    if verdict not in SHAPES:
        raise InvalidInputError(
            f"trace {path}: unknown verdict {verdict!r} (expected one of {', '.join(VERDICTS)})"
        )
    if decision is not None:
        _matches(decision, record)
    shape = SHAPES[verdict]
    return TraceSummary(
        trace_path=str(path.resolve()),
        violations=_string_list(record.get("violations"), f"trace {path}: violations"),
        reason_codes=None if decision is None else decision.reason_codes,
        decision_path=decision.path if decision is not None else "",
        signature=signature,
        issue_type=issue_type or shape.issue_type,
        priority=shape.priority if priority is None else priority,
        **values,
    )


def decisions_by_trace(decisions: Sequence[Decision]) -> dict[str, Decision]:
    """Index decisions by trace id; two that disagree on the reason codes are refused."""
    index: dict[str, Decision] = {}
    for decision in decisions:
        seen = index.get(decision.trace_id)
        if seen is not None and seen.reason_codes != decision.reason_codes:
            raise InvalidInputError(
                f"decisions {seen.path} and {decision.path} are for the same trace "
                f"{decision.trace_id} but list different reason codes"
            )
        index.setdefault(decision.trace_id, decision)
    return index
