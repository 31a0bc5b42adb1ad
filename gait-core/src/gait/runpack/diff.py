"""Comparing two runpacks, ignoring what differs between any two runs (ids, times, producer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from gait.canonical import digest
from gait.contracts.runpack import IntentRecord, ManifestFile, ResultRecord, RunpackManifest
from gait.contracts.wire import to_wire
from gait.errors import InvalidInputError
from gait.runpack.read import Runpack
from gait.runpack.refs import GO_ZERO_TIME, classify_context_drift

PRIVACY_MODES = ("full", "metadata")


def _manifest_shape(manifest: RunpackManifest) -> str:
    """The manifest without run metadata, digests or signatures: its capture mode and paths."""
    shape = attrs.evolve(
        manifest,
        run_id="",
        producer_version="",
        created_at=GO_ZERO_TIME,
        manifest_digest="",
        signatures=(),
        files=tuple(ManifestFile(path=f.path, sha256="") for f in manifest.files),
    )
    return digest(to_wire(shape))


def _record_digests(records: Sequence[IntentRecord | ResultRecord], privacy: str) -> dict[str, str]:
    """Digest per intent_id of each record without run metadata (and payloads in metadata mode);
    a later record with the same intent_id replaces an earlier one, as in the reference."""
    by_id = {}
    for record in records:
        cleared = attrs.evolve(record, run_id="", producer_version="", created_at=GO_ZERO_TIME)
        if privacy == "metadata":
            cleared = (
                attrs.evolve(cleared, args=None)
                if isinstance(cleared, IntentRecord)
                else attrs.evolve(cleared, result=None)
            )
        by_id[record.intent_id] = digest(to_wire(cleared))
    return by_id


def _compare(
    left: Sequence[IntentRecord | ResultRecord],
    right: Sequence[IntentRecord | ResultRecord],
    privacy: str,
) -> tuple[bool, list[str], list[str]]:
    left_digests = _record_digests(left, privacy)
    right_digests = _record_digests(right, privacy)
    left_only = sorted(set(left_digests) - set(right_digests))
    right_only = sorted(set(right_digests) - set(left_digests))
    return left_digests != right_digests, left_only, right_only


def diff_runpacks(left: Runpack, right: Runpack, *, privacy: str = "full") -> dict[str, Any]:
    """The reference's diff summary (keys it leaves out when empty are left out here too).

    Full privacy compares refs without run metadata and classifies context drift; metadata
    privacy ignores raw payloads and compares only the receipt counts.
    """
    if privacy not in PRIVACY_MODES:
        raise InvalidInputError(f"unsupported privacy mode: {privacy}")
    left_paths = {f.path for f in left.manifest.files}
    right_paths = {f.path for f in right.manifest.files}
    intents_changed, left_only_intents, right_only_intents = _compare(
        left.intents, right.intents, privacy
    )
    results_changed, left_only_results, right_only_results = _compare(
        left.results, right.results, privacy
    )
    if privacy == "full":
        drift = classify_context_drift(left.refs, right.refs)
        refs_changed = drift != "none"
    else:
        drift = "none"
        refs_changed = len(left.refs.receipts) != len(right.refs.receipts)
    summary: dict[str, Any] = {
        "run_id_left": left.run.run_id,
        "run_id_right": right.run.run_id,
        "manifest_changed": _manifest_shape(left.manifest) != _manifest_shape(right.manifest),
        "files_changed": sorted(left_paths ^ right_paths),
        "intents_changed": intents_changed,
        "results_changed": results_changed,
        "refs_changed": refs_changed,
        "left_only_intents": left_only_intents,
        "right_only_intents": right_only_intents,
        "left_only_results": left_only_results,
        "right_only_results": right_only_results,
        "context_drift_classification": drift,
        "context_runtime_only_changes": drift == "runtime_only",
    }
    always = {"run_id_left", "run_id_right", "manifest_changed", "intents_changed"}
    always |= {"results_changed", "refs_changed"}
    return {key: value for key, value in summary.items() if value or key in always}


def diff_changed(summary: dict[str, Any]) -> bool:
    """Whether a summary reports any change (the CLI's exit 2)."""
    return any(
        summary[key]
        for key in ("manifest_changed", "intents_changed", "results_changed", "refs_changed")
    )
