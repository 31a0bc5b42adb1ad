"""The graders: each compares one fixture's baseline runpack, or its candidate, with what the
fixture expects, and says pass or fail with sorted reason codes and details.

Regress never re-runs the agent. The candidate is `candidate_runpack` from fixture.json
(relative to the fixture directory) or, when that is not set, the baseline itself, so a freshly
initialized fixture passes. A grader turns every problem with a runpack into a failing result;
only a broken fixture set (the run's loading step) is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from gait.contracts import go_field
from gait.errors import GaitError, InvalidInputError
from gait.gostrings import go_trim_space
from gait.regress import gopath
from gait.regress.config import FixtureMeta
from gait.regress.trajectory import NO_MISMATCH, first_mismatch, tool_sequence, verdict_sequence
from gait.runpack import diff_runpacks, read_runpack, replay_stub, verify_runpack
from gait.runpack.refs import classify_context_drift
from gait.timefmt import GoTime

PASS = "pass"
FAIL = "fail"
REPLAY_MISSING_EXIT_CODE = 2

DRIFT_NONE = "none"
DRIFT_RUNTIME_ONLY = "runtime_only"
DRIFT_SEMANTIC = "semantic"
CONFORMANCE_MISSING = "missing"

_SCHEMA_VERSION = "1.0.0"


@attrs.frozen(kw_only=True)
class GraderResult:
    """One grader's verdict on one fixture, as it appears in regress_result.json."""

    name: str
    status: str
    reason_codes: tuple[str, ...] = ()
    context_conformance: str = go_field(omitempty=True, default="")
    details: dict[str, Any] = go_field(omitempty=True, factory=dict)

    @property
    def failed(self) -> bool:
        return self.status != PASS


@attrs.frozen(kw_only=True)
class Fixture:
    """A fixture as the run loaded it: its baseline passed the integrity checks."""

    name: str
    run_id: str
    directory: str
    runpack_path: str
    run_created_at: GoTime
    meta: FixtureMeta


def unique_sorted(values: Iterable[str]) -> list[str]:
    """Trimmed, blanks dropped, deduplicated, sorted."""
    return sorted({trimmed for value in values if (trimmed := go_trim_space(value))})


def _fail(name: str, reason: str, details: dict[str, Any], conformance: str = "") -> GraderResult:
    return GraderResult(
        name=name,
        status=FAIL,
        reason_codes=(reason,),
        context_conformance=conformance,
        details=details,
    )


def _error(exc: GaitError) -> dict[str, Any]:
    return {"error": str(exc)}


def candidate_path(fixture: Fixture) -> str:
    """The runpack graded against the baseline; InvalidInputError when it does not exist."""
    candidate = go_trim_space(fixture.meta.candidate_runpack)
    if not candidate:
        return fixture.runpack_path
    if not gopath.is_abs(candidate):
        candidate = gopath.join(fixture.directory, candidate)
    try:
        os.stat(candidate)
    except OSError as exc:
        raise InvalidInputError(
            f"candidate runpack not found: stat {candidate}: {exc.strerror or exc}"
        ) from exc
    return candidate


def grade_schema_validation(fixture: Fixture) -> GraderResult:
    """The baseline's integrity and record schema ids (not JSON Schema validation)."""
    name = "schema_validation"
    path = Path(fixture.runpack_path)
    try:
        verified = verify_runpack(path, public_key=None, require_signature=False)
    except GaitError as exc:
        return _fail(name, "schema_validation_error", _error(exc))
    reasons: list[str] = []
    if verified.missing_files:
        reasons.append("missing_files")
    if verified.hash_mismatches:
        reasons.append("hash_mismatch")
    try:
        pack = read_runpack(path)
    except GaitError as exc:
        reasons.append("runpack_parse_error")
        return GraderResult(
            name=name, status=FAIL, reason_codes=tuple(unique_sorted(reasons)), details=_error(exc)
        )
    checks: list[tuple[Sequence[Any], str, str]] = [
        ([pack.manifest], "gait.runpack.manifest", "manifest_schema_invalid"),
        ([pack.run], "gait.runpack.run", "run_schema_invalid"),
        ([pack.refs], "gait.runpack.refs", "refs_schema_invalid"),
        (pack.intents, "gait.runpack.intent", "intent_schema_invalid"),
        (pack.results, "gait.runpack.result", "result_schema_invalid"),
    ]
    for records, schema_id, reason in checks:
        if any(r.schema_id != schema_id or r.schema_version != _SCHEMA_VERSION for r in records):
            reasons.append(reason)
    details = {
        # The reference writes a nil list here: null when nothing is missing.
        "missing_files": list(verified.missing_files) or None,
        "hash_mismatches": len(verified.hash_mismatches),
        "intent_records": len(pack.intents),
        "result_records": len(pack.results),
        "reference_receipts": len(pack.refs.receipts),
    }
    status = FAIL if reasons else PASS
    return GraderResult(
        name=name, status=status, reason_codes=tuple(unique_sorted(reasons)), details=details
    )


