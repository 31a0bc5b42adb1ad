"""Installers keep what is not theirs (issue 15 §6): `gait gastown install` and `uninstall` write
through a symbolic link the user made (or refuse one they cannot safely follow) instead of
replacing it with a plain file, leave a file holding no gate byte for byte as they found it, and
refuse rig and target names that could name another file or read as an option."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import Run, RunGait

POLICY = """schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: allow
rules: []
"""
# As gt writes an override (Go's indented JSON, a final newline).
CREW = """{
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


@pytest.fixture
def town(tmp_path: Path) -> Path:
    root = tmp_path / "town"
    (root / ".gt" / "hooks-overrides").mkdir(parents=True)
    (tmp_path / "policy.yaml").write_text(POLICY)
    return root


def overrides(town: Path) -> Path:
    return town / ".gt" / "hooks-overrides"


def gastown(gait: RunGait, tmp_path: Path, verb: str, *args: str) -> Run:
    env = {"GAIT_HOME": str(tmp_path / "gait-home"), "GT_HOME": "", "PATH": "/nonexistent"}
    town = str(tmp_path / "town")
    return gait("gastown", verb, "--town", town, *args, "--json", plugins="gastown", env=env)


def install(gait: RunGait, tmp_path: Path, *targets: str) -> Run:
    flags = [arg for target in targets for arg in ("--target", target)]
    return gastown(gait, tmp_path, "install", *flags, "--policy", str(tmp_path / "policy.yaml"))


def snapshot(folder: Path) -> dict[str, tuple[str, bytes]]:
    """Every entry under `folder`: a link's target text, a file's bytes."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(folder))] = ("link", os.readlink(path).encode())
        elif path.is_file():
            found[str(path.relative_to(folder))] = ("file", path.read_bytes())
    return found


def gate_commands(path: Path) -> list[str]:
    config = json.loads(path.read_text())
    return [hook["command"] for entry in config.get("PreToolUse", []) for hook in entry["hooks"]]


# ---- symbolic links ------------------------------------------------------------------------


def test_a_linked_override_is_written_through_and_restored(
    gait: RunGait, town: Path, tmp_path: Path
) -> None:
    """The dotfiles case: the override is a link into the user's own repository."""
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "crew.json"
    target.write_text(CREW)
    target.chmod(0o640)
    link = overrides(town) / "crew.json"
    link.symlink_to(target)

    run = install(gait, tmp_path, "crew")
    assert run.code == 0, run.stdout
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert [c.endswith(" || exit 2") for c in gate_commands(target)] == [True]
    assert json.loads(target.read_text())["Stop"] == json.loads(CREW)["Stop"]
    assert target.stat().st_mode & 0o777 == 0o640  # the target's mode is kept
    assert [p.name for p in dotfiles.iterdir()] == ["crew.json"]  # no temporary left behind

    removed = gastown(gait, tmp_path, "uninstall", "--target", "crew")
    assert removed.code == 0, removed.stdout
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == CREW


def test_a_link_whose_target_only_held_the_gate_keeps_its_target(
    gait: RunGait, town: Path, tmp_path: Path
) -> None:
    target = tmp_path / "crew.json"
    target.write_text("{}\n")
    link = overrides(town) / "crew.json"
    link.symlink_to(target)
    assert install(gait, tmp_path, "crew").code == 0
    assert len(gate_commands(target)) == 1
    removed = gastown(gait, tmp_path, "uninstall")
    assert removed.code == 0, removed.stdout
    # the link still names a file, which holds no hook: gt reads it as no override
    assert link.is_symlink() and target.read_text() == "{}\n"


def test_a_dangling_link_is_refused_and_left_alone(
    gait: RunGait, town: Path, tmp_path: Path
) -> None:
    link = overrides(town) / "crew.json"
    link.symlink_to(tmp_path / "elsewhere" / "crew.json")
    before = snapshot(tmp_path)
    run = install(gait, tmp_path, "crew")
    assert run.code == 6, run.stdout
    assert str(link) in run.json["error"] and "symbolic link" in run.json["error"]
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
@pytest.mark.parametrize("foreign", ["link", "target"])
def test_a_link_or_target_of_another_user_is_refused(
    gait: RunGait, town: Path, tmp_path: Path, foreign: str
) -> None:
    target = tmp_path / "crew.json"
    target.write_text(CREW)
    link = overrides(town) / "crew.json"
    link.symlink_to(target)
    os.lchown(link if foreign == "link" else target, 65534, 65534)
    before = snapshot(tmp_path)
    for run in (install(gait, tmp_path, "crew"), gastown(gait, tmp_path, "uninstall")):
        assert run.code == 6, run.stdout
        assert str(link) in run.json["error"] and "not yours" in run.json["error"]
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a link to another user needs root")
def test_a_middle_link_of_another_user_is_refused(
    gait: RunGait, town: Path, tmp_path: Path
) -> None:
    """The review's L1: polecats.json -> shared/mid (another user's link in a sticky folder)
    -> crew.json. Both ends are ours; the middle link lets its owner pick which of our files
    install and uninstall rewrite."""
    crew = overrides(town) / "crew.json"
    crew.write_text(CREW)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    mid = shared / "mid"
    mid.symlink_to(crew)
    os.lchown(mid, 65534, 65534)
    link = overrides(town) / "polecats.json"
    link.symlink_to(mid)
    assert install(gait, tmp_path, "crew").code == 0  # crew.json itself is fine
    before = snapshot(tmp_path)
    for run in (
        install(gait, tmp_path, "polecats"),
        gastown(gait, tmp_path, "uninstall", "--target", "polecats"),
        gastown(gait, tmp_path, "uninstall"),
    ):
        assert run.code == 6, run.stdout
        assert str(link) in run.json["error"] and str(mid) in run.json["error"]
        assert "not yours" in run.json["error"]
    assert snapshot(tmp_path) == before
    assert len(gate_commands(crew)) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a link to another user needs root")
def test_a_folder_link_of_another_user_in_the_chain_is_refused(
    gait: RunGait, town: Path, tmp_path: Path
) -> None:
    """polecats.json -> shared/dir/crew.json, where shared/dir is another user's link to our
    overrides folder: every link and file is ours, the folder link is not."""
    crew = overrides(town) / "crew.json"
    crew.write_text(CREW)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    folder = shared / "dir"
    folder.symlink_to(overrides(town))
    os.lchown(folder, 65534, 65534)
    link = overrides(town) / "polecats.json"
    link.symlink_to(folder / "crew.json")
    before = snapshot(tmp_path)
    run = install(gait, tmp_path, "polecats")
    assert run.code == 6, run.stdout
    assert str(link) in run.json["error"] and str(folder) in run.json["error"]
    assert "not yours" in run.json["error"]
    assert snapshot(tmp_path) == before


def test_a_chain_of_own_links_is_written_through(gait: RunGait, town: Path, tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "crew.json"
    target.parent.mkdir()
    target.write_text(CREW)
    (tmp_path / "a").symlink_to(target)
    (tmp_path / "b").symlink_to("a")  # relative: resolved from the link's folder
    link = overrides(town) / "crew.json"
    link.symlink_to(tmp_path / "b")
    assert install(gait, tmp_path, "crew").code == 0
    assert len(gate_commands(target)) == 1 and link.is_symlink()
    assert gastown(gait, tmp_path, "uninstall").code == 0
    assert target.read_text() == CREW


def test_a_link_loop_is_refused(gait: RunGait, town: Path, tmp_path: Path) -> None:
    link = overrides(town) / "crew.json"
    (tmp_path / "loop").symlink_to(link)
    link.symlink_to(tmp_path / "loop")
    before = snapshot(tmp_path)
    run = install(gait, tmp_path, "crew")
    assert run.code == 6, run.stdout
    assert str(link) in run.json["error"] and "symbolic link" in run.json["error"]
    assert snapshot(tmp_path) == before


# ---- files the gate never touched ----------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"{}",
        b"{}\n",
        b"{ }\n",
        b'{"PreToolUse": []}',
        b'{\n  "PreToolUse": []\n}\n',
        b'{"PreToolUse": null}\n',
        b'{"PreToolUse": [], "Stop": []}\n',
        b'{"PreToolUse": [{"matcher": "", "hooks": []}]}',
    ],
)
@pytest.mark.parametrize("targets", [(), ("--target", "crew")])
def test_uninstall_leaves_a_file_without_the_gate_byte_for_byte(
    gait: RunGait, town: Path, tmp_path: Path, content: bytes, targets: tuple[str, ...]
) -> None:
    path = overrides(town) / "crew.json"
    path.write_bytes(content)
    run = gastown(gait, tmp_path, "uninstall", *targets)
    assert run.code == 0, run.stdout
    assert run.json["changed"] is False
    assert [f["action"] for f in run.json["files"]] == ["unchanged"]
    assert path.read_bytes() == content


