"""`gait openclaw install|uninstall` without OpenClaw on PATH: the tree and its modes, the same
bytes and output on every run, refusals that write nothing, and an uninstall that leaves nothing
of ours. (With the real OpenClaw: test_real_openclaw.py.)"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from gait_plugin_openclaw.package import PACKAGE_DIR

from gait.testing import Run, RunGait

from .conftest import install, write_policy

# An environment in which no `openclaw` can be found.
NO_OPENCLAW = {"PATH": os.path.dirname(os.__file__)}
# serve mode (the default) needs the token's variable: the plugin authenticates the service
SERVE = ("--token-env", "GAIT_SERVE_TOKEN")

TREE = {
    ".": 0o755,
    "gait-package.json": 0o644,
    "gait.config.json": 0o644,
    "gait-verdict.js": 0o644,
    "index.js": 0o644,
    "openclaw.plugin.json": 0o644,
    "package.json": 0o644,
    "skills": 0o755,
    "skills/gait-gate": 0o755,
    "skills/gait-gate/SKILL.md": 0o644,
    "skills/gait-gate/gait-check.mjs": 0o755,
}


FILES = [path for path, mode in TREE.items() if path != "." and "." in path]


def tree(root: Path) -> dict[str, int]:
    paths = [root, *root.rglob("*")]
    return {
        ("." if p == root else p.relative_to(root).as_posix()): stat.S_IMODE(p.lstat().st_mode)
        for p in paths
    }


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        p.relative_to(root).as_posix(): (stat.S_IMODE(p.stat().st_mode), p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def openclaw(gait: RunGait, *args: str, env: dict[str, str] | None = None) -> Run:
    return gait("openclaw", *args, plugins="openclaw", env={**NO_OPENCLAW, **(env or {})})


def test_install_writes_the_tree_with_its_modes(gait: RunGait, tmp_path: Path) -> None:
    target = tmp_path / "plugin"
    out = install(gait, target, *SERVE, env=NO_OPENCLAW)
    assert tree(target) == TREE
    assert out["target"] == str(target)
    assert out["version"] == "0.1.0"
    assert out["openclaw"] == {"cli": "", "registered": False, "ran": []}
    assert [f["path"] for f in out["files"]] == sorted(
        set(FILES) - {"gait.config.json", "gait-package.json"}
    )
    assert json.loads((target / "gait.config.json").read_text()) == {
        "mode": "serve",
        "serveUrl": "http://127.0.0.1:8787",
        "timeoutMs": 5000,
        "tokenEnv": "GAIT_SERVE_TOKEN",
    }


def test_reinstalling_is_byte_identical_with_the_same_output(gait: RunGait, tmp_path: Path) -> None:
    target = tmp_path / "plugin"
    args = (
        "install",
        "--target",
        str(target),
        "--mode",
        "proxy",
        "--policy",
        str(write_policy(tmp_path)),
    )
    first_json = openclaw(gait, *args, "--json")
    first = snapshot(target)
    inodes = {p: (target / p).stat().st_ino for p in first}
    first_text = openclaw(gait, *args)
    again_json = openclaw(gait, *args, "--json")
    again_text = openclaw(gait, *args)
    assert first_json.code == again_json.code == first_text.code == 0
    assert first_json.stdout == again_json.stdout
    assert first_text.stdout == again_text.stdout
    assert "not registered with OpenClaw (the openclaw CLI is not on PATH)" in first_text.stdout
    assert snapshot(target) == first
    # nothing was rewritten: an unchanged file is left alone
    assert {p: (target / p).stat().st_ino for p in first} == inodes
    config = json.loads((target / "gait.config.json").read_text())
    assert config["mode"] == "proxy"
    assert config["policy"] == str(tmp_path / "policy.yaml")


def test_install_repairs_a_changed_file_and_drops_a_file_no_longer_shipped(
    gait: RunGait, tmp_path: Path
) -> None:
    target = tmp_path / "plugin"
    install(gait, target, *SERVE, env=NO_OPENCLAW)
    original = snapshot(target)
    (target / "index.js").write_text("export default {};\n")
    (target / "index.js").chmod(0o666)
    manifest = json.loads((target / "gait-package.json").read_text())
    manifest["files"].append({"path": "skills/old/helper.js", "mode": "0644", "sha256": "0" * 64})
    (target / "gait-package.json").write_text(json.dumps(manifest))
    (target / "skills" / "old").mkdir()
    (target / "skills" / "old" / "helper.js").write_text("old")
    install(gait, target, *SERVE, env=NO_OPENCLAW)
    assert snapshot(target) == original
    assert tree(target) == TREE


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--policy", "missing.yaml"), "read policy"),
        (("--policy", "bad.yaml"), "policy"),
        (("--serve-url", "ftp://host"), "--serve-url must be an http(s) URL"),
        (("--serve-url", "http://me:pw@host"), "--serve-url must not carry credentials"),
        (("--token-env", "NOT-A-NAME"), "--token-env must name an environment variable"),
        ((), "serve mode needs --token-env"),
        (("--serve-url", "http://127.0.0.1:8787"), "serve mode needs --token-env"),
        (("--serve-url", "http://10.1.2.3:8787", *SERVE), "plain http only to loopback"),
        (("--serve-url", "http://gait.example:8787", *SERVE), "plain http only to loopback"),
        (("--serve-url", "http://127.0.0.1.nip.io:8787", *SERVE), "plain http only to loopback"),
        (("--timeout-ms", "5"), "5 is not in the range"),
    ],
)
def test_bad_options_write_nothing(
    gait: RunGait, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    (tmp_path / "bad.yaml").write_text("rules: [1\n")
    run = openclaw(gait, "install", "--target", str(tmp_path / "plugin"), *args, "--json")
    assert run.code == 6, run.stdout + run.stderr
    assert message in run.stdout + run.stderr
    assert not (tmp_path / "plugin").exists()


@pytest.mark.parametrize(
    ("args", "config"),
    [
        (
            ("--serve-url", "http://[::1]:8787", *SERVE),
            {"serveUrl": "http://[::1]:8787", "tokenEnv": "GAIT_SERVE_TOKEN"},
        ),
        (
            ("--serve-url", "http://localhost:8787", "--plain-bearer"),
            {"serveUrl": "http://localhost:8787", "plainBearer": True},
        ),
        (
            ("--serve-url", "https://gait.example:8443", *SERVE),
            {"serveUrl": "https://gait.example:8443", "tokenEnv": "GAIT_SERVE_TOKEN"},
        ),
    ],
)
def test_serve_urls_and_the_reference_exchange(
    gait: RunGait, tmp_path: Path, args: tuple[str, ...], config: dict[str, object]
) -> None:
    target = tmp_path / "plugin"
    install(gait, target, *args, env=NO_OPENCLAW)
    written = json.loads((target / "gait.config.json").read_text())
    assert written == {"mode": "serve", "timeoutMs": 5000, **config}


def test_a_target_holding_something_else_is_refused(gait: RunGait, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    run = openclaw(gait, "install", "--target", str(busy), *SERVE, "--json")
    assert run.code == 6
    assert "is not empty and holds no Gait OpenClaw plugin" in run.json["error"]
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]

    afile = tmp_path / "afile"
    afile.write_text("x")
    assert openclaw(gait, "install", "--target", str(afile), *SERVE).code == 6

    target = tmp_path / "plugin"
    install(gait, target, *SERVE, env=NO_OPENCLAW)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for child in (target / "skills").iterdir():
        child.rename(elsewhere / child.name)
    (target / "skills").rmdir()
    (target / "skills").symlink_to(elsewhere)
    run = openclaw(gait, "install", "--target", str(target), *SERVE, "--json")
    assert run.code == 6
    assert "refusing to write through the link" in run.json["error"]


def test_uninstall_leaves_nothing_of_ours(gait: RunGait, tmp_path: Path) -> None:
    target = tmp_path / "plugin"
    install(gait, target, *SERVE, env=NO_OPENCLAW)
    run = openclaw(gait, "uninstall", "--target", str(target), "--json")
    assert run.code == 0, run.stdout + run.stderr
    assert not target.exists()
    assert sorted(run.json["removed"]) == sorted(FILES)
    assert run.json["left_directory"] is False
    assert [p.name for p in tmp_path.iterdir()] == []

    again = openclaw(gait, "uninstall", "--target", str(target))
    assert again.code == 0
    assert "no Gait OpenClaw plugin was installed there" in again.stdout


def test_uninstall_keeps_what_is_not_ours(gait: RunGait, tmp_path: Path) -> None:
    target = tmp_path / "plugin"
    install(gait, target, *SERVE, env=NO_OPENCLAW)
    (target / "skills" / "gait-gate" / "my-notes.md").write_text("keep me")
    run = openclaw(gait, "uninstall", "--target", str(target), "--json")
    assert run.code == 0
    assert run.json["left_directory"] is True
    assert tree(target) == {
        ".": 0o755,
        "skills": 0o755,
        "skills/gait-gate": 0o755,
        "skills/gait-gate/my-notes.md": 0o644,
    }


def test_the_default_target_is_in_the_openclaw_state_dir(gait: RunGait, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    env = {"OPENCLAW_STATE_DIR": str(state)}
    # the skill link OpenClaw made into the package, and one of OpenClaw's own
    (state / "plugin-skills").mkdir()
    (state / "plugin-skills" / "gait-gate").symlink_to(
        state / "gait" / "openclaw-plugin" / "skills" / "gait-gate"
    )
    (state / "plugin-skills" / "canvas").symlink_to(tmp_path)

    run = openclaw(gait, "install", *SERVE, "--json", env=env)
    assert run.code == 0, run.stdout + run.stderr
    assert run.json["target"] == str(state / "gait" / "openclaw-plugin")
    assert tree(state / "gait" / "openclaw-plugin") == TREE

    run = openclaw(gait, "uninstall", "--json", env=env)
    assert run.code == 0, run.stdout + run.stderr
    assert run.json["removed_links"] == [str(state / "plugin-skills" / "gait-gate")]
    assert sorted(p.name for p in state.iterdir()) == ["plugin-skills"]
    assert [p.name for p in (state / "plugin-skills").iterdir()] == ["canvas"]


def test_help_ends_with_the_exit_codes(gait: RunGait) -> None:
    for command in ("install", "uninstall"):
        run = openclaw(gait, command, "--help")
        assert run.code == 0
        assert run.stdout.rstrip().splitlines()[-1].strip().startswith("6")
        assert "Exit codes:" in run.stdout


def test_a_changed_package_is_not_installed(gait: RunGait, tmp_path: Path) -> None:
    copy = tmp_path / "site" / "gait_plugin_openclaw"
    shutil.copytree(PACKAGE_DIR.parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "openclaw_plugin" / "gait-verdict.js").open("a") as handle:
        handle.write("export const backdoor = true;\n")
    target = tmp_path / "plugin"
    run = gait(
        "openclaw", "install", "--target", str(target), *SERVE, "--json",
        plugins="openclaw", env=NO_OPENCLAW, pythonpath=tmp_path / "site",
    )  # fmt: skip
    assert run.code == 2, run.stdout + run.stderr
    assert "does not match its gait-package.json" in run.json["error"]
    assert not target.exists()


def test_a_damaged_installed_manifest_is_refused(gait: RunGait, tmp_path: Path) -> None:
    target = tmp_path / "plugin"
    install(gait, target, *SERVE, env=NO_OPENCLAW)
    (target / "gait-package.json").write_text('{"plugin_id": "gait", "files": ["../../etc"]}')
    for command in (("install", *SERVE), ("uninstall",)):
        run = openclaw(gait, *command, "--target", str(target), "--json")
        assert run.code == 6, run.stdout + run.stderr
        assert "is not the manifest of the Gait OpenClaw plugin" in run.json["error"]
    assert (target / "index.js").exists()
