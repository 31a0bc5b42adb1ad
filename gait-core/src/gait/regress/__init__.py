"""Regress: recorded runs as CI regression tests.

    from gait.regress import init_fixture, run_regress, RunOptions
    init_fixture(Path("gait-out/runpack_run_demo.zip"))      # fixtures/run_demo/ + gait.yaml
    run = run_regress(RunOptions(junit_path="junit.xml"))    # regress_result.json + junit.xml
    run.passed, run.top_failure_reason, run.result.graders

`run_regress` raises GaitError for a broken fixture set (exit 6 in the CLI); a regression is a
result with status `fail` (exit 5).
"""

from __future__ import annotations

from gait.regress.config import (
    FixtureMeta,
    RegressConfig,
    read_config,
    read_fixture_meta,
    sanitize_fixture_name,
)
from gait.regress.graders import GraderResult
from gait.regress.init import InitResult, init_fixture, resolve_source
from gait.regress.junit import junit_xml
from gait.regress.result import RegressResult, regress_result_json
from gait.regress.run import RegressRun, RunOptions, run_regress

__all__ = [
    "FixtureMeta",
    "GraderResult",
    "InitResult",
    "RegressConfig",
    "RegressResult",
    "RegressRun",
    "RunOptions",
    "init_fixture",
    "junit_xml",
    "read_config",
    "read_fixture_meta",
    "regress_result_json",
    "resolve_source",
    "run_regress",
    "sanitize_fixture_name",
]
