"""Every gate conformance case through the installed `gait gate eval --json`, as a user runs it:
the policy and intent written to an empty directory, default key mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CONFORMANCE, RunGait

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


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_gate_case(case_path: Path, gait: RunGait, tmp_path: Path) -> None:
    case: dict[str, Any] = json.loads(case_path.read_text())
    work = tmp_path / "work"
    work.mkdir()
    (work / "policy.yaml").write_text(case["policy_yaml"])
    (work / "intent.json").write_text(json.dumps(case["intent"]))
    home = {"GAIT_HOME": str(tmp_path / "home")}
    run = gait(*EVAL, cwd=work, env=home)
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
