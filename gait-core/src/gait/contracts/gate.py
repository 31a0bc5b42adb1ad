"""The gate records besides the trace: the result (`gait.gate.result`) and approval tokens.

Field order follows the reference's Go structs (see `gait.contracts.trace`).
"""

from __future__ import annotations

import attrs

from gait.contracts.trace import SignatureRecord
from gait.contracts.wire import go_field
from gait.timefmt import GoTime

ZERO_TIME = GoTime.parse("1980-01-01T00:00:00Z")


@attrs.frozen(kw_only=True)
class GateResult:
    """`gait.gate.result`: every key is always present."""

    schema_id: str = "gait.gate.result"
    schema_version: str = "1.0.0"
    created_at: GoTime = ZERO_TIME
    producer_version: str = "0.0.0-dev"
    verdict: str
    reason_codes: tuple[str, ...] = ()
    violations: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class ApprovalToken:
    """`gait.gate.approval_token`."""

    schema_id: str = "gait.gate.approval_token"
    schema_version: str = "1.0.0"
    created_at: GoTime
    producer_version: str
    token_id: str
    approver_identity: str
    reason_code: str
    intent_digest: str
    policy_digest: str
    delegation_binding_digest: str = go_field(omitempty=True, default="")
    scope: tuple[str, ...]
    max_targets: int = go_field(omitempty=True, default=0)
    max_ops: int = go_field(omitempty=True, default=0)
    expires_at: GoTime
    signature: SignatureRecord | None = go_field(omitempty=True, default=None)