def test_a_reinstall_that_changes_nothing_keeps_the_users_formatting(
    gait: RunGait, town: Path, tmp_path: Path
) -> None:
    assert install(gait, tmp_path, "crew").code == 0
    path = overrides(town) / "crew.json"
    compact = json.dumps(json.loads(path.read_text())).encode()  # the user reformatted it
    path.write_bytes(compact)
    again = install(gait, tmp_path, "crew")
    assert again.code == 0 and again.json["changed"] is False
    assert path.read_bytes() == compact


# ---- names ---------------------------------------------------------------------------------

BAD_TARGETS = [
    "..__polecats",
    "../polecats",
    "a..b__polecats",
    "-rig__polecats",
    "--town__polecats",
    ".hidden__polecats",
    "__polecats",
    "/polecats",
    "a/b__polecats",
    "a\\b__polecats",
    "my rig__polecats",
    "rig\n__polecats",
    "",
    "-",
    "../../etc/passwd",
]


@pytest.mark.parametrize("verb", ["install", "uninstall"])
@pytest.mark.parametrize("bad", BAD_TARGETS)
def test_bad_rig_and_target_names_are_refused(
    gait: RunGait, town: Path, tmp_path: Path, verb: str, bad: str
) -> None:
    (overrides(town) / "crew.json").write_text(CREW)
    before = snapshot(tmp_path)
    if verb == "install":
        run = install(gait, tmp_path, bad)
    else:
        run = gastown(gait, tmp_path, "uninstall", "--target", bad)
    assert run.code == 6, run.stdout
    assert repr(bad) in run.json["error"]
    assert snapshot(tmp_path) == before


def test_good_rig_names_still_install(gait: RunGait, town: Path, tmp_path: Path) -> None:
    run = install(gait, tmp_path, "my-rig_2__polecats", "rig.v2/crew", "polecat")
    assert run.code == 0, run.stdout
    assert sorted(p.name for p in overrides(town).iterdir()) == [
        "my-rig_2__polecats.json",
        "polecats.json",
        "rig.v2__crew.json",
    ]
