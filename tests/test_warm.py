"""Warm start (gait_cli.warm): the installed `gait`, with warm start on, in a runtime folder of
the test's. The first eligible call runs cold and starts a warm process; later calls hand their
command, folder, environment and streams to a fork of it and answer exactly as a cold call."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import plugin_fixtures as fx
from tests.conftest import GAIT, SHARED
from tests.warm_support import (
    alive,
    run_measured,
    servers,
    stop_servers,
    wait_for_server,
    wait_until,
    warm_env,
)

POLICY = """\
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
rules:
  - name: allow-read
    priority: 10
    effect: allow
    match: {tool_names: [tool.read]}
"""


def intent(tool: str) -> str:
    return json.dumps(
        {
            "schema_id": "gait.gate.intent_request",
            "schema_version": "1.0.0",
            "created_at": "2026-02-06T00:00:00Z",
            "producer_version": "test",
            "tool_name": tool,
            "args": {"path": "/tmp/x"},
            "targets": [{"kind": "path", "value": "/tmp/x"}],
            "context": {"identity": "alice", "workspace": "/repo", "risk_class": "low"},
        }
    )


EVAL = ("gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json", "--json")


@pytest.fixture
def runtime() -> Iterator[Path]:
    # Short: a socket's path has at most 103 bytes, and pytest's folders are long.
    folder = Path(tempfile.mkdtemp(prefix="gait-warm-", dir="/tmp"))
    yield folder
    stop_servers(folder)
    shutil.rmtree(folder)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "policy.yaml").write_text(POLICY)
    (folder / "intent.json").write_text(intent("tool.read"))
    return folder


def started(runtime: Path, work: Path, **env: str) -> int:
    """Make the first (cold) call and wait for the warm process it starts."""
    first = run_measured(EVAL, cwd=work, env=warm_env(runtime, **env))
    assert first.code == 0 and not first.handed_over, first
    return wait_for_server(runtime)


def test_later_calls_are_handed_over_and_answer_as_a_cold_call(runtime: Path, work: Path) -> None:
    started(runtime, work, GAIT_HOME=str(work / "home"))
    env = warm_env(runtime, GAIT_HOME=str(work / "home"))
    warm = run_measured(EVAL, cwd=work, env=env)
    cold = run_measured(EVAL, cwd=work, env={**env, "GAIT_WARM": "0"})
    assert warm.handed_over and not cold.handed_over
    assert (warm.code, warm.stdout, warm.stderr) == (cold.code, cold.stdout, cold.stderr)
    trace = json.loads(warm.stdout)["trace_path"]
    verified = run_measured(("trace", "verify", trace, "--json"), cwd=work, env=env)
    assert verified.code == 0, verified


def test_exit_codes_and_errors_pass_through(runtime: Path, work: Path) -> None:
    started(runtime, work)
    env = warm_env(runtime)
    (work / "delete.json").write_text(intent("tool.delete"))
    blocked = run_measured(
        ("gate", "eval", "--policy", "policy.yaml", "--intent", "delete.json", "--json"),
        cwd=work,
        env=env,
    )
    assert blocked.handed_over and blocked.code == 3
    assert json.loads(blocked.stdout)["verdict"] == "block"
    for argv in (
        ("gate", "eval", "--policy", "missing.yaml", "--intent", "intent.json", "--json"),
        ("gate", "eval", "--policy", "policy.yaml", "--no-such-flag"),
    ):
        warm = run_measured(argv, cwd=work, env=env)
        cold = run_measured(argv, cwd=work, env={**env, "GAIT_WARM": "0"})
        assert warm.handed_over and warm.code == 6
        assert (warm.code, warm.stdout, warm.stderr) == (cold.code, cold.stdout, cold.stderr)


def test_mcp_proxy_and_bridge_are_handed_over_with_the_same_answer(
    runtime: Path, work: Path
) -> None:
    started(runtime, work)
    env = warm_env(runtime, GAIT_HOME=str(work / "home"))
    call = SHARED / "reference_fixtures/examples/mcp/openai_function_call.json"
    for command in ("proxy", "bridge"):
        argv = ("mcp", command, "--policy", "policy.yaml", "--call", str(call), "--adapter")
        argv += ("openai", "--json")
        warm = run_measured(argv, cwd=work, env=env)
        cold = run_measured(argv, cwd=work, env={**env, "GAIT_WARM": "0"})
        assert warm.handed_over and not cold.handed_over
        assert warm.code == cold.code == 3  # tool.search is not allowed by this policy
        answers = [json.loads(run.stdout) for run in (warm, cold)]
        for answer in answers:  # a time, and the trace named after the time it was made
            for timed in ("decision_latency_ms", "trace_id", "trace_path"):
                answer.pop(timed)
        assert answers[0] == answers[1] and warm.stderr == cold.stderr == ""


def test_each_call_brings_its_own_folder_and_environment(runtime: Path, work: Path) -> None:
    started(runtime, work)
    other = work.parent / "other"
    other.mkdir()
    (other / "policy.yaml").write_text(POLICY.replace("allow-read", "allow-reads"))
    (other / "intent.json").write_text(intent("tool.read"))
    answers = {}
    for folder in (work, other):
        home = folder / "home"
        run = run_measured(EVAL, cwd=folder, env=warm_env(runtime, GAIT_HOME=str(home)))
        assert run.handed_over and run.code == 0, run
        answers[folder] = json.loads(run.stdout)
        # the dev signing key is made in the caller's GAIT_HOME, the trace in its folder
        assert any(home.iterdir())
        assert (folder / answers[folder]["trace_path"]).is_file()
    assert answers[work]["policy_digest"] != answers[other]["policy_digest"]


def test_off_on_a_terminal_or_with_gait_warm_0(runtime: Path, work: Path) -> None:
    off = run_measured(EVAL, cwd=work, env=warm_env(runtime, GAIT_WARM="0"))
    assert off.code == 0 and not off.handed_over
    assert servers(runtime) == {} and not (runtime / "gait").exists()
    started(runtime, work)
    primary, secondary = pty.openpty()
    try:
        on_terminal = run_measured(EVAL, cwd=work, env=warm_env(runtime), stdin_fd=secondary)
    finally:
        os.close(primary)
        os.close(secondary)
    assert on_terminal.code == 0 and not on_terminal.handed_over


def test_a_runtime_folder_others_can_enter_is_not_used(runtime: Path, work: Path) -> None:
    (runtime / "gait").mkdir(mode=0o755)
    (runtime / "gait").chmod(0o755)
    for _ in range(2):
        run = run_measured(EVAL, cwd=work, env=warm_env(runtime))
        assert run.code == 0 and not run.handed_over
    assert list((runtime / "gait").iterdir()) == []


def test_an_installation_change_retires_the_warm_process(
    runtime: Path, work: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    env = warm_env(runtime, PYTHONPATH=str(site))
    first = run_measured(EVAL, cwd=work, env=env)
    assert not first.handed_over
    old = wait_for_server(runtime)
    assert run_measured(EVAL, cwd=work, env=env).handed_over
    time.sleep(0.01)  # a modification time the folder's last one cannot equal
    (site / "new_module.py").write_text("")  # as installing a distribution there would
    changed = run_measured(EVAL, cwd=work, env=env)
    assert changed.code == 0 and not changed.handed_over
    wait_until(lambda: not alive(old))
    new = wait_for_server(runtime)
    assert new != old
    assert run_measured(EVAL, cwd=work, env=env).handed_over


def test_an_idle_warm_process_exits_and_cleans_up(runtime: Path, work: Path) -> None:
    pid = started(runtime, work, GAIT_WARM_IDLE_SECONDS="0.5")
    wait_until(lambda: not alive(pid))
    assert list((runtime / "gait").iterdir()) == []


PROBE = """
    import os, signal, sys, time

    def main(args):
        from gait_cli.warm import hand_over

        handed = hand_over()
        if handed is not None:
            return handed
        with open("calls.txt", "a") as calls:
            calls.write(f"{os.getppid()} {os.getpid()}\\n")
        if args == ["crash"]:
            os.kill(os.getpid(), signal.SIGKILL)
        if args == ["wait"]:
            open("waiting", "w").close()
            time.sleep(60)
        if args == ["stdin"]:
            sys.stdout.write(sys.stdin.read().upper())
        if args == ["thread"]:
            import threading
            threading.Thread(target=lambda: (time.sleep(0.2), print("thread done"))).start()
        return 4
