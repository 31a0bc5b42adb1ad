"""The runpack records (`gait.runpack.*`).

Field order follows the reference's Go structs (see `gait.contracts.trace`).
"""

from __future__ import annotations

from typing import Any

import attrs

from gait.contracts.trace import SignatureRecord
from gait.contracts.wire import go_field
from gait.timefmt import GoTime


@attrs.frozen(kw_only=True)
class ManifestFile:
    path: str
    sha256: str


@attrs.frozen(kw_only=True)
class RunpackManifest:
    """`gait.runpack.manifest`; `manifest_digest` is always present (empty while digesting)."""

    schema_id: str = "gait.runpack.manifest"
    schema_version: str = "1.0.0"
    created_at: GoTime
    producer_version: str
    run_id: str
    capture_mode: str
    files: tuple[ManifestFile, ...]
    manifest_digest: str
    signatures: tuple[SignatureRecord, ...] = go_field(omitempty=True, default=())


@attrs.frozen(kw_only=True)
class RunEnv:
    os: str
    arch: str
    runtime: str


@attrs.frozen(kw_only=True)
class TimelineEvent:
    event: str
    ts: GoTime
    ref: str = go_field(omitempty=True, default="")
    relationship: dict[str, Any] | None = go_field(omitempty=True, default=None)


@attrs.frozen(kw_only=True)
class RunRecord:
    """`gait.runpack.run`. The reference writes a nil timeline as null; we always write a list."""

    schema_id: str = "gait.runpack.run"
    schema_version: str = "1.0.0"
    created_at: GoTime
    producer_version: str
    run_id: str
    env: RunEnv
    timeline: tuple[TimelineEvent, ...] | None = ()


@attrs.frozen(kw_only=True)
class IntentRecord:
    """`gait.runpack.intent`; `args` only in raw capture mode."""

    schema_id: str = "gait.runpack.intent"
    schema_version: str = "1.0.0"
    created_at: GoTime
    producer_version: str
    run_id: str
    intent_id: str
    tool_name: str
    args_digest: str
    args: dict[str, Any] | None = go_field(omitempty=True, default=None)


@attrs.frozen(kw_only=True)
class ResultRecord:
    """`gait.runpack.result`; `result` only in raw capture mode."""

    schema_id: str = "gait.runpack.result"
    schema_version: str = "1.0.0"
    created_at: GoTime
    producer_version: str
    run_id: str
    intent_id: str
    status: str
    result_digest: str
    result: dict[str, Any] | None = go_field(omitempty=True, default=None)


@attrs.frozen(kw_only=True)
class Receipt:
    ref_id: str
    source_type: str
    source_locator: str
    query_digest: str
    content_digest: str
    retrieved_at: GoTime
    redaction_mode: str
    immutability: str = go_field(omitempty=True, default="")
    freshness_sla_seconds: int = go_field(omitempty=True, default=0)
    sensitivity_label: str = go_field(omitempty=True, default="")
    retrieval_params: dict[str, Any] | None = go_field(omitempty=True, default=None)


@attrs.frozen(kw_only=True)
class RefsRecord:
    """`gait.runpack.refs`; `receipts` is always present."""

    schema_id: str = "gait.runpack.refs"
    schema_version: str = "1.0.0"
    created_at: GoTime
    producer_version: str
    run_id: str
    context_set_digest: str = go_field(omitempty=True, default="")
    context_evidence_mode: str = go_field(omitempty=True, default="")
    context_ref_count: int = go_field(omitempty=True, default=0)
    receipts: tuple[Receipt, ...] = ()
