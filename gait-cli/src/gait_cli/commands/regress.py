"""`gait regress init|run|bootstrap`: recorded runs as CI regression tests.

`init` turns a runpack into a fixture; `run` grades every fixture and exits 5 on a regression
(6 when the fixture set itself is broken); `bootstrap` does both in one step.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from gait.errors import ExitCode, InvalidInputError
from gait.regress import InitResult, RegressRun, RunOptions, init_fixture, resolve_source
from gait.regress import run_regress as run_fixture_set
from gait_cli.app import cli
from gait_cli.output import Report, gait_command

# Below this many fixtures a run is over before a progress line would help.
PROGRESS_MIN_FIXTURES = 10
RUN_EXIT_CODES = (0, 1, 2, 5, 6)


@cli.group("regress")
def regress() -> None:
    """Turn runs into CI regression tests and run them."""


def _fixture_source_options(func: Callable[..., Report]) -> Callable[..., Report]:
    func = click.option(
        "--name", default="", help="Fixture name (default: the run id, sanitized)."
    )(func)
    return click.option(
        "--from", "source", default="", help="The runpack: a path, or a run id in ./gait-out."
    )(func)


def _run_options(func: Callable[..., Report]) -> Callable[..., Report]:
    options = [
        click.option("--config", default="gait.yaml", show_default=True, help="Suite config."),
        click.option(
            "--output", default="regress_result.json", show_default=True, help="Result file."
        ),
        click.option("--junit", default="", help="Also write a JUnit XML report here."),
        click.option(
            "--context-conformance",
            is_flag=True,
            help="Grade context evidence drift for every fixture, and enforce it.",
        ),
        click.option(
            "--allow-context-runtime-drift",
            is_flag=True,
            help="With context conformance, accept drift in retrieval times only.",
        ),
        click.option(
            "--allow-nondeterministic",
            is_flag=True,
            help="Accepted for compatibility: every grader is deterministic.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _init(source: str, name: str) -> InitResult:
    if not source.strip():
        raise InvalidInputError("missing required --from <run_id|path>")
    return init_fixture(resolve_source(source.strip()), name=name)


class _ProgressLine:
    """A self-overwriting status line on stderr, shown only for runs long enough to need it."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, position: int, total: int, fixture: str) -> None:
        if total < PROGRESS_MIN_FIXTURES:
            return
        self.shown = True
        sys.stderr.write(f"\r\x1b[Kregress: {position}/{total} {fixture}")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _wants_progress() -> bool:
    """Only a person at a terminal sees progress; JSON runs and CI logs stay clean."""
    as_json = bool(click.get_current_context().params.get("as_json"))
    in_ci = os.environ.get("CI", "").strip().lower() in ("true", "1")
    return not as_json and not in_ci and sys.stderr.isatty()


def _run(
    config: str,
    output: str,
    junit: str,
    context_conformance: bool,
    allow_context_runtime_drift: bool,
) -> RegressRun:
    options = RunOptions(
        config_path=config,
        output_path=output,
        junit_path=junit,
        context_conformance=context_conformance,
        allow_context_runtime_drift=allow_context_runtime_drift,
    )
    line = _ProgressLine() if _wants_progress() else None
    try:
        return run_fixture_set(options, line)
    finally:
        if line is not None:
            line.clear()


def _failure_lines(summary: dict[str, Any]) -> list[str]:
    return [
        f"top_failure_reason: {summary['top_failure_reason']}",
        f"next: {summary['next_command']}",
        "artifacts: " + ", ".join(summary["artifact_paths"]),
    ]


def _exit_code(run: RegressRun) -> ExitCode:
    return ExitCode.OK if run.passed else ExitCode.REGRESSION_FAILED


@gait_command(
    regress,
    "init",
    exit_codes=(0, 1, 2, 6),
    help=(
        "Create fixtures/<name>/ (runpack.zip and fixture.json) from a recorded runpack and "
        "regenerate gait.yaml. Re-running it for a name replaces that fixture."
    ),
)
@_fixture_source_options
def init(source: str, name: str) -> Report:
    result = _init(source, name)
    return Report(
        payload={
            "run_id": result.run_id,
            "fixture_name": result.fixture_name,
            "fixture_dir": result.fixture_dir,
            "runpack_path": result.runpack_path,
            "config_path": result.config_path,
            "next_commands": list(result.next_commands),
        },
        text=[
            f"regress init ok: fixture={result.fixture_name} run_id={result.run_id}",
            f"config: {result.config_path}",
            f"runpack: {result.runpack_path}",
            "next: " + " | ".join(result.next_commands),
        ],
    )


@gait_command(
    regress,
    "run",
    exit_codes=RUN_EXIT_CODES,
    help=(
        "Grade every fixture of the config against its candidate runpack (the baseline itself "
        "unless fixture.json names candidate_runpack). Exit 5 on a regression, 6 when the "
        "config, a fixture or its runpack cannot be used."
    ),
)
@_run_options
def run(
    config: str,
    output: str,
    junit: str,
    context_conformance: bool,
    allow_context_runtime_drift: bool,
    allow_nondeterministic: bool,
) -> Report:
    outcome = _run(config, output, junit, context_conformance, allow_context_runtime_drift)
    summary = outcome.summary(config)
    if outcome.passed:
        text = [
            f"regress run ok: fixture_set={summary['fixture_set']} graders={summary['graders']}"
        ]
    else:
        text = [
            f"regress run failed: fixture_set={summary['fixture_set']} failed={summary['failed']}",
            *_failure_lines(summary),
        ]
    text.append(f"output: {outcome.output_path}")
    if outcome.junit_path:
        text.append(f"junit: {outcome.junit_path}")
    return Report(payload=summary, text=text, exit_code=_exit_code(outcome), ok=outcome.passed)


@gait_command(
    regress,
    "bootstrap",
    exit_codes=RUN_EXIT_CODES,
    help="`regress init` then `regress run`, in one step, with the exit codes of run.",
)
@_fixture_source_options
@_run_options
def bootstrap(
    source: str,
    name: str,
    config: str,
    output: str,
    junit: str,
    context_conformance: bool,
    allow_context_runtime_drift: bool,
    allow_nondeterministic: bool,
) -> Report:
    fixture = _init(source, name)
    outcome = _run(config, output, junit, context_conformance, allow_context_runtime_drift)
    summary = outcome.summary(config)
    for key in ("fixture_set", "graders"):
        summary.pop(key, None)  # the reference's bootstrap output has neither
    payload = {
        "run_id": fixture.run_id,
        "fixture_name": fixture.fixture_name,
        "fixture_dir": fixture.fixture_dir,
        "runpack_path": fixture.runpack_path,
        "config_path": fixture.config_path,
        **summary,
    }
    head = f"run_id={fixture.run_id} fixture={fixture.fixture_name}"
    if outcome.passed:
        text = [f"regress bootstrap ok: {head}", f"output: {outcome.output_path}"]
        if outcome.junit_path:
            text.append(f"junit: {outcome.junit_path}")
    else:
        text = [
            f"regress bootstrap failed: {head} failed={summary['failed']}",
            *_failure_lines(summary),
        ]
    return Report(payload=payload, text=text, exit_code=_exit_code(outcome), ok=outcome.passed)
