"""`regress run`: load the fixture set, grade every fixture, write the result (and JUnit).

The output is deterministic: fixtures and graders run in name order, grader results are sorted
by `<fixture>/<grader>`, reason codes are sorted, `created_at` is the first fixture's run time
(not the wall clock), and nothing records a duration.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from gait import __version__
from gait.errors import GaitError, InvalidInputError
from gait.gostrings import go_trim_space
from gait.regress import gopath
from gait.regress.config import (
    CONFIG_FILE_NAME,
    FIXTURE_FILE_NAME,
    RegressConfig,
    read_config,
    read_fixture_meta,
    write_file,
)
from gait.regress.graders import (
    FAIL,
    PASS,
    Fixture,
    GraderResult,
    context_conformance_requested,
    grade_context_conformance,
    grade_diff,
    grade_expected_exit_code,
    grade_schema_validation,
    grade_trajectory,
    unique_sorted,
)
from gait.regress.junit import junit_xml
from gait.regress.result import RegressResult, regress_result_json
from gait.runpack import read_runpack
from gait.timefmt import ZERO_TIME_TEXT, GoTime

# RegressResult and regress_result_json live in gait.regress.result; still importable from here.
__all__ = [
    "DEFAULT_OUTPUT",
    "Progress",
    "RegressResult",
    "RegressRun",
    "RunOptions",
    "load_fixtures",
    "regress_result_json",
    "rerun_command",
    "run_regress",
]

DEFAULT_OUTPUT = "regress_result.json"
_EPOCH = GoTime.parse("1980-01-01T00:00:00Z")
_GO_ZERO_TIME = GoTime.parse(ZERO_TIME_TEXT)

Progress = Callable[[int, int, str], None]
"""Called before each fixture is graded: (position from 1, fixture count, fixture name)."""


@attrs.frozen(kw_only=True)
class RunOptions:
    """Paths are kept as typed: they are echoed in the output as the reference echoes them.

    Relative runpack paths in the config resolve against `work_dir` (the current directory,
    as in the reference CLI), not against the config file's directory.
    """

    config_path: str = CONFIG_FILE_NAME
    output_path: str = DEFAULT_OUTPUT
    junit_path: str = ""
    work_dir: str = "."
    producer_version: str = __version__
    context_conformance: bool = False
    allow_context_runtime_drift: bool = False


@attrs.frozen(kw_only=True)
class RegressRun:
    result: RegressResult
    output_path: str
    junit_path: str

    @property
    def passed(self) -> bool:
        return self.result.status == PASS

    @property
    def top_failure_reason(self) -> str:
        """The first reason of the first failing grader in name order ("" when all pass)."""
        for grader in self.result.failed_graders:
            return grader.reason_codes[0] if grader.reason_codes else "grader_failed"
        return ""

    def summary(self, config_path: str) -> dict[str, Any]:
        """The fields of `regress run --json` (the CLI adds `ok` and `correlation_id`).

        `top_failure_reason`, `next_command` and `artifact_paths` are here only, not in
        regress_result.json. Empty fields are left out, as the reference's omitempty does.
        """
        fields: dict[str, Any] = {
            "status": self.result.status,
            "fixture_set": self.result.fixture_set,
            "graders": len(self.result.graders),
            "failed": len(self.result.failed_graders),
            "top_failure_reason": self.top_failure_reason,
            "next_command": "" if self.passed else rerun_command(config_path),
            "artifact_paths": [
                trimmed
                for path in (self.output_path, self.junit_path)
                if (trimmed := go_trim_space(path))
            ],
            "output": self.output_path,
            "junit": self.junit_path,
        }
        return {key: value for key, value in fields.items() if value not in ("", 0, [])}


def rerun_command(config_path: str) -> str:
    """The command that reproduces a failing run."""
    config = go_trim_space(config_path)
    if config in ("", CONFIG_FILE_NAME):
        return "gait regress run --json"
    return f"gait regress run --config {config} --json"


def _wrap(prefix: str, exc: GaitError) -> GaitError:
    """The reference wraps with %w: the message gains a prefix, the category is kept."""
    return GaitError(f"{prefix}: {exc}", category=exc.category)


def load_fixtures(config: RegressConfig, work_dir: str) -> list[Fixture]:
    """Every configured fixture, checked: its baseline passes the integrity checks and its
    fixture.json agrees with the config and the runpack. Any problem stops the run."""
    fixtures = []
    for entry in config.fixtures:
        runpack_path = entry.runpack
        if not gopath.is_abs(runpack_path):
            runpack_path = gopath.join(work_dir, runpack_path)
        try:
            os.stat(runpack_path)
        except OSError as exc:
            raise InvalidInputError(
                f"fixture runpack missing for {entry.name}: stat {runpack_path}: "
                f"{exc.strerror or exc}"
            ) from exc
        try:
            pack = read_runpack(Path(runpack_path))
        except GaitError as exc:
            raise _wrap(f"read fixture runpack for {entry.name}", exc) from exc
        directory = gopath.parent(runpack_path)
        try:
            meta = read_fixture_meta(Path(gopath.join(directory, FIXTURE_FILE_NAME)))
        except GaitError as exc:
            raise _wrap(f"read fixture metadata for {entry.name}", exc) from exc
        if meta.name != entry.name:
            raise InvalidInputError(f"fixture metadata name mismatch for {entry.name}")
        if entry.run_id and meta.run_id != entry.run_id:
            raise InvalidInputError(f"fixture run_id mismatch for {entry.name}")
        if pack.run.run_id != meta.run_id:
            raise InvalidInputError(f"runpack run_id mismatch for {entry.name}")
        fixtures.append(
            Fixture(
                name=entry.name,
                run_id=meta.run_id,
                directory=directory,
                runpack_path=runpack_path,
                run_created_at=pack.run.created_at,
                meta=meta,
            )
        )
    return sorted(fixtures, key=lambda fixture: fixture.name)


def _graders(
    fixtures: list[Fixture], options: RunOptions
) -> list[Callable[[Fixture], GraderResult]]:
    graders: list[Callable[[Fixture], GraderResult]] = [
        grade_schema_validation,
        grade_expected_exit_code,
        grade_trajectory,
        grade_diff,
    ]
    if options.context_conformance or context_conformance_requested(fixtures):

        def context(fixture: Fixture) -> GraderResult:
            return grade_context_conformance(
                fixture,
                enforce=options.context_conformance,
                allow_runtime_drift=options.allow_context_runtime_drift,
            )

        graders.append(context)
    return graders


def _finish(result: GraderResult, fixture: Fixture) -> GraderResult:
    """Qualify the name with the fixture, sort reason codes, add `fixture` and `run_id`."""
    details: dict[str, Any] = {**result.details, "fixture": fixture.name, "run_id": fixture.run_id}
    return attrs.evolve(
        result,
        name=f"{fixture.name}/{result.name}",
        reason_codes=tuple(unique_sorted(result.reason_codes)),
        details=dict(sorted(details.items())),
    )


def _created_at(first: Fixture) -> GoTime:
    created = first.run_created_at
    return _EPOCH if created == _GO_ZERO_TIME else created.utc()


def run_regress(options: RunOptions, progress: Progress | None = None) -> RegressRun:
    """Grade the fixture set of `options.config_path`; write the result and, when asked, JUnit.

    A failing grader is a result (status `fail`); a config, fixture or integrity problem is an
    error (GaitError), and then nothing is written.
    """
    config = read_config(options.config_path)
    fixtures = load_fixtures(config, options.work_dir)
    if not fixtures:
        raise InvalidInputError("no fixtures configured")
    graders = _graders(fixtures, options)
    results: list[GraderResult] = []
    for position, fixture in enumerate(fixtures, 1):
        if progress is not None:
            progress(position, len(fixtures), fixture.name)
        results.extend(_finish(grade(fixture), fixture) for grade in graders)
    results.sort(key=lambda result: result.name)
    result = RegressResult(
        created_at=_created_at(fixtures[0]),
        producer_version=options.producer_version,
        fixture_set=config.fixture_set,
        status=FAIL if any(r.failed for r in results) else PASS,
        graders=tuple(results),
    )
    output_path = options.output_path or DEFAULT_OUTPUT
    write_file(Path(output_path), regress_result_json(result), "regress result")
    junit_path = go_trim_space(options.junit_path)
    if junit_path:
        write_file(Path(junit_path), junit_xml(result), "junit report")
    return RegressRun(result=result, output_path=output_path, junit_path=junit_path)