"""


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    """A plugin whose fast command `gait probe run` asks for a warm process and records its
    parent process."""
    site = tmp_path / "probe-site"
    fast = "probe.run = gait_plugin_probe_fast:main"
    fx.make_plugin(site, "gait-plugin-probe", "gait_plugin_probe", fx.FAST_COMMAND, fast=fast)
    (site / "gait_plugin_probe_fast.py").write_text(textwrap.dedent(PROBE))
    return site


def started_probe(runtime: Path, work: Path, site: Path) -> tuple[dict[str, str], int]:
    """The probe's environment, once its first (cold) call has started a warm process; and
    that process's id."""
    env = warm_env(runtime, GAIT_PLUGINS="probe", PYTHONPATH=str(site))
    first = run_measured(("probe", "run"), cwd=work, env=env)
    assert first.code == 4
    return env, wait_for_server(runtime)


def test_plugin_fast_commands_that_ask_are_handed_over(
    runtime: Path, work: Path, probe: Path
) -> None:
    env, pid = started_probe(runtime, work, probe)
    again = run_measured(("probe", "run", "thread"), cwd=work, env=env)
    # non-daemon threads finish before the exit status is reported, as at interpreter exit
    assert (again.code, again.stdout) == (4, "thread done\n")
    piped = run_measured(("probe", "run", "stdin"), cwd=work, env=env, stdin=b"tool call")
    assert (piped.code, piped.stdout) == (4, "TOOL CALL")
    parents = [line.split()[0] for line in (work / "calls.txt").read_text().splitlines()]
    assert parents[1:] == [str(pid), str(pid)] and parents[0] != str(pid)


