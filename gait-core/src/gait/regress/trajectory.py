"""What a run did, as the trajectory grader compares it: the tools it called, in order, and the
verdict of each result."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from gait.gostrings import go_lower, go_trim_space

if TYPE_CHECKING:
    from gait.contracts import ResultRecord
    from gait.runpack import Runpack

NO_MISMATCH = -1
MISSING = "<missing>"
NONE = "<none>"

_VERDICT_ALIASES = {
    "allow": "allow",
    "ok": "allow",
    "pass": "allow",
    "passed": "allow",
    "success": "allow",
    "block": "block",
    "blocked": "block",
    "deny": "block",
    "denied": "block",
    "require_approval": "require_approval",
    "approval_required": "require_approval",
    "needs_approval": "require_approval",
    "needsapproval": "require_approval",
    "dry_run": "dry_run",
    "dryrun": "dry_run",
    "simulate": "dry_run",
    "simulated": "dry_run",
    "error": "error",
    "failed": "error",
    "failure": "error",
}

# A result's status is matched as written (lower-cased): unlike a verdict text, `dry-run` is
# listed rather than normalized, and an unknown status is an error rather than no verdict.
_STATUS_VERDICTS = {
    "ok": "allow",
    "pass": "allow",
    "passed": "allow",
    "success": "allow",
    "block": "block",
    "blocked": "block",
    "deny": "block",
    "denied": "block",
    "require_approval": "require_approval",
    "approval_required": "require_approval",
    "needs_approval": "require_approval",
    "dry_run": "dry_run",
    "dry-run": "dry_run",
    "dryrun": "dry_run",
    "simulate": "dry_run",
    "simulated": "dry_run",
}


def normalize_verdict(text: str) -> str:
    """The canonical verdict a text names (`PASS` → allow, `dry-run` → dry_run), "" if none."""
    key = go_lower(go_trim_space(text)).replace("-", "_").replace(" ", "_")
    return _VERDICT_ALIASES.get(key, "")


def result_verdict(result: ResultRecord) -> str:
    """A structured `result.verdict` wins (raw capture only); otherwise the status decides."""
    if result.result is not None:
        raw = result.result.get("verdict")
        # Only a string can name a verdict; the reference formats other values with %v.
        if isinstance(raw, str) and (verdict := normalize_verdict(raw)):
            return verdict
    return _STATUS_VERDICTS.get(go_lower(go_trim_space(result.status)), "error")


def tool_sequence(pack: Runpack) -> list[str]:
    """Tool names in intent order; blank names are skipped."""
    return normalize_sequence(intent.tool_name for intent in pack.intents)


def verdict_sequence(pack: Runpack) -> list[str]:
    """One verdict per result, in results order."""
    return [result_verdict(result) for result in pack.results]


def normalize_sequence(values: Iterable[str]) -> list[str]:
    """Trimmed values, blanks dropped."""
    return [trimmed for value in values if (trimmed := go_trim_space(value))]


def normalize_verdict_sequence(values: Iterable[str]) -> list[str]:
    """Canonical verdicts, blanks dropped; ValueError names the first unknown verdict."""
    out = []
    for value in normalize_sequence(values):
        verdict = normalize_verdict(value)
        if not verdict:
            raise ValueError(f'invalid verdict "{value}"')
        out.append(verdict)
    return out


def first_mismatch(expected: Sequence[str], actual: Sequence[str]) -> tuple[int, str, str]:
    """(index, expected item, actual item) where the sequences first differ; the shorter side
    reads `<missing>`. (-1, `<none>`, `<none>`) when they are equal."""
    for index in range(max(len(expected), len(actual))):
        want = expected[index] if index < len(expected) else MISSING
        got = actual[index] if index < len(actual) else MISSING
        if want != got:
            return index, want, got
    return NO_MISMATCH, NONE, NONE
