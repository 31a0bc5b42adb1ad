"""Docs are executable: every command in a `console` block and every `python` block of the
README and docs/ runs here, in a scratch directory holding the quickstart example.

A command's expected exit code is 0 unless the next line says `# exits N`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *sorted((REPO / "docs" / "integrations").glob("*.md")),
]
BLOCK = re.compile(r"```(console|python)\n(.*?)```", re.S)
BIN = Path(sys.executable).parent


def blocks(doc: Path) -> list[tuple[str, str]]:
    return BLOCK.findall(doc.read_text())


def commands(block: str) -> list[tuple[str, int]]:
    lines = block.splitlines()
    found = []
    for index, line in enumerate(lines):
        if line.startswith("$ "):
            following = lines[index + 1] if index + 1 < len(lines) else ""
            match = re.match(r"# exits (\d+)$", following)
            found.append((line[2:], int(match.group(1)) if match else 0))
    return found


def scratch(tmp_path: Path, doc: Path | None = None) -> tuple[Path, dict[str, str]]:
    """The quickstart example, plus `examples/integrations/<name>/` for
    `docs/integrations/<name>.md`."""
    work = tmp_path / "work"
    shutil.copytree(REPO / "examples" / "quickstart", work)
    if doc is not None and doc.parent.name == "integrations":
        example = REPO / "examples" / "integrations" / doc.stem
        if example.is_dir():
            shutil.copytree(example, work, dirs_exist_ok=True)
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "GAIT_HOME": str(tmp_path / "home"),
        "GAIT_PLUGINS": "",
    }
    return work, env


def test_the_docs_show_commands() -> None:
    shown = [
        c for doc in DOCS for kind, body in blocks(doc) if kind == "console" for c in commands(body)
    ]
    assert len(shown) >= 15


# These three run the repository itself or a package index; they are checked on their own below.
SPECIAL = {"make demo", "make test", "pip install gait-cli"}


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_doc_runs(doc: Path, tmp_path: Path) -> None:
    work, env = scratch(tmp_path, doc)
    for kind, body in blocks(doc):
        if kind == "python":
            done = subprocess.run(
                [sys.executable, "-c", body],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, f"{doc.name}:\n{body}\n{done.stderr}"
            continue
        for command, expected in commands(body):
            if command in SPECIAL:
                continue
            done = subprocess.run(
                command,
                shell=True,
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == expected, f"{doc.name}: {command}\n{done.stdout}{done.stderr}"


def test_make_demo_runs_the_first_win_flow() -> None:
    done = subprocess.run(
        ["make", "-s", "demo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GAIT_PLUGINS": ""},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("verify ok", "regress init ok", "regress run ok"):
        assert line in done.stdout
    assert done.stdout.count("trace verify ok") == 3


def test_make_test_is_what_ci_runs() -> None:
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_pip_install_gait_cli(tmp_path: Path) -> None:
    """The user path: wheels as they would be published, installed by plain pip."""
    wheels = tmp_path / "wheels"
    uv = REPO / ".tools" / "bin" / "uv"
    for package in ("gait-core", "gait-cli"):
        subprocess.run(
            [str(uv), "build", "-q", "--wheel", "--package", package, "-o", str(wheels)],
            cwd=REPO,
            check=True,
        )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PIP_FIND_LINKS": str(wheels), "GAIT_PLUGINS": ""}
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "gait-cli"],
        env=env,
        check=True,
    )
    done = subprocess.run(
        [
            str(venv / "bin" / "gait"),
            "gate",
            "eval",
            "--policy",
            str(REPO / "examples" / "quickstart" / "policy.yaml"),
            "--intent",
            str(REPO / "examples" / "quickstart" / "intent_read.json"),
            "--json",
        ],
        cwd=tmp_path,
        env={**env, "GAIT_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"verdict": "allow"' in done.stdout