def test_a_child_that_dies_is_reported_and_never_run_twice(
    runtime: Path, work: Path, probe: Path
) -> None:
    env, _ = started_probe(runtime, work, probe)
    crashed = run_measured(("probe", "run", "crash"), cwd=work, env=env)
    assert crashed.code == 1
    assert "ended without an exit status" in crashed.stderr
    assert len((work / "calls.txt").read_text().splitlines()) == 2


def test_signals_reach_the_child_and_end_the_caller_as_they_would_end_it(
    runtime: Path, work: Path, probe: Path
) -> None:
    env, _ = started_probe(runtime, work, probe)
    caller = subprocess.Popen(
        [str(GAIT), "probe", "run", "wait"],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until((work / "waiting").exists)
    caller.send_signal(signal.SIGTERM)
    assert caller.wait(timeout=30) == -signal.SIGTERM
    _parent, child = (work / "calls.txt").read_text().splitlines()[-1].split()
    wait_until(lambda: not alive(int(child)))


def test_the_first_callers_folder_is_never_on_the_servers_path(
    runtime: Path, work: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "imported"
    for module in ("socket", "struct", "runpy", "gait_cli"):
        (work / f"{module}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    started(runtime, work)
    (work / "delete.json").write_text(intent("tool.delete"))
    argv = ("gate", "eval", "--policy", "policy.yaml", "--intent", "delete.json", "--json")
    blocked = run_measured(argv, cwd=work, env=warm_env(runtime))
    assert blocked.handed_over and blocked.code == 3
    assert not marker.exists()


def test_descriptors_the_first_caller_inherited_are_not_kept(runtime: Path, work: Path) -> None:
    read_end, write_end = os.pipe()
    caller = subprocess.Popen(
        [str(GAIT), *EVAL],
        cwd=work,
        env=warm_env(runtime),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    assert caller.wait(timeout=60) == 0
    wait_for_server(runtime)
    # the pipe's writers are gone (end of file), though the warm process lives on
    ready, _, _ = select.select([read_end], [], [], 30)
    assert ready and os.read(read_end, 1) == b""
    os.close(read_end)


def test_callers_it_cannot_mirror_run_cold(runtime: Path, work: Path) -> None:
    started(runtime, work)
    env = warm_env(runtime)
    stdin_closed = run_measured(EVAL, cwd=work, env=env, close_fd=0)
    assert stdin_closed.code == 0 and not stdin_closed.handed_over
    own_descriptor = run_measured(
        ("gate", "eval", "--policy", "/dev/stdin", "--intent", "intent.json", "--json"),
        cwd=work,
        env=env,
        stdin=POLICY.encode(),
    )
    assert own_descriptor.code == 0 and not own_descriptor.handed_over
    setpriv = shutil.which("setpriv")  # util-linux
    assert setpriv is not None
    confined = run_measured(EVAL, cwd=work, env=env, prefix=(setpriv, "--no-new-privs"))
    assert confined.code == 0 and not confined.handed_over
    # a confined caller gets a warm process of its own, confined alike
    wait_until(lambda: len(servers(runtime)) == 2)


def test_the_server_does_not_inherit_ignored_signals(runtime: Path, work: Path) -> None:
    script = 'trap "" INT; exec "$0" "$@"'
    subprocess.run(
        ["sh", "-c", script, str(GAIT), *EVAL],
        cwd=work,
        env=warm_env(runtime, GAIT_WARM_IDLE_SECONDS="not a number"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=True,
    )
    pid = wait_for_server(runtime)
    ignored = next(
        int(line.split()[1], 16)
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("SigIgn:")
    )
    assert not ignored & (1 << (signal.SIGINT - 1))


def test_doctor_says_whether_a_warm_process_serves_this_environment(
    runtime: Path, work: Path
) -> None:
    def warm_check(**env: str) -> str:
        done = run_measured(("doctor", "--json"), cwd=work, env=warm_env(runtime, **env))
        [check] = [c for c in json.loads(done.stdout)["checks"] if c["name"] == "warm_start"]
        assert check["status"] == "ok", check
        return str(check["detail"])

    assert warm_check(GAIT_WARM="0").startswith("off (GAIT_WARM=0)")
    assert warm_check().startswith("on; the next hook call")
    pid = started(runtime, work)
    assert warm_check() == f"a warm process (pid {pid}) serves this environment"