def grade_expected_exit_code(fixture: Fixture) -> GraderResult:
    """A stub replay of the baseline exits 0, or 2 when results are missing; compared with
    `expected_replay_exit_code`."""
    name = "expected_exit_code"
    try:
        missing = replay_stub(read_runpack(Path(fixture.runpack_path)))["missing_results"]
    except GaitError as exc:
        return _fail(name, "replay_error", _error(exc))
    expected = fixture.meta.expected_replay_exit_code
    actual = REPLAY_MISSING_EXIT_CODE if missing else 0
    details = {
        "expected_exit_code": expected,
        "actual_exit_code": actual,
        "missing_results": missing,
    }
    if actual != expected:
        return _fail(name, "unexpected_exit_code", details)
    return GraderResult(name=name, status=PASS, details=details)


def _compare_sequence(
    label: str, expected: Sequence[str], actual: Sequence[str], details: dict[str, Any]
) -> bool:
    details[f"expected_{label}"] = list(expected)
    details[f"actual_{label}"] = list(actual)
    index, want, got = first_mismatch(expected, actual)
    if index == NO_MISMATCH:
        return True
    details[f"{label}_mismatch_index"] = index
    details[f"{label}_expected_at_mismatch"] = want
    details[f"{label}_actual_at_mismatch"] = got
    return False


def grade_trajectory(fixture: Fixture) -> GraderResult:
    """The candidate's tool sequence and verdict sequence against the expected ones; each check
    runs only when its expected list is not empty."""
    name = "trajectory"
    expected_tools = fixture.meta.expected_tool_sequence
    expected_verdicts = fixture.meta.expected_verdict_sequence
    if not expected_tools and not expected_verdicts:
        return GraderResult(name=name, status=PASS, reason_codes=("trajectory_not_required",))
    try:
        candidate = candidate_path(fixture)
    except InvalidInputError as exc:
        return _fail(name, "candidate_path_invalid", _error(exc))
    try:
        pack = read_runpack(Path(candidate))
    except GaitError as exc:
        return _fail(name, "candidate_runpack_invalid", _error(exc))
    details: dict[str, Any] = {"candidate_runpack": candidate}
    reasons = []
    if expected_tools and not _compare_sequence(
        "tool_sequence", expected_tools, tool_sequence(pack), details
    ):
        reasons.append("unexpected_tool_sequence")
    if expected_verdicts and not _compare_sequence(
        "verdict_sequence", expected_verdicts, verdict_sequence(pack), details
    ):
        reasons.append("unexpected_verdict_sequence")
    if reasons:
        return GraderResult(name=name, status=FAIL, reason_codes=tuple(reasons), details=details)
    return GraderResult(name=name, status=PASS, reason_codes=("trajectory_match",), details=details)


