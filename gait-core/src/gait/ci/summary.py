"""summary.json and summary.md: what a CI run found, for people and for CI integrations.

summary.json (`gait.ci.summary` 1.0.0) always has the same keys, in this order:
`schema_id, schema_version, producer_version, status (pass|fail|error), exit_code, config,
fixture, fixture_created, fixture_set, graders, failed, failed_graders [{name, reason_codes}],
top_failure_reason, next_command, error, error_code, hint, artifacts`. summary.md is rendered
from it alone, so the two never disagree. Both are pure functions of the run: no clock, no
absolute path, no environment.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from gait.ci.artifacts import (
    ARTIFACT_FILES,
    JUNIT_FILE,
    RESULT_FILE,
    SUMMARY_JSON_FILE,
    SUMMARY_MARKDOWN_FILE,
    ContractOptions,
    artifact_path,
    contract_command,
)
from gait.errors import ExitCode, GaitError, error_envelope

if TYPE_CHECKING:
    from gait.regress import RegressRun

SCHEMA_ID = "gait.ci.summary"
SCHEMA_VERSION = "1.0.0"
_ALL_ARTIFACTS = [artifact_path(name) for name in ARTIFACT_FILES]
_SUMMARY_ARTIFACTS = [artifact_path(SUMMARY_MARKDOWN_FILE), artifact_path(SUMMARY_JSON_FILE)]


def _document(options: ContractOptions, created: str, **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema_id": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "producer_version": options.producer_version,
        "status": "",
        "exit_code": 0,
        "config": options.config,
        "fixture": options.fixture,
        "fixture_created": created,
        "fixture_set": "",
        "graders": 0,
        "failed": 0,
        "failed_graders": [],
        "top_failure_reason": "",
        "next_command": "",
        "error": "",
        "error_code": "",
        "hint": "",
        "artifacts": [],
    }
    unknown = set(fields) - set(document)
    assert not unknown, unknown
    document.update(fields)
    return document


def from_run(run: RegressRun, options: ContractOptions, created: str) -> dict[str, Any]:
    result = run.result
    failed = result.failed_graders
    return _document(
        options,
        created,
        status=result.status,
        exit_code=int(ExitCode.OK if run.passed else ExitCode.REGRESSION_FAILED),
        fixture_set=result.fixture_set,
        graders=len(result.graders),
        failed=len(failed),
        failed_graders=[
            {"name": grader.name, "reason_codes": list(grader.reason_codes)} for grader in failed
        ],
        top_failure_reason=run.top_failure_reason,
        next_command="" if run.passed else contract_command(options.config, options.fixture),
        artifacts=list(_ALL_ARTIFACTS),
    )


def _hint(options: ContractOptions, envelope_hint: str) -> str:
    if not os.path.exists(options.config):
        return (
            f"{options.config} does not exist: commit it with fixtures/ "
            "(gait regress init --from <run_id|runpack>), or pass --fixture demo to start "
            "from the demo run"
        )
    return envelope_hint


def from_error(exc: GaitError, options: ContractOptions, created: str) -> dict[str, Any]:
    message = str(exc)
    envelope = error_envelope(message, exc.category)
    return _document(
        options,
        created,
        status="error",
        exit_code=int(exc.exit_code),
        next_command=contract_command(options.config, options.fixture),
        error=message,
        error_code=envelope["error_code"],
        hint=_hint(options, envelope["hint"]),
        artifacts=list(_SUMMARY_ARTIFACTS),
    )


def to_json(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def markdown(document: dict[str, Any]) -> str:
    """summary.md: the headline, the failing graders, the top failure reason and the next
    command; the step summary of a GitHub job and the first thing to read after a red run."""
    status = document["status"]
    config = _code(document["config"])
    lines = [f"## Gait regress: {status} (exit {document['exit_code']})", ""]
    if document["fixture_created"]:
        lines += [
            f"Created fixture {_code(document['fixture_created'])} from "
            f"{_code(document['fixture'])}: {config} did not exist.",
            "",
        ]
    fixture_set = _code(document["fixture_set"])
    if status == "pass":
        lines.append(
            f"All {document['graders']} graders passed for fixture set {fixture_set} "
            f"(config {config})."
        )
    elif status == "fail":
        lines += [
            f"{document['failed']} of {document['graders']} graders failed for fixture set "
            f"{fixture_set} (config {config}).",
            "",
            "| failing grader | reason codes |",
            "| --- | --- |",
        ]
        lines.extend(
            f"| {_code(grader['name'])} | "
            + (", ".join(_code(code) for code in grader["reason_codes"]) or "-")
            + " |"
            for grader in document["failed_graders"]
        )
        lines += [
            "",
            f"- Top failure reason: {_code(document['top_failure_reason'])}",
            f"- Next: run {_code(document['next_command'])} where you can debug it; it writes "
            "these same files. Each grader's details are in "
            f"{_code(artifact_path(RESULT_FILE))}, the test report in "
            f"{_code(artifact_path(JUNIT_FILE))}.",
        ]
    else:
        lines += [
            "The regression suite did not run:",
            "",
            "```text",
            document["error"].replace("```", "'''"),
            "```",
            "",
            f"- Error code: {_code(document['error_code'])}",
            f"- Hint: {document['hint']}",
            f"- Next: fix it, then run {_code(document['next_command'])}",
        ]
    lines += ["", "Artifacts: " + ", ".join(_code(path) for path in document["artifacts"])]
    return "\n".join(lines) + "\n"
