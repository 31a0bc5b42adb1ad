"""examples/integrations/openclaw: the policy stub decides each sample OpenClaw call as its README
says, and the guide shows the same policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gait.testing import RunGait

from .conftest import REPO

EXAMPLE = REPO / "examples" / "integrations" / "openclaw"
GUIDE = REPO / "docs" / "integrations" / "openclaw.md"
EXIT = {"allow": 0, "block": 3, "require_approval": 4}


def documented_verdicts() -> dict[str, str]:
    rows = re.findall(
        r"^\| `calls/(\w+)\.json` \| .* \| `(\w+)` \|$", (EXAMPLE / "README.md").read_text(), re.M
    )
    return dict(rows)


def test_every_call_is_documented() -> None:
    assert sorted(documented_verdicts()) == sorted(
        p.stem for p in (EXAMPLE / "calls").glob("*.json")
    )


@pytest.mark.parametrize(("call", "verdict"), sorted(documented_verdicts().items()))
def test_the_policy_decides_each_call_as_documented(
    gait: RunGait, tmp_path: Path, call: str, verdict: str
) -> None:
    run = gait(
        "mcp", "proxy", "--policy", str(EXAMPLE / "policy.yaml"),
        "--call", str(EXAMPLE / "calls" / f"{call}.json"), "--adapter", "openclaw", "--json",
        plugins="openclaw",
    )  # fmt: skip
    assert run.code == EXIT[verdict], run.stdout + run.stderr
    assert run.json["verdict"] == verdict


def test_the_guide_shows_the_example_policy() -> None:
    shown = re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), re.S)
    assert (EXAMPLE / "policy.yaml").read_text() in shown