def grade_diff(fixture: Fixture) -> GraderResult:
    """Every runpack file the candidate changes must be listed in `diff_allow_changed_files`."""
    name = "diff"
    try:
        candidate = candidate_path(fixture)
    except InvalidInputError as exc:
        return _fail(name, "candidate_path_invalid", _error(exc))
    try:
        summary = diff_runpacks(
            read_runpack(Path(fixture.runpack_path)), read_runpack(Path(candidate))
        )
    except GaitError as exc:
        return _fail(name, "diff_error", _error(exc))
    changed = list(summary.get("files_changed", []))
    for flag, member in (
        ("manifest_changed", "manifest.json"),
        ("intents_changed", "intents.jsonl"),
        ("results_changed", "results.jsonl"),
        ("refs_changed", "refs.json"),
    ):
        if summary[flag]:
            changed.append(member)
    changed = unique_sorted(changed)
    allowed = unique_sorted(fixture.meta.diff_allow_changed_files)
    unexpected = [member for member in changed if member not in allowed]
    details: dict[str, Any] = {
        "candidate_runpack": candidate,
        "changed_files": changed,
        "allowed_files": allowed,
    }
    if unexpected:
        details["unexpected_files"] = unexpected
        return _fail(name, "unexpected_diff", details)
    return GraderResult(name=name, status=PASS, details=details)


def grade_context_conformance(
    fixture: Fixture, *, enforce: bool, allow_runtime_drift: bool
) -> GraderResult:
    """Context evidence drift between baseline and candidate refs.

    Enforced with `--context-conformance`, `context_conformance: required` or an expected
    context set digest; otherwise it reports the drift and passes.
    """
    name = "context_conformance"
    try:
        candidate = candidate_path(fixture)
    except InvalidInputError as exc:
        return _fail(name, "candidate_path_invalid", _error(exc), CONFORMANCE_MISSING)
    try:
        baseline_pack = read_runpack(Path(fixture.runpack_path))
    except GaitError as exc:
        return _fail(name, "source_runpack_invalid", _error(exc), CONFORMANCE_MISSING)
    try:
        candidate_pack = read_runpack(Path(candidate))
    except GaitError as exc:
        return _fail(name, "candidate_runpack_invalid", _error(exc), CONFORMANCE_MISSING)
    baseline_refs, candidate_refs = baseline_pack.refs, candidate_pack.refs
    classification = classify_context_drift(baseline_refs, candidate_refs)
    details = {
        "candidate_runpack": candidate,
        "context_set_digest_fixture": baseline_refs.context_set_digest,
        "context_set_digest_candidate": candidate_refs.context_set_digest,
        "context_changed": classification != DRIFT_NONE,
        "context_runtime_only": classification == DRIFT_RUNTIME_ONLY,
    }
    meta = fixture.meta
    expected_digest = go_trim_space(meta.expected_context_set_digest)
    enforce = (
        enforce or go_trim_space(meta.context_conformance) == "required" or bool(expected_digest)
    )
    if (
        expected_digest
        and candidate_refs.context_set_digest.lower() != expected_digest.lower()
        and classification != DRIFT_RUNTIME_ONLY
    ):
        return _fail(name, "context_set_digest_mismatch", details, DRIFT_SEMANTIC)
    if not enforce:
        return GraderResult(
            name=name,
            status=PASS,
            reason_codes=("context_conformance_not_required",),
            context_conformance=classification,
            details=details,
        )
    if not go_trim_space(candidate_refs.context_set_digest):
        return _fail(name, "context_evidence_missing", details, CONFORMANCE_MISSING)
    if classification == DRIFT_SEMANTIC:
        return _fail(name, "context_semantic_drift", details, DRIFT_SEMANTIC)
    if classification == DRIFT_RUNTIME_ONLY and not (
        allow_runtime_drift or meta.allow_context_runtime_drift
    ):
        return _fail(name, "context_runtime_drift_blocked", details, DRIFT_RUNTIME_ONLY)
    return GraderResult(
        name=name,
        status=PASS,
        reason_codes=("context_conformance_pass",),
        context_conformance=classification,
        details=details,
    )


def context_conformance_requested(fixtures: Iterable[Fixture]) -> bool:
    """Whether any fixture asks for the context grader (the flag asks for it everywhere)."""
    return any(
        go_trim_space(f.meta.context_conformance)
        or go_trim_space(f.meta.expected_context_set_digest)
        or f.meta.allow_context_runtime_drift
        for f in fixtures
    )
