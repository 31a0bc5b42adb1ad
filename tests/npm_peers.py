"""Real peers from the npm registry (Claude Code, OpenClaw, a Node runtime), installed once.

Each peer is installed into `.peers/<name>/` at the repository root (ignored by git) the first
time a test asks for it, under a file lock, and reused while its package list is unchanged.
Tests that need a peer skip, saying why, only when npm itself is missing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PEERS = REPO / ".peers"
INSTALL_TIMEOUT_S = 900


def npm_peer(name: str, packages: Sequence[str], *, path_first: Sequence[Path] = ()) -> Path:
    """Install `packages` (exact npm specs) into `.peers/<name>` and return its root.

    `path_first` are directories put first on PATH while npm runs (a Node runtime for packages
    whose install scripts need a newer Node). Skips the calling test when npm is unavailable.
    """
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not installed, so the real {name} cannot be installed")
    root = PEERS / name
    root.mkdir(parents=True, exist_ok=True)
    wanted = hashlib.sha256(json.dumps(sorted(packages)).encode()).hexdigest()
    marker = root / ".installed"
    with (PEERS / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text() == wanted:
            return root
        env = dict(os.environ)
        if path_first:
            env["PATH"] = os.pathsep.join([*map(str, path_first), env.get("PATH", "")])
        (root / "package.json").write_text('{"private": true}\n')
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--save-exact", *packages],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm install {' '.join(packages)} failed:\n{done.stderr[-4000:]}")
        marker.write_text(wanted)
    return root


def peer_bin(root: Path, command: str) -> Path:
    """The executable `command` of an installed peer."""
    path = root / "node_modules" / ".bin" / command
    if not path.exists():
        raise FileNotFoundError(f"{command} is not in {path.parent}")
    return path
