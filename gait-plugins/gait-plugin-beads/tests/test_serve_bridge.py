"""`gait mcp serve --bridge beads`: each blocked decision becomes one Beads issue, in the
background, through a real server process and the stand-in `bd`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.mcp_server import Server

from .conftest import FakeBd

BODY = json.loads(
    (
        Path(__file__).resolve().parents[4]
        / "shared"
        / "reference_fixtures"
        / "derived"
        / "serve_body_mcp_nosession.json"
    ).read_text()
)


def wait_for_creates(fake_bd: FakeBd, count: int) -> list[str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if fake_bd.commands().count("create") >= count:
            break
        time.sleep(0.1)
    return fake_bd.commands()


def test_blocked_decisions_are_filed_once_in_the_background(
    tmp_path: Path, fake_bd: FakeBd
) -> None:
    (tmp_path / "policy.yaml").write_text("default_verdict: block\n")
    server = Server(
        tmp_path,
        "--policy",
        "policy.yaml",
        "--bridge",
        "beads",
        env={**fake_bd.env(), "GAIT_PLUGINS": "beads"},
    )
    try:
        blocked = server.evaluate(BODY)
        assert blocked.status == 200
        answer = json.loads(blocked.body)
        assert answer["verdict"] == "block"
        wait_for_creates(fake_bd, 1)
        again = json.loads(server.evaluate(BODY).body)
        assert again["trace_id"] == answer["trace_id"]
    finally:
        assert server.stop() == 0
    issues = fake_bd.issues()
    assert [issue["external_ref"] for issue in issues] == [f"gait:{answer['trace_id']}"]
    assert fake_bd.commands().count("create") == 1


def test_an_unknown_bridge_is_refused_at_start(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("default_verdict: block\n")
    try:
        Server(tmp_path, "--policy", "policy.yaml", "--bridge", "nowhere")
    except RuntimeError as exc:
        assert "exited 6" in str(exc) and "unknown --bridge 'nowhere'" in str(exc)
    else:
        raise AssertionError("the server started with an unknown bridge")
