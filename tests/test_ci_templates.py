"""`gait ci init --provider <name>`: each provider plugin's template, written by the installed
gait, parses (Groovy structure for Jenkins), passes the provider's schema and linters, and runs
nothing but the pinned install and the contract, `gait ci regress`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from gait_cli import __version__
from tests.ci_support import ci_providers, jenkins_blocks, run_tool, template_commands
from tests.conftest import REPO, RunGait

# Every installed provider plugin is covered; each plugin's own tests pin its path and schema.
PROVIDERS = {name: provider.template_path for name, (provider, _) in ci_providers().items()}
SCHEMAS = {
    name: provider.schema for name, (provider, _) in ci_providers().items() if provider.schema
}
ALL = ",".join(sorted({plugin for _, plugin in ci_providers().values()}))


def test_the_workspace_provider_plugins_are_covered() -> None:
    assert set(PROVIDERS) >= {"github", "gitlab", "jenkins", "circleci"}
    assert set(SCHEMAS) >= {"github", "gitlab", "circleci"}


PIP = "-m pip install --disable-pip-version-check --no-input"


def init(gait: RunGait, provider: str, *args: str) -> Path:
    out = gait("ci", "init", "--provider", provider, *args, "--json", plugins=ALL)
    assert out.code == 0, out.stdout + out.stderr
    assert out.json["provider"] == provider
    return Path(out.json["path"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_init_writes_the_template_at_the_provider_path(
    gait: RunGait, tmp_path: Path, provider: str
) -> None:
    out = gait("ci", "init", "--provider", provider, "--json", plugins=ALL)
    assert out.code == 0, out.stderr
    assert out.json["path"] == PROVIDERS[provider]
    assert out.json["gait_version"] == __version__
    assert out.json["contract"] == "gait ci regress --fixture demo"
    assert (tmp_path / PROVIDERS[provider]).stat().st_mode & 0o777 == 0o644


def _kind(line: str) -> str:
    """What one template command does: install gait, make its venv, or run gait."""
    if re.fullmatch(rf"(python3?|\.gait-venv/bin/python) {PIP}( '[^']+')+", line):
        return "install"
    if line == "python3 -m venv .gait-venv":
        return "venv"
    if re.search(r"(^|/)gait ", line):
        return "gait:" + re.sub(r"^\S*gait ", "", line)
    return "other: " + line


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_template_invokes_only_the_contract(
    gait: RunGait, tmp_path: Path, provider: str
) -> None:
    path = init(gait, provider, "--config", "ci/gait.json", "--fixture", "")
    text = (tmp_path / path).read_text()
    commands = template_commands(provider, text)
    kinds = [_kind(line) for line in commands]
    assert [k for k in kinds if k not in ("install", "venv")] == [
        "gait:ci regress --config ci/gait.json"
    ], commands
    (install,) = [line for line in commands if _kind(line) == "install"]
    assert f"'gait-cli=={__version__}'" in install
    # Nothing else is installed but the pinned gait (and, on GitHub, its pinned plugin).
    extra = re.findall(r"'([^']+)'", install)
    assert extra == [f"gait-cli=={__version__}"] + (
        [f"gait-plugin-github=={__version__}"] if provider == "github" else []
    )


@pytest.mark.parametrize("provider", sorted(SCHEMAS))
def test_the_yaml_templates_parse_and_pass_their_schema(
    gait: RunGait, tmp_path: Path, provider: str
) -> None:
    path = tmp_path / init(gait, provider)
    assert isinstance(yaml.safe_load(path.read_text()), dict)
    done = run_tool("check-jsonschema", "--builtin-schema", SCHEMAS[provider], str(path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_gitlab_job_reports_junit(gait: RunGait, tmp_path: Path) -> None:
    job = yaml.safe_load((tmp_path / init(gait, "gitlab")).read_text())["gait_regress"]
    assert job["artifacts"]["reports"]["junit"] == "gait-out/ci/junit.xml"
    assert job["artifacts"]["when"] == "always"


def test_the_circleci_job_stores_test_results(gait: RunGait, tmp_path: Path) -> None:
    config = yaml.safe_load((tmp_path / init(gait, "circleci")).read_text())
    steps = config["jobs"]["gait_regress"]["steps"]
    stored = [s["store_test_results"] for s in steps if "store_test_results" in s]
    assert stored == [{"path": "gait-out/ci", "when": "always"}]


def test_the_jenkinsfile_is_a_declarative_pipeline(gait: RunGait, tmp_path: Path) -> None:
    blocks = jenkins_blocks((tmp_path / init(gait, "jenkins")).read_text())
    pipeline = blocks["pipeline"]
    assert "agent any" in pipeline[""]
    stage = pipeline["stages"]["stage('Gait regress')"]
    (sh,) = stage["steps"][""]
    assert sh.startswith("sh '''") and sh.endswith("'''")
    always = pipeline["post"]["always"][""]
    assert "junit allowEmptyResults: true, testResults: 'gait-out/ci/junit.xml'" in always
    assert "archiveArtifacts artifacts: 'gait-out/ci/**', allowEmptyArchive: true" in always


def test_the_jenkins_structure_check_catches_an_unbalanced_file() -> None:
    with pytest.raises(AssertionError, match="unbalanced"):
        jenkins_blocks("pipeline {\n  agent any\n")


def test_the_github_template_passes_actionlint_and_zizmor(gait: RunGait, tmp_path: Path) -> None:
    path = tmp_path / init(gait, "github")
    for argv in (
        ("actionlint", str(path)),
        ("zizmor", "--offline", "--no-progress", "--persona", "auditor", str(path)),
    ):
        done = run_tool(*argv, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr


def test_templates_differ_only_in_ci_syntax(gait: RunGait, tmp_path: Path) -> None:
    contracts = set()
    for provider in PROVIDERS:
        text = (tmp_path / init(gait, provider, "--force", "--gait-version", "9.9.9")).read_text()
        contracts |= {
            re.sub(r"^\S*gait ", "gait ", line)
            for line in template_commands(provider, text)
            if _kind(line).startswith("gait:")
        }
        assert "'gait-cli==9.9.9'" in text
    assert contracts == {"gait ci regress --fixture demo"}


def test_existing_file_needs_force(gait: RunGait, tmp_path: Path) -> None:
    (tmp_path / "Jenkinsfile").write_text("keep me\n")
    out = gait("ci", "init", "--provider", "jenkins", "--json", plugins=ALL)
    assert out.code == 6 and "pass --force" in out.json["error"]
    assert (tmp_path / "Jenkinsfile").read_text() == "keep me\n"
    assert gait("ci", "init", "--provider", "jenkins", "--force", plugins=ALL).code == 0
    assert (tmp_path / "Jenkinsfile").read_text().startswith("// Gait regression gate")


def test_output_path(gait: RunGait, tmp_path: Path) -> None:
    path = init(gait, "gitlab", "--output", "ci/gait.gitlab-ci.yml")
    assert path == Path("ci/gait.gitlab-ci.yml") and (tmp_path / path).is_file()


def test_unknown_provider_and_no_plugins(gait: RunGait) -> None:
    out = gait("ci", "init", "--provider", "travis", "--json", plugins=ALL)
    assert out.code == 6
    assert f"installed: {', '.join(sorted(PROVIDERS))}" in out.json["error"]
    none = gait("ci", "init", "--provider", "gitlab", "--json")
    assert none.code == 6 and "installed: none" in none.json["error"]
    missing = gait("ci", "init", "--json", plugins=ALL)
    assert missing.code == 6 and "--provider" in missing.json["error"]


def test_values_that_would_need_quoting_are_refused(gait: RunGait, tmp_path: Path) -> None:
    for args in (
        ("--config", "my suite.yaml"),
        ("--fixture", "$(id)"),
        ("--package", "x'; rm -rf /"),
        ("--gait-version", "latest"),
    ):
        out = gait("ci", "init", "--provider", "gitlab", *args, "--json", plugins=ALL)
        assert out.code == 6, args
        assert "invalid" in out.json["error"]
    assert not (tmp_path / ".gitlab-ci.yml").exists()


def test_providers_lists_the_installed_plugins(gait: RunGait) -> None:
    out = gait("ci", "providers", "--json", plugins=ALL)
    assert out.code == 0
    listed = {p["name"]: p for p in out.json["providers"]}
    assert {name: p["path"] for name, p in listed.items()} == PROVIDERS
    assert listed["gitlab"]["test_report"] == "artifacts:reports:junit"
    assert gait("ci", "providers", "--json").json["providers"] == []


def test_the_adoption_doc_shows_the_file_init_writes(gait: RunGait, tmp_path: Path) -> None:
    text = (tmp_path / init(gait, "github")).read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()
    doc = (REPO / "docs" / "adopt_in_one_pr.md").read_text()
    assert f"writes this file (here for gait {__version__})" in doc
    shown = re.search(r"writes this file.*?```yaml\n(.*?)```", doc, re.S)
    assert shown is not None
    assert shown.group(1).strip() == body
