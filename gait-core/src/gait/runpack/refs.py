"""refs.json normalization and context drift (the reference's `contextproof` rules)."""

from __future__ import annotations

import re

import attrs

from gait.canonical import digest
from gait.contracts.runpack import Receipt, RefsRecord
from gait.contracts.wire import to_wire
from gait.errors import InvalidInputError
from gait.timefmt import ZERO_TIME_TEXT, GoTime

EVIDENCE_MODES = ("best_effort", "required")
RECEIPT_EPOCH = GoTime.parse("1980-01-01T00:00:00Z")
GO_ZERO_TIME = GoTime.parse(ZERO_TIME_TEXT)
_SHA256_HEX = re.compile(r"^[a-f0-9]{64}$")


def normalize_evidence_mode(mode: str) -> str:
    normalized = mode.strip().lower()
    if normalized and normalized not in EVIDENCE_MODES:
        raise InvalidInputError("context evidence mode must be best_effort or required")
    return normalized


def _normalize_receipt(receipt: Receipt) -> Receipt:
    retrieved_at = receipt.retrieved_at
    retrieved_at = RECEIPT_EPOCH if retrieved_at == GO_ZERO_TIME else retrieved_at.utc()
    return attrs.evolve(
        receipt,
        query_digest=receipt.query_digest.strip().lower(),
        content_digest=receipt.content_digest.strip().lower(),
        immutability=receipt.immutability.strip().lower() or "unknown",
        retrieved_at=retrieved_at,
    )


def normalize_refs(refs: RefsRecord) -> RefsRecord:
    """Lower-case digests and modes, default immutability and retrieval time, sort receipts by
    ref_id, and count them when no count is given; InvalidInputError for invalid values."""
    context_set_digest = refs.context_set_digest.strip().lower()
    if context_set_digest and not _SHA256_HEX.match(context_set_digest):
        raise InvalidInputError("refs context_set_digest must be sha256 hex")
    if refs.context_ref_count < 0:
        raise InvalidInputError("refs context_ref_count must be >= 0")
    receipts = sorted(
        (_normalize_receipt(receipt) for receipt in refs.receipts), key=lambda r: r.ref_id
    )
    return attrs.evolve(
        refs,
        context_evidence_mode=normalize_evidence_mode(refs.context_evidence_mode),
        context_set_digest=context_set_digest,
        context_ref_count=refs.context_ref_count or len(receipts),
        receipts=tuple(receipts),
    )


def without_run_metadata(refs: RefsRecord) -> RefsRecord:
    """Refs with run_id, producer_version and created_at cleared, for comparing two runs."""
    return attrs.evolve(refs, run_id="", producer_version="", created_at=GO_ZERO_TIME)


def _runtime_comparable(refs: RefsRecord) -> RefsRecord:
    return attrs.evolve(
        refs,
        context_set_digest="",
        receipts=tuple(attrs.evolve(r, retrieved_at=RECEIPT_EPOCH) for r in refs.receipts),
    )


def classify_context_drift(left: RefsRecord, right: RefsRecord) -> str:
    """`none`, `runtime_only` (only retrieval times or the context set digest differ) or
    `semantic`, comparing the two refs without their run metadata."""
    left_norm = without_run_metadata(normalize_refs(left))
    right_norm = without_run_metadata(normalize_refs(right))
    if digest(to_wire(left_norm)) == digest(to_wire(right_norm)):
        return "none"
    left_runtime = digest(to_wire(_runtime_comparable(left_norm)))
    if left_runtime == digest(to_wire(_runtime_comparable(right_norm))):
        return "runtime_only"
    return "semantic"
