"""Every gate conformance case through the installed `gait gate eval --json`, as a user runs it:
the policy and intent written to an empty directory, default key mode. Each case runs twice:
cold, and handed over to a warm process (gait_cli.warm), which must answer the same."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CONFORMANCE, Run, RunGait
from tests.warm_support import run_measured, stop_servers, wait_for_server, warm_env

CASES = sorted((CONFORMANCE / "gate" / "cases").glob("case_*.json"))
COMPARED = (
    "ok",
    "verdict",
    "reason_codes",
    "violations",
    "matched_rule",
    "phase",
    "intent_digest",
    "policy_digest",
    "trace_id",
)


def test_the_cases_are_there() -> None:
    assert len(CASES) == 200


EVAL = ("gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json", "--json")


@pytest.fixture(scope="module")
def warm_runtime() -> Iterator[Path]:
    """One warm process for every case (GAIT_HOME is no part of its key)."""
    runtime = Path(tempfile.mkdtemp(prefix="gait-warm-", dir="/tmp"))
    empty = Path(tempfile.mkdtemp())
    run_measured(EVAL, cwd=empty, env=warm_env(runtime))  # fails (exit 6); starts the server
    wait_for_server(runtime)
    yield runtime
    stop_servers(runtime)
    shutil.rmtree(runtime)
    shutil.rmtree(empty)


@pytest.mark.parametrize("start", ["cold", "warm"])
@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_gate_case(
    case_path: Path, start: str, gait: RunGait, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    case: dict[str, Any] = json.loads(case_path.read_text())
    work = tmp_path / "work"
    work.mkdir()
    (work / "policy.yaml").write_text(case["policy_yaml"])
    (work / "intent.json").write_text(json.dumps(case["intent"]))
    home = {"GAIT_HOME": str(tmp_path / "home")}
    if start == "cold":
        run = gait(*EVAL, cwd=work, env=home)
    else:
        runtime: Path = request.getfixturevalue("warm_runtime")
        measured = run_measured(EVAL, cwd=work, env=warm_env(runtime, **home))
        assert measured.handed_over, measured
        run = Run(measured.code, measured.stdout, measured.stderr)
    expected = case["expected"]
    output = run.json
    assert run.code == expected["exit_code"], output
    for key in COMPARED:
        if key in expected:
            got = output.get(key)
            want = expected[key]
            if isinstance(want, list):
                got = sorted(got or [])
            assert got == want, f"{key}: {output}"
        else:
            assert key not in output, f"{key} should be absent: {output}"
    traces = list(work.glob("trace_*.json"))
    if expected["exit_code"] == 6:
        assert traces == [], "an invalid input must not leave a trace"
    else:
        assert [t.name for t in traces] == [f"trace_{expected['trace_id']}.json"]
