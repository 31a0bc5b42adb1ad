"""`gait gastown install` / `uninstall` on a town whose hook overrides already hold entries:
merged without disturbing them, idempotent, and undone byte for byte."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from gait_plugin_gastown.install import is_gate_hook

from gait.regress.gojson import marshal_indent as go_marshal_indent
from gait.testing import Run, RunGait

from .conftest import claude_event, gt_settings

# As gt writes them (Go's json.MarshalIndent, `&&` escaped, a final newline).
POLECATS = """{
  "PreToolUse": [
    {
      "matcher": "Bash(gh pr create*)",
      "hooks": [
        {
          "type": "command",
          "command": "export PATH=\\"$HOME/go/bin:$PATH\\" \\u0026\\u0026 gt tap guard pr-workflow"
        }
      ]
    },
    {
      "matcher": "Bash",
      "hooks": [
        {
          "type": "command",
          "command": "gt tap guard dangerous-command"
        }
      ]
    }
  ],
  "Stop": [
    {
      "matcher": "",
      "hooks": [
        {
          "type": "command",
          "command": "gt tap polecat-stop-check"
        }
      ]
    }
  ]
}
"""
RIG_CREW = """{
  "SessionStart": [
    {
      "matcher": "",
      "hooks": [
        {
          "type": "command",
          "command": "gt prime --hook"
        }
      ]
    }
  ]
}
"""


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def town(tmp_path: Path) -> Path:
    root = tmp_path / "town"
    overrides = root / ".gt" / "hooks-overrides"
    overrides.mkdir(parents=True)
    (overrides / "polecats.json").write_text(POLECATS)
    (overrides / "myrig__crew.json").write_text(RIG_CREW)
    (root / ".gt" / "hooks-base.json").write_text("{}\n")
    return root


def gastown(gait: RunGait, *args: str, tmp_path: Path, path: str = "") -> Run:
    env = {"GAIT_HOME": str(tmp_path / "gait-home"), "GT_HOME": ""}
    if path:
        env["PATH"] = path
    return gait("gastown", *args, plugins="gastown", env=env, cwd=tmp_path)


def empty_path(tmp_path: Path) -> str:
    """A PATH without gt (the test machine has none anyway)."""
    folder = tmp_path / "no-gt"
    folder.mkdir(exist_ok=True)
    return str(folder)


def test_install_reinstall_uninstall_round_trip(
    gait: RunGait, town: Path, tmp_path: Path, policy: Path
) -> None:
    assert go_marshal_indent(json.loads(POLECATS)) == POLECATS.encode()  # gt's format, exactly
    before = snapshot(town)
    args = ("--town", str(town), "--policy", str(policy), "--matcher", "Bash", "--json")
    first = gastown(gait, "install", *args, tmp_path=tmp_path, path=empty_path(tmp_path))
    assert first.code == 0, first.stdout + first.stderr
    report = first.json
    assert report["ok"] is True and report["changed"] is True
    assert report["config_dir"] == str(town / ".gt")
    assert [(f["target"], f["action"]) for f in report["files"]] == [
        ("polecats", "updated"),
        ("crew", "added"),
    ]
    assert report["synced"] is False
    assert report["sync_command"] == f"GT_HOME={town} gt hooks sync"
    installed = snapshot(town)
    assert (
        installed[".gt/hooks-overrides/myrig__crew.json"]
        == before[".gt/hooks-overrides/myrig__crew.json"]
    )

    # polecats: the gate joins the existing Bash entry; nothing else moves
    polecats = json.loads(installed[".gt/hooks-overrides/polecats.json"])
    original = json.loads(POLECATS)
    assert polecats["Stop"] == original["Stop"]
    assert polecats["PreToolUse"][0] == original["PreToolUse"][0]
    bash = polecats["PreToolUse"][1]
    assert bash["matcher"] == "Bash"
    assert bash["hooks"][0] == original["PreToolUse"][1]["hooks"][0]
    gate = bash["hooks"][1]
    assert list(gate) == ["type", "command"] and gate["type"] == "command"
    assert gate["command"] == report["command"]
    assert gate["command"].endswith(" || exit 2")
    assert f"--policy {policy} " in gate["command"]
    assert f"--out-dir {town}/gait-out/integrations/gastown" in gate["command"]
    assert os.path.isabs(gate["command"].split()[0])
    assert os.path.basename(gate["command"].split()[0]) == "gait-gastown-hook"
    # crew: a new file with the one entry, in gt's format and mode
    crew_path = town / ".gt" / "hooks-overrides" / "crew.json"
    crew = json.loads(crew_path.read_text())
    assert crew == {"PreToolUse": [{"matcher": "Bash", "hooks": [gate]}]}
    assert crew_path.read_bytes() == go_marshal_indent(crew)
    assert stat.S_IMODE(crew_path.stat().st_mode) == 0o644
    # what gt would generate for a rig's polecats still has gt's own guard beside the gate
    settings = gt_settings(town / ".gt", "myrig/polecats")
    assert settings["hooks"]["PreToolUse"][1]["hooks"] == bash["hooks"]

    again = gastown(gait, "install", *args, tmp_path=tmp_path, path=empty_path(tmp_path))
    assert again.code == 0 and again.json["changed"] is False
    assert {f["action"] for f in again.json["files"]} == {"unchanged"}
    assert snapshot(town) == installed

    removed = gastown(gait, "uninstall", "--town", str(town), "--json", tmp_path=tmp_path)
    assert removed.code == 0, removed.stdout + removed.stderr
    assert {f["target"]: f["action"] for f in removed.json["files"]} == {
        "crew": "removed",
        "myrig/crew": "unchanged",
        "polecats": "updated",
    }
    assert snapshot(town) == before
    assert (
        gastown(gait, "uninstall", "--town", str(town), "--json", tmp_path=tmp_path).json["changed"]
        is False
    )


def test_a_reinstall_with_other_flags_updates_the_gate_in_place(
    gait: RunGait, town: Path, tmp_path: Path, policy: Path
) -> None:
    base = ("--town", str(town), "--target", "polecats", "--json")
    assert gastown(gait, "install", *base, "--policy", str(policy), tmp_path=tmp_path).code == 0
    moved = gastown(
        gait,
        "install",
        *base,
        "--serve",
        "http://127.0.0.1:8787",
        "--auth-token-env",
        "GAIT_TOKEN",
        "--timeout",
        "5",
        "--approval",
        "deny",
        tmp_path=tmp_path,
    )
    assert moved.code == 0, moved.stdout
    config = json.loads((town / ".gt" / "hooks-overrides" / "polecats.json").read_text())
    gates = [
        hook["command"]
        for entry in config["PreToolUse"]
        for hook in entry["hooks"]
        if is_gate_hook(hook)
    ]
    assert gates == [moved.json["command"]]
    assert config["PreToolUse"][-1]["matcher"] == ""  # the default: every tool
    assert "--serve http://127.0.0.1:8787 --auth-token-env GAIT_TOKEN" in gates[0]
    assert "--timeout 5 --approval deny" in gates[0]
    assert gastown(gait, "uninstall", "--town", str(town), tmp_path=tmp_path).code == 0
    assert (town / ".gt" / "hooks-overrides" / "polecats.json").read_text() == POLECATS


def test_an_earlier_installs_gait_gastown_hook_is_replaced_and_removed(
    gait: RunGait, town: Path, tmp_path: Path, policy: Path
) -> None:
    """Installs before the `gait-gastown-hook` script ran `<...>/gait gastown hook ...`."""
    path = town / ".gt" / "hooks-overrides" / "crew.json"
    legacy = f"/opt/venv/bin/gait gastown hook --policy {policy} || exit 2"
    path.write_bytes(
        go_marshal_indent(
            {"PreToolUse": [{"matcher": "", "hooks": [{"type": "command", "command": legacy}]}]}
        )
    )
    base = ("--town", str(town), "--target", "crew", "--json")
    run = gastown(gait, "install", *base, "--policy", str(policy), tmp_path=tmp_path)
    assert run.code == 0, run.stdout
    [entry] = json.loads(path.read_text())["PreToolUse"]
    assert entry["hooks"] == [{"type": "command", "command": run.json["command"]}]
    path.write_bytes(
        go_marshal_indent(
            {"PreToolUse": [{"matcher": "", "hooks": [{"type": "command", "command": legacy}]}]}
        )
    )
    removed = gastown(gait, "uninstall", *base, tmp_path=tmp_path)
    assert removed.code == 0 and removed.json["files"][0]["action"] == "removed"
    assert not path.exists()


@pytest.mark.parametrize(
    ("args", "written"),
    [
        (("--serve", "unix:/run/gait/serve.sock"), f"--service-uid {os.getuid()}"),
        (("--serve", "unix:/run/gait/serve.sock", "--service-uid", "0990"), "--service-uid 990"),
        (("--serve", "http://127.0.0.1:8787", "--plain-bearer"), "8787 --plain-bearer"),
    ],
)
def test_the_service_options_are_written_into_the_hook(
    gait: RunGait, town: Path, tmp_path: Path, args: tuple[str, ...], written: str
) -> None:
    run = gastown(gait, "install", "--town", str(town), *args, "--json", tmp_path=tmp_path)
    assert run.code == 0, run.stdout
    assert written in run.json["command"]


def test_gt_hooks_sync_runs_when_gt_is_on_path(
    gait: RunGait, town: Path, tmp_path: Path, policy: Path
) -> None:
    folder = tmp_path / "gt-bin"
    folder.mkdir()
    log = tmp_path / "gt-calls.jsonl"
    fake_gt = folder / "gt"
    fake_gt.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps({'argv': sys.argv[1:], 'gt_home': os.environ.get('GT_HOME'),"
        " 'cwd': os.getcwd()}) + '\\n')\n"
        "sys.exit(int(os.environ.get('FAKE_GT_EXIT', '0')))\n"
    )
    fake_gt.chmod(0o755)
    path = f"{folder}{os.pathsep}{os.environ['PATH']}"
    run = gastown(
        gait, "install", "--town", str(town), "--policy", str(policy), "--json",
        tmp_path=tmp_path, path=path,
    )  # fmt: skip
    assert run.code == 0 and run.json["synced"] is True
    [call] = [json.loads(line) for line in log.read_text().splitlines()]
    assert call == {"argv": ["hooks", "sync"], "gt_home": str(town), "cwd": str(town)}
    failing = gait(
        "gastown", "uninstall", "--town", str(town), "--json",
        plugins="gastown", env={"PATH": path, "FAKE_GT_EXIT": "3"}, cwd=tmp_path,
    )  # fmt: skip
    assert failing.code == 1
    assert "gt hooks sync exited 3" in failing.json["error"]


def test_warnings_name_overrides_that_would_replace_the_gate(
    gait: RunGait, town: Path, tmp_path: Path, policy: Path
) -> None:
    shadow = town / ".gt" / "hooks-overrides" / "otherrig__polecats.json"
    shadow.write_text(POLECATS)
    run = gastown(
        gait, "install", "--town", str(town), "--target", "polecats", "--matcher", "Bash",
        "--policy", str(policy), "--json", tmp_path=tmp_path,
    )  # fmt: skip
    assert run.code == 0
    [warning] = run.json["warnings"]
    assert "otherrig__polecats.json replaces matcher 'Bash'" in warning
    assert "--target otherrig__polecats" in warning


def test_warnings_name_a_base_entry_the_gate_replaces_for_each_target(
    gait: RunGait, town: Path, tmp_path: Path, policy: Path
) -> None:
    (town / ".gt" / "hooks-base.json").write_text(POLECATS)
    run = gastown(
        gait, "install", "--town", str(town), "--matcher", "Bash", "--policy", str(policy),
        "--json", tmp_path=tmp_path,
    )  # fmt: skip
    assert run.code == 0
    assert run.json["warnings"] == [
        "hooks-base.json has a PreToolUse entry for matcher 'Bash': for polecats the gate's "
        "entry replaces it (gt merges by matcher)",
        "hooks-base.json has a PreToolUse entry for matcher 'Bash': for crew the gate's "
        "entry replaces it (gt merges by matcher)",
    ]


def test_an_override_gt_could_not_read_is_refused_untouched(
    gait: RunGait, town: Path, tmp_path: Path, policy: Path
) -> None:
    # Python's json reads NaN; Go's (gt's) does not, and gt's format could not write it back.
    (town / ".gt" / "hooks-overrides" / "crew.json").write_text('{"Stop": NaN}\n')
    before = snapshot(town)
    run = gastown(
        gait, "install", "--town", str(town), "--policy", str(policy), "--json", tmp_path=tmp_path
    )
    assert run.code == 6 and "crew.json is not valid JSON" in run.json["error"]
    assert snapshot(town) == before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--target", "janitors", "--policy", "POLICY"), 6, "unsupported --target 'janitors'"),
        (("--policy", "missing.yaml"), 6, "missing.yaml"),
        ((), 6, "give either --policy PATH or --serve URL"),
        (("--serve", "http://example.com:80"), 6, "must be on loopback"),
        (("--serve", "http://127.0.0.1:8787", "--bridge", "beads"), 6, "go with --policy"),
        (("--serve", "http://127.0.0.1:8787"), 6, "use --serve unix:PATH or give --auth-token"),
        (("--serve", "unix:serve.sock"), 6, "expected unix:/ABSOLUTE/PATH"),
        (("--serve", "unix:/run/g.sock", "--service-uid", "x"), 6, "must be a user id"),
        (("--serve", "http://127.0.0.1:1", "--plain-bearer", "--service-uid", "0"), 6, "unix"),
        (("--policy", "POLICY", "--plain-bearer"), 6, "go with --serve"),
        (("--policy", "POLICY", "--timeout", "61"), 6, "at most 60"),
        (("--policy", "POLICY", "--bridge", "beads"), 7, "no sink plugin named 'beads'"),
    ],
)
def test_install_refuses_what_would_deny_every_call(
    gait: RunGait,
    town: Path,
    tmp_path: Path,
    policy: Path,
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    args = tuple(str(policy) if arg == "POLICY" else arg for arg in args)
    before = snapshot(town)
    run = gastown(gait, "install", "--town", str(town), *args, "--json", tmp_path=tmp_path)
    assert run.code == code, run.stdout
    assert run.json["ok"] is False and message in run.json["error"]
    assert snapshot(town) == before


def test_a_matcher_turned_off_in_gt_is_left_alone(
    gait: RunGait, town: Path, tmp_path: Path, policy: Path
) -> None:
    path = town / ".gt" / "hooks-overrides" / "crew.json"
    path.write_text(
        '{\n  "PreToolUse": [\n    {\n      "matcher": "",\n      "hooks": []\n    }\n  ]\n}\n'
    )
    run = gastown(
        gait, "install", "--town", str(town), "--target", "crew", "--policy", str(policy),
        "--json", tmp_path=tmp_path,
    )  # fmt: skip
    assert run.code == 6 and "empty hooks list" in run.json["error"]


def test_the_installed_command_is_the_hook_that_runs(
    gait: RunGait, town: Path, tmp_path: Path, policy: Path
) -> None:
    """The command from the override, run by a shell as Claude Code runs it."""
    import subprocess

    run = gastown(
        gait, "install", "--town", str(town), "--policy", str(policy), "--json", tmp_path=tmp_path
    )
    command = run.json["command"]
    event = json.dumps(claude_event("touch blocked.marker")).encode()
    env = {
        **os.environ,
        "GAIT_PLUGINS": "gastown",
        "GAIT_HOME": str(tmp_path / "gait-home"),
        "PATH": empty_path(tmp_path),  # absolute program path: no PATH needed
    }
    done = subprocess.run(
        ["/bin/sh", "-c", command], input=event, env=env, capture_output=True, check=False
    )
    assert done.returncode == 2, done.stderr
    assert b"gastown_test_blocked" in done.stderr
    assert list((town / "gait-out" / "integrations" / "gastown").glob("trace_*.json"))
