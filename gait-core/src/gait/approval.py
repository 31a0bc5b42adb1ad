"""Approval tokens (`gait.gate.approval_token`): mint, sign, and validate against a decision.

A token binds an approver's yes to one intent digest, one policy digest and a scope; `gait gate
eval --approval-token` turns `require_approval` into `allow` only when enough valid tokens bind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from gait.canonical import short_id
from gait.contracts import ApprovalToken, SignatureRecord, from_wire, to_wire
from gait.errors import GaitError, InvalidInputError, VerificationError
from gait.keys import SigningKey, VerifyKey
from gait.signing import Signature, sign_record, signable_digest, verify_digest
from gait.timefmt import GoTime

SCHEMA_ID = "gait.gate.approval_token"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _digest_field(value: str, name: str) -> str:
    lowered = value.strip().lower()
    if not _HEX64.match(lowered):
        raise InvalidInputError(f"{name} must be 64 hex characters")
    return lowered


def normalize_scope(scope: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted({part.strip().lower() for part in scope if part.strip()}))


def token_id_for(token: ApprovalToken) -> str:
    return short_id(
        ":".join(
            [
                token.intent_digest,
                token.policy_digest,
                token.approver_identity,
                token.reason_code,
                ",".join(token.scope),
                str(token.max_targets),
                str(token.max_ops),
                token.expires_at.format(),
            ]
        )
    )


def mint_approval_token(
    *,
    key: SigningKey,
    intent_digest: str,
    policy_digest: str,
    scope: Sequence[str],
    approver: str,
    reason_code: str,
    ttl_nanos: int,
    producer_version: str,
    delegation_binding_digest: str = "",
    max_targets: int = 0,
    max_ops: int = 0,
    now: GoTime | None = None,
) -> ApprovalToken:
    if ttl_nanos <= 0:
        raise InvalidInputError("--ttl must be positive")
    if not approver.strip():
        raise InvalidInputError("--approver is required")
    if not reason_code.strip():
        raise InvalidInputError("--reason-code is required")
    if max_targets < 0 or max_ops < 0:
        raise InvalidInputError("--max-targets and --max-ops must be >= 0")
    scopes = normalize_scope(scope)
    if not scopes:
        raise InvalidInputError("--scope needs at least one entry")
    created = (now or GoTime.now()).utc()
    expires = created.add_nanos(ttl_nanos)
    token = ApprovalToken(
        created_at=created,
        producer_version=producer_version,
        token_id="",
        approver_identity=approver.strip(),
        reason_code=reason_code.strip(),
        intent_digest=_digest_field(intent_digest, "--intent-digest"),
        policy_digest=_digest_field(policy_digest, "--policy-digest"),
        delegation_binding_digest=(
            _digest_field(delegation_binding_digest, "--delegation-binding-digest")
            if delegation_binding_digest
            else ""
        ),
        scope=scopes,
        max_targets=max_targets,
        max_ops=max_ops,
        expires_at=expires,
    )
    token = attrs.evolve(token, token_id=token_id_for(token))
    signature = sign_record(key, to_wire(token))
    return attrs.evolve(token, signature=SignatureRecord(**signature.to_json()))


@attrs.frozen(kw_only=True)
class ApprovalContext:
    """What a token must bind for one decision."""

    intent_digest: str
    policy_digest: str
    required_scope: tuple[str, ...]
    delegation_binding: str = ""
    target_count: int = 0
    op_count: int = 1


@attrs.frozen(kw_only=True)
class TokenCheck:
    """One token's outcome; `error_code` is empty when the token is valid."""

    token: ApprovalToken | None
    error_code: str = ""

    @property
    def valid(self) -> bool:
        return not self.error_code

    def audit_entry(self) -> dict[str, Any]:
        token = self.token
        return {
            "token_id": token.token_id if token else "",
            "approver_identity": token.approver_identity if token else "",
            "reason_code": token.reason_code if token else "",
            "scope": list(token.scope) if token else [],
            "expires_at": token.expires_at.format() if token else "",
            "valid": self.valid,
            "error_code": self.error_code,
        }


