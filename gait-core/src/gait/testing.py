"""Pytest fixtures for testing Gait plugins: a pytest plugin, registered as `gait` (`pytest11`).

Installing gait-core makes these fixtures available to every test, with no conftest:

- `gait`: run the installed `gait` command in the test's `tmp_path`, installed plugins off
  unless `plugins=` names them; returns a `Run` (code, stdout, stderr, json).
- `gait_key_pair`: a fresh Ed25519 key pair in the reference's key files (`KeyPair`).
- `gait_policy`: write a policy (a dict or YAML text) into `tmp_path`; returns its path.

Pytest imports this module at start-up in every project whose environment holds gait-core, so it
imports nothing pytest has not already imported (no attrs, no YAML, no cryptography, no other
gait module), defines no hooks and no autouse fixtures. `-p no:gait` turns it off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

__all__ = [
    "GAIT",
    "KeyPair",
    "PolicyWriter",
    "Run",
    "RunGait",
    "gait",
    "gait_key_pair",
    "gait_policy",
    "make_key_pair",
    "run_gait",
    "write_policy",
]

GAIT = Path(sys.executable).parent / "gait"
"""The `gait` console script of the running environment (gait-cli installs it)."""

POLICY_HEADER = {"schema_id": "gait.gate.policy", "schema_version": "1.0.0"}


@dataclass(frozen=True)
class Run:
    """One finished `gait` process."""

    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        """Standard output parsed as one JSON object (what `--json` prints)."""
        value = json.loads(self.stdout)
        assert isinstance(value, dict), self.stdout
        return value


class RunGait(Protocol):
    """The `gait` fixture: `gait("gate", "eval", ..., plugins="myplugin")`."""

    def __call__(
        self,
        *args: str,
        cwd: Path | None = None,
        plugins: str | None = "",
        env: Mapping[str, str] | None = None,
        pythonpath: Path | None = None,
        input: str | None = None,
        timeout: float = 120,
    ) -> Run: ...


def run_gait(
    *args: str,
    cwd: Path,
    plugins: str | None = "",
    env: Mapping[str, str] | None = None,
    pythonpath: Path | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> Run:
    """Run the installed `gait ARGS` in `cwd` and wait for it.

    `plugins` becomes `GAIT_PLUGINS`: "" (the default) loads no installed plugin, "a,b" loads
    those, None leaves the variable as the test process has it. `env` is added to the test
    process's environment; `pythonpath` sets `PYTHONPATH` (a folder of fake plugins, say).
    """
    if not GAIT.exists():
        pytest.fail(f"{GAIT} is missing: install gait-cli in the environment that runs pytest")
    full_env = {k: v for k, v in os.environ.items() if k != "GAIT_PLUGINS"}
    if plugins is not None:
        full_env["GAIT_PLUGINS"] = plugins
    if pythonpath is not None:
        full_env["PYTHONPATH"] = str(pythonpath)
    full_env.update(env or {})
    done = subprocess.run(
        [str(GAIT), *args],
        cwd=cwd,
        env=full_env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def gait(tmp_path: Path) -> RunGait:
    """Run the installed `gait` in `tmp_path` (or `cwd=`); installed plugins stay off unless
    `plugins=` names them."""

    def run(
        *args: str,
        cwd: Path | None = None,
        plugins: str | None = "",
        env: Mapping[str, str] | None = None,
        pythonpath: Path | None = None,
        input: str | None = None,
        timeout: float = 120,
    ) -> Run:
        return run_gait(
            *args,
            cwd=cwd or tmp_path,
            plugins=plugins,
            env=env,
            pythonpath=pythonpath,
            input=input,
            timeout=timeout,
        )

    return run


@dataclass(frozen=True)
class KeyPair:
    """An Ed25519 key pair in the reference's files: base64 of the 64-byte private key (seed,
    then public key) and of the 32-byte public key, each with a newline, mode 0600."""

    private_key: Path
    public_key: Path
    key_id: str
    """Lowercase hex SHA-256 of the raw public key, as traces name their signer."""

    def sign_args(self) -> tuple[str, ...]:
        """Options that make `gait gate eval` (and other signing commands) sign with this key."""
        return ("--key-mode", "prod", "--private-key", str(self.private_key))

    def verify_args(self) -> tuple[str, ...]:
        """Options that make `gait trace verify` (and other verifiers) check with this key."""
        return ("--public-key", str(self.public_key))


def make_key_pair(folder: Path, prefix: str = "gait") -> KeyPair:
    """Write a new key pair as `gait keys init --out-dir FOLDER --prefix PREFIX` would:
    `PREFIX_private.key` and `PREFIX_public.key`."""
    from gait.keys import SigningKey, write_key_pair

    folder.mkdir(parents=True, exist_ok=True)
    key = SigningKey.generate()
    private, public = folder / f"{prefix}_private.key", folder / f"{prefix}_public.key"
    write_key_pair(key, private, public)
    return KeyPair(private_key=private, public_key=public, key_id=key.key_id)


@pytest.fixture
def gait_key_pair(tmp_path: Path) -> KeyPair:
    """A fresh key pair in `tmp_path/keys/` (`gait_private.key`, `gait_public.key`)."""
    return make_key_pair(tmp_path / "keys")


class PolicyWriter(Protocol):
    """The `gait_policy` fixture: `gait_policy({"default_verdict": "block", "rules": [...]})`."""

    def __call__(self, policy: Mapping[str, Any] | str, name: str = "policy.yaml") -> Path: ...


def write_policy(folder: Path, policy: Mapping[str, Any] | str, name: str = "policy.yaml") -> Path:
    """Write `policy` to `folder/name` and return the path.

    A mapping is written as YAML, keys in their order, with `schema_id` and `schema_version`
    added when it has none; text is written as given (dedented, so an indented triple-quoted
    string works). Nothing is validated: a test may want a policy gait refuses.
    """
    if isinstance(policy, str):
        text = textwrap.dedent(policy)
    else:
        import yaml

        text = yaml.safe_dump({**POLICY_HEADER, **policy}, sort_keys=False)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def gait_policy(tmp_path: Path) -> PolicyWriter:
    """Write a policy into `tmp_path` (`name=` picks the file, default `policy.yaml`)."""

    def write(policy: Mapping[str, Any] | str, name: str = "policy.yaml") -> Path:
        return write_policy(tmp_path, policy, name)

    return write
