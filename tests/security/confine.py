"""Folders that refuse writes for real, for the `gait` a test starts (issue 15 §4).

- `full`: a 256 KiB tmpfs filled to its last page (ENOSPC), mounted in a user and mount
  namespace of the test's own, so no privilege is needed and nothing outlives the command;
- `read_only`: the same tmpfs remounted read-only (EROFS);
- `denied`: a folder of mode 0555. A process of its owner is refused (EACCES), except root,
  whose capabilities override modes: as root, gait runs in a user namespace of its own, where
  it keeps its uid but has no capability over the machine's files.

chmod alone cannot stand for any of these when the tests run as root (as in CI). A mechanism
the machine does not offer skips its tests with the reason; none is faked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import GAIT, Run

# Run inside the namespaces: mount the tmpfs on $1, copy the seed folder $2 into it, make it
# full or read-only ($3), run the command (in the new folder when $5 is "inside": a working
# directory opened before the mount is the folder under it), then copy what the folder holds
# to $4 (the tmpfs is gone when the namespace ends).
_MOUNT_AND_RUN = r"""
set -e
dir=$1 seed=$2 kind=$3 after=$4 where=$5
shift 5
mount -t tmpfs -o size=256k,mode=0777 tmpfs "$dir"
cp -a "$seed/." "$dir/"
case $kind in
  full) dd if=/dev/zero of="$dir/.fill" bs=4096 2>/dev/null || true ;;
  read_only) mount -o remount,ro "$dir" ;;
esac
if [ "$where" = inside ]; then cd "$dir"; fi
set +e
"$@"
code=$?
cp -a "$dir/." "$after/"
rm -f "$after/.fill"
exit $code
"""
_USER_AND_MOUNT = ("unshare", "--user", "--map-root-user", "--mount")
KINDS = ("full", "read_only", "denied")


@cache
def unavailable(kind: str) -> str:
    """Why this machine cannot refuse writes that way ('' when it can)."""
    if kind == "denied" and os.geteuid() != 0:
        return ""  # the folder's mode is enough
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    if kind == "denied":
        probe = ["unshare", "--user", "true"]
    else:
        probe = [*_USER_AND_MOUNT, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"]
    done = subprocess.run(probe, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"{' '.join(probe)} is not permitted here: {done.stderr.strip()}"
    return ""


class Confined:
    """Runs the installed gait in `work`, with the folder `work/out` refusing writes."""

    def __init__(self, tmp_path: Path) -> None:
        self.work = tmp_path / "work"
        self.out = self.work / "out"
        self.seed = tmp_path / "seed"  # what `out` holds before the command (see `seed_file`)
        self.home = tmp_path / "home"  # GAIT_HOME: the dev key, outside `out`
        for folder in (self.out, self.seed, self.home):
            folder.mkdir(parents=True)
        self.after = self.out  # what `out` held after the last run (a copy of a tmpfs)
        self.left: list[str] = []  # the names in it, folders and files, relative to it

    def seed_file(self, name: str, data: str) -> None:
        (self.seed / name).write_text(data)

    def run(
        self, kind: str, *args: str, env: Mapping[str, str] | None = None, inside: bool = False
    ) -> Run:
        """`gait ARGS` in `work` (in `out` when `inside`), with `out` refusing writes as `kind`
        says; `after` and `left` then say what `out` holds."""
        reason = unavailable(kind)
        if reason:
            pytest.skip(f"cannot make a {kind} folder: {reason}")
        full_env = {**os.environ, "GAIT_PLUGINS": "", "GAIT_HOME": str(self.home), **(env or {})}
        self.after = self.out if kind == "denied" else self.work.parent / "after"
        shutil.rmtree(self.work.parent / "after", ignore_errors=True)
        (self.work.parent / "after").mkdir()
        if kind == "denied":
            shutil.copytree(self.seed, self.out, dirs_exist_ok=True)
            self.out.chmod(0o555)
            prefix = ["unshare", "--user"] if os.geteuid() == 0 else []
            argv = [*prefix, str(GAIT), *args]
        else:
            argv = [
                *_USER_AND_MOUNT, "sh", "-c", _MOUNT_AND_RUN, "sh", str(self.out), str(self.seed),
                kind, str(self.after), "inside" if inside else "work", str(GAIT), *args,
            ]  # fmt: skip
        cwd = self.out if inside and kind == "denied" else self.work
        try:
            done = subprocess.run(
                argv, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120,
                check=False,
            )  # fmt: skip
        finally:
            self.out.chmod(0o755)
        self.left = sorted(str(p.relative_to(self.after)) for p in self.after.rglob("*"))
        return Run(done.returncode, done.stdout, done.stderr)