def check_token(
    raw: Mapping[str, Any], *, key: VerifyKey, context: ApprovalContext, now: GoTime
) -> TokenCheck:
    """Validate a token as read from JSON; the first failure wins (§8 order)."""
    try:
        token = from_wire(raw, ApprovalToken)
        if token.schema_id != SCHEMA_ID or token.schema_version != "1.0.0" or not token.scope:
            raise InvalidInputError("not an approval token")
    except GaitError:
        return TokenCheck(token=None, error_code="approval_token_invalid")
    if token.signature is None:
        return TokenCheck(token=token, error_code="approval_token_signature_missing")
    try:
        signature = Signature(**to_wire(token.signature))
        verify_digest(signature, signable_digest(to_wire(token)), key)
    except VerificationError:
        return TokenCheck(token=token, error_code="approval_token_signature_invalid")
    checks = [
        (token.intent_digest != context.intent_digest, "approval_token_intent_mismatch"),
        (token.policy_digest != context.policy_digest, "approval_token_policy_mismatch"),
        (
            bool(context.delegation_binding)
            and token.delegation_binding_digest != context.delegation_binding,
            "approval_token_delegation_binding_mismatch",
        ),
        (now.instant() >= token.expires_at.instant(), "approval_token_expired"),
        (
            "*" not in token.scope and not set(context.required_scope) <= set(token.scope),
            "approval_token_scope_mismatch",
        ),
        (
            token.max_targets > 0 and context.target_count > token.max_targets,
            "approval_token_max_targets_exceeded",
        ),
        (
            token.max_ops > 0 and context.op_count > token.max_ops,
            "approval_token_max_ops_exceeded",
        ),
    ]
    for failed, code in checks:
        if failed:
            return TokenCheck(token=token, error_code=code)
    return TokenCheck(token=token)


@attrs.frozen(kw_only=True)
class ApprovalOutcome:
    granted: bool
    required: int
    checks: tuple[TokenCheck, ...]
    reason_codes: tuple[str, ...]
    violations: tuple[str, ...]

    @property
    def valid_count(self) -> int:
        return sum(1 for check in self.checks if check.valid)

    @property
    def approval_ref(self) -> str:
        return ",".join(c.token.token_id for c in self.checks if c.valid and c.token)

    def audit_record(
        self, *, trace_id: str, tool_name: str, context: ApprovalContext
    ) -> dict[str, Any]:
        approvers = sorted({c.token.approver_identity for c in self.checks if c.valid and c.token})
        return {
            "schema_id": "gait.gate.approval_audit_record",
            "schema_version": "1.0.0",
            "trace_id": trace_id,
            "tool_name": tool_name,
            "intent_digest": context.intent_digest,
            "policy_digest": context.policy_digest,
            "required_approvals": self.required,
            "valid_approvals": self.valid_count,
            "approved": self.valid_count >= self.required,
            "approvers": approvers,
            "entries": [check.audit_entry() for check in self.checks],
        }


def decide_approvals(
    checks: Sequence[TokenCheck], *, min_approvals: int, distinct_required: bool
) -> ApprovalOutcome:
    """Turn token checks into the grant decision of §8."""
    required = max(1, min_approvals)
    if not checks:
        return ApprovalOutcome(
            granted=False,
            required=required,
            checks=(),
            reason_codes=("approval_token_missing",),
            violations=("approval_not_granted",),
        )
    reasons = {check.error_code for check in checks if not check.valid}
    valid = [check for check in checks if check.valid and check.token]
    distinct = {check.token.approver_identity for check in valid if check.token}
    if len(valid) < required:
        reasons.add("approval_chain_insufficient")
    if distinct_required and required > 1 and len(distinct) < required:
        reasons.add("approval_distinct_approvers_required")
    granted = not (
        {"approval_chain_insufficient", "approval_distinct_approvers_required"} & reasons
    )
    if granted:
        reasons.add("approval_granted")
    return ApprovalOutcome(
        granted=granted,
        required=required,
        checks=tuple(checks),
        reason_codes=tuple(sorted(reasons)),
        violations=() if granted else ("approval_not_granted",),
    )
