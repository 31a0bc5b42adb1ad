"""Issue 15 §4, the service's parts: a policy read that did not settle never decides (in-place
edits under load give zero wrong verdicts), an edit that does not load keeps the last good
policy and says so, a FIFO is never waited on, and /healthz answers 503 while traces cannot
be written."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from gait_cli.mcp_serve.policy import PolicyHolder
from tests.conftest import RunGait
from tests.mcp_server import Server

HEAD = "schema_id: gait.gate.policy\nschema_version: 1.0.0\n"
DELETE = {
    "name": "tool.delete",
    "args": {"path": "/srv/data"},
    "targets": [{"kind": "path", "value": "/srv/data", "operation": "delete"}],
    "context": {"identity": "alice", "workspace": "/srv", "risk_class": "low"},
}
# Two policies that both block tool.delete, differently. The second is long, and its first
# half alone is a valid policy that allows everything: a decision made with half of it
# would allow the delete.
BLOCK_ALL = HEAD + "default_verdict: block\n"
BLOCK_DELETES = (
    HEAD
    + "default_verdict: allow\n# "
    + "padding " * 60
    + "\nrules:\n  - name: no-deletes\n    effect: block\n    match:\n"
    + "      tool_names: [tool.delete]\n"
)


# Alternates the file between the two policies for N seconds, each edit torn: truncated and
# written in two pieces with a pause between them, or overwritten in place (the old tail shows
# until the new length is set). Some edits are followed by a quiet spell long enough to be
# taken up, others not. Prints the number of edits.
EDITOR = """
import os, sys, time
path, texts, seconds = sys.argv[1], [t.encode() for t in sys.argv[2:4]], float(sys.argv[4])
edits, deadline = 0, time.monotonic() + seconds
while time.monotonic() < deadline:
    data = texts[(edits + 1) % 2]
    half = len(data) // 2
    truncate = os.O_TRUNC if edits % 4 in (1, 2) else 0
    fd = os.open(path, os.O_WRONLY | truncate)
    try:
        os.write(fd, data[:half])
        time.sleep(0.01)
        os.write(fd, data[half:])
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)
    edits += 1
    time.sleep((0.03, 0.25, 0.06)[edits % 3])
print(edits)
"""


def _half_allows_everything() -> None:
    from gait.gate import Gate

    half = BLOCK_DELETES[: len(BLOCK_DELETES) // 2]
    assert Gate.from_yaml(half).policy is not None
    assert "rules" not in half


def test_in_place_edits_under_load_give_no_wrong_verdict(tmp_path: Path) -> None:
    _half_allows_everything()
    policy = tmp_path / "policy.yaml"
    policy.write_text(BLOCK_ALL)
    server = Server(tmp_path, "--policy", "policy.yaml")
    verdicts: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    digests: set[str] = set()
    stop = threading.Event()
    body = json.dumps({"call": DELETE})

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        headers = {"Content-Type": "application/json"}
        while not stop.is_set():
            connection.request("POST", "/v1/evaluate", body, headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            statuses[response.status] += 1
            verdicts[answer.get("verdict", "none")] += 1
            digests.add(answer.get("policy_digest", ""))
        connection.close()

    clients = [threading.Thread(target=client) for _ in range(3)]
    for thread in clients:
        thread.start()
    try:
        # The editor is its own process, so that its pauses are its own, not this one's GIL.
        editor = subprocess.run(
            [sys.executable, "-c", EDITOR, str(policy), BLOCK_ALL, BLOCK_DELETES, "4"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    finally:
        stop.set()
        for thread in clients:
            thread.join(15)
        server.stop(signal.SIGKILL)
    edits = int(editor.stdout)
    assert edits > 20
    assert sum(verdicts.values()) > 50, verdicts
    assert verdicts["allow"] == 0, verdicts
    assert set(statuses) == {200}, statuses
    # Both policies decided in turn: edits were taken up, not just ignored.
    assert len(digests) == 2, digests


def test_a_fifo_policy_is_refused_at_start_and_never_waited_on(
    tmp_path: Path, gait: RunGait
) -> None:
    os.mkfifo(tmp_path / "fifo.yaml")
    run = gait("mcp", "serve", "--policy", "fifo.yaml", "--json", cwd=tmp_path)
    assert run.code == 6 and "not a regular file" in run.json["error"], run.stdout
    (tmp_path / "policy.yaml").write_text(BLOCK_DELETES)
    server = Server(tmp_path, "--policy", "policy.yaml")
    try:
        # Swapped for a FIFO while serving: the loop never blocks on it, the last good
        # policy keeps deciding, and /healthz says why.
        os.replace(tmp_path / "fifo.yaml", tmp_path / "policy.yaml")
        decided = server.evaluate({"call": DELETE}, timeout=5)
        assert (decided.status, decided.json["verdict"]) == (200, "block")
        health = server.request("GET", "/healthz", timeout=5)
        assert health.status == 200 and health.json["policy"]["status"] == "stale"
        assert "not a regular file" in health.json["policy"]["error"]
    finally:
        server.stop(signal.SIGKILL)


def test_healthz_is_503_while_traces_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(BLOCK_ALL)
    server = Server(tmp_path, "--policy", "policy.yaml", "--trace-dir", "traces")
    try:
        assert server.request("GET", "/healthz").status == 200
        shutil.rmtree(tmp_path / "traces")
        health = server.request("GET", "/healthz")
        assert health.status == 503 and health.json["ok"] is False
        assert "traces cannot be written to traces" in health.json["traces"]["error"]
        (tmp_path / "traces").write_text("a file where the folder was")
        assert server.request("GET", "/healthz").status == 503
        (tmp_path / "traces").unlink()
        (tmp_path / "traces").mkdir()
        health = server.request("GET", "/healthz")
        assert (health.status, health.json) == (200, {"ok": True, "service": "gait.mcp.serve"})
    finally:
        server.stop(signal.SIGKILL)


def test_without_a_good_policy_ever_the_service_fails_closed(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(HEAD + "default_verdict: [broken\n")

    async def run(func: object, *args: object) -> object:
        return func(*args)  # type: ignore[operator]

    async def scenario() -> None:
        holder = PolicyHolder(policy, None, run)
        view = await holder.current()
        assert (view.gate, view.status) == (None, "unavailable")
        assert "policy.yaml is invalid" in view.error
        policy.write_text(BLOCK_ALL)
        view = await holder.current()
        assert view.gate is not None and view.status == "current"
        policy.write_text(HEAD + "default_verdict: [broken\n")
        view = await holder.current()
        assert view.gate is not None and view.status == "stale"

    asyncio.run(scenario())
