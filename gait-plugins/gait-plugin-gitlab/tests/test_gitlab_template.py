"""The GitLab provider inside a real plugin host: found as `ci.gitlab`, renders a job that
installs the pinned gait-cli, runs only the contract and reports junit.xml to GitLab."""

from __future__ import annotations

import subprocess
import sys

import yaml
from gait_plugin_gitlab import plugin

from gait.ci import TemplateOptions, installed_providers
from gait.plugins import PluginHost


def provider_from_host() -> object:
    host = PluginHost()
    host.manager.register(plugin, name="gait-plugin-gitlab:gitlab")
    providers, problems = installed_providers(host)
    assert problems == []
    return providers["gitlab"]


def test_the_job_runs_the_contract_and_reports_junit() -> None:
    provider = provider_from_host()
    options = TemplateOptions(gait_version="0.1.0", fixture="demo")
    job = yaml.safe_load(provider.render(options))["gait_regress"]  # type: ignore[attr-defined]
    assert job["script"] == [
        "python -m pip install --disable-pip-version-check --no-input 'gait-cli==0.1.0'",
        "gait ci regress --fixture demo",
    ]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["paths"] == ["gait-out/ci/"]
    assert job["artifacts"]["reports"] == {"junit": "gait-out/ci/junit.xml"}


def test_options_reach_the_job() -> None:
    provider = provider_from_host()
    options = TemplateOptions(
        gait_version="0.2.0",
        config="ci/gait.json",
        fixture="",
        packages=("gait-plugin-extra==0.2.0",),
    )
    job = yaml.safe_load(provider.render(options))["gait_regress"]  # type: ignore[attr-defined]
    assert job["script"][0].endswith("'gait-cli==0.2.0' 'gait-plugin-extra==0.2.0'")
    assert job["script"][1] == "gait ci regress --config ci/gait.json"


def test_loading_the_plugin_imports_no_template() -> None:
    code = (
        "import sys, gait_plugin_gitlab.plugin\n"
        "assert 'gait_plugin_gitlab.template' not in sys.modules\n"
        "assert 'gait.ci' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_provider_names_its_path_schema_and_commands() -> None:
    from gait_plugin_gitlab.template import PROVIDER

    assert (PROVIDER.template_path, PROVIDER.schema) == (".gitlab-ci.yml", "vendor.gitlab-ci")
    assert PROVIDER.shell_commands is not None
    text = PROVIDER.render(TemplateOptions(gait_version="0.1.0", fixture=""))
    assert PROVIDER.shell_commands(text) == [
        "python -m pip install --disable-pip-version-check --no-input 'gait-cli==0.1.0'",
        "gait ci regress",
    ]
