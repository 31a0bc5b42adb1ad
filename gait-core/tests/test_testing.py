"""gait.testing, the pytest plugin for plugin authors: its fixtures, and that it costs and breaks
nothing in a pytest run that does not use it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from gait.keys import KeySource
from gait.testing import GAIT, KeyPair, PolicyWriter, RunGait, make_key_pair, write_policy

MODULES_AT_START = """
import sys, pytest
pytest.main(["--co", "-q", "-p", "no:cacheprovider", *sys.argv[2:], sys.argv[1]])
print("modules:", " ".join(sorted(sys.modules)))
"""


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-W", "error", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"},
    )


def test_it_is_registered_as_a_pytest_plugin_named_gait(tmp_path: Path) -> None:
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    done = _pytest(tmp_path, "--trace-config", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gait.testing" in done.stdout


def test_it_imports_nothing_at_pytest_start_up_but_itself(tmp_path: Path) -> None:
    def modules(*args: str) -> set[str]:
        done = subprocess.run(
            [sys.executable, "-c", MODULES_AT_START, str(tmp_path), *args],
            capture_output=True,
            text=True,
            check=True,
        )
        (line,) = [line for line in done.stdout.splitlines() if line.startswith("modules: ")]
        return set(line.split()[1:])

    assert modules() - modules("-p", "no:gait") == {"gait", "gait.testing"}


def test_a_project_with_fixtures_of_the_same_names_keeps_its_own(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.fixture
            def gait():
                return "the project's own"

            @pytest.fixture
            def gait_policy():
                return 42
            """
        )
    )
    (tmp_path / "test_own.py").write_text(
        textwrap.dedent(
            """
            def test_own(gait, gait_policy):
                assert (gait, gait_policy) == ("the project's own", 42)

            def test_plain():
                assert True
            """
        )
    )
    done = _pytest(tmp_path, "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_the_runner_runs_the_installed_gait_in_tmp_path(gait: RunGait, tmp_path: Path) -> None:
    assert Path(sys.executable).parent / "gait" == GAIT
    run = gait("keys", "init", "--out-dir", "k", "--json")
    assert run.code == 0, run.stderr
    assert run.json["ok"] is True
    assert (tmp_path / "k" / "gait_private.key").is_file()
    other = tmp_path / "other"
    other.mkdir()
    assert gait("keys", "init", "--out-dir", "k", cwd=other).code == 0
    assert (other / "k" / "gait_public.key").is_file()
    bad = gait("gate", "eval", "--policy", "missing.yaml", "--intent", "missing.json", "--json")
    assert bad.code == 6 and bad.json["ok"] is False


def test_the_runner_selects_installed_plugins(gait: RunGait) -> None:
    def loaded(plugins: str | None = "", env: dict[str, str] | None = None) -> list[str]:
        run = gait("plugins", "list", "--json", plugins=plugins, env=env)
        assert run.code == 0, run.stderr
        return [p["name"] for p in run.json["plugins"] if p["status"] != "builtin"]

    assert loaded() == []
    assert "otel" in loaded(plugins="otel")  # a plugin of this workspace, installed here
    assert loaded(plugins=None, env={"GAIT_PLUGINS": ""}) == []


def test_the_key_pair_is_in_the_reference_format(gait_key_pair: KeyPair, tmp_path: Path) -> None:
    assert gait_key_pair.private_key == tmp_path / "keys" / "gait_private.key"
    assert gait_key_pair.public_key == tmp_path / "keys" / "gait_public.key"
    private = KeySource(path=str(gait_key_pair.private_key)).private_key()
    public = KeySource(path=str(gait_key_pair.public_key)).public_key()
    assert private.public == public and public.key_id == gait_key_pair.key_id
    assert stat.S_IMODE(gait_key_pair.private_key.stat().st_mode) == 0o600
    assert gait_key_pair.private_key.read_text().endswith("\n")
    assert gait_key_pair.sign_args() == (
        "--key-mode",
        "prod",
        "--private-key",
        str(gait_key_pair.private_key),
    )
    assert gait_key_pair.verify_args() == ("--public-key", str(gait_key_pair.public_key))
    assert make_key_pair(tmp_path / "two", prefix="ci").private_key.name == "ci_private.key"


def test_signing_with_the_key_pair_verifies_with_it(
    gait: RunGait, gait_key_pair: KeyPair, gait_policy: PolicyWriter, tmp_path: Path
) -> None:
    policy = gait_policy({"default_verdict": "block", "rules": []})
    intent = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "intent_read.json"
    run = gait(
        "gate",
        "eval",
        "--policy",
        str(policy),
        "--intent",
        str(intent),
        *gait_key_pair.sign_args(),
        "--trace-out",
        "trace.json",
        "--json",
    )
    assert run.code == 3 and run.json["verdict"] == "block", run.stdout + run.stderr
    assert gait("trace", "verify", "trace.json", *gait_key_pair.verify_args()).code == 0
    other = make_key_pair(tmp_path / "other")
    assert gait("trace", "verify", "trace.json", *other.verify_args()).code == 2


def test_the_policy_writer_writes_a_dict_or_text(gait_policy: PolicyWriter, tmp_path: Path) -> None:
    rules = [{"name": "r", "priority": 1, "effect": "block", "match": {"tool_names": ["t.x"]}}]
    path = gait_policy({"default_verdict": "allow", "rules": rules})
    assert path == tmp_path / "policy.yaml"
    assert yaml.safe_load(path.read_text()) == {
        "schema_id": "gait.gate.policy",
        "schema_version": "1.0.0",
        "default_verdict": "allow",
        "rules": rules,
    }
    text = gait_policy(
        """
        schema_id: gait.gate.policy
        schema_version: 1.0.0
        default_verdict: block
        """,
        name="nested/block.yaml",
    )
    assert text == tmp_path / "nested" / "block.yaml"
    assert text.read_text().startswith("\nschema_id: gait.gate.policy\nschema_version")
    # nothing is validated: a test may want a policy gait refuses
    assert write_policy(tmp_path, "not: [a, policy", name="bad.yaml").read_text() == (
        "not: [a, policy"
    )
