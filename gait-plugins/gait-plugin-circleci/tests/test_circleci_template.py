"""The CircleCI provider inside a real plugin host: found as `ci.circleci`, renders a job that
installs the pinned gait-cli, runs only the contract and stores the test results always."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import yaml
from gait_plugin_circleci import plugin

from gait.ci import TemplateOptions, installed_providers
from gait.plugins import PluginHost


def render(options: TemplateOptions) -> dict[str, Any]:
    host = PluginHost()
    host.manager.register(plugin, name="gait-plugin-circleci:circleci")
    providers, problems = installed_providers(host)
    assert problems == []
    config = yaml.safe_load(providers["circleci"].render(options))
    assert isinstance(config, dict)
    return config


def test_the_job_runs_the_contract_and_stores_results() -> None:
    config = render(TemplateOptions(gait_version="0.1.0"))
    assert config["version"] == 2.1
    steps = config["jobs"]["gait_regress"]["steps"]
    assert steps[0] == "checkout"
    commands = [
        step["run"]["command"] for step in steps if isinstance(step, dict) and "run" in step
    ]
    assert commands == [
        "python -m pip install --disable-pip-version-check --no-input 'gait-cli==0.1.0'",
        "gait ci regress --fixture demo",
    ]
    stored = {key: value for step in steps if isinstance(step, dict) for key, value in step.items()}
    assert stored["store_test_results"] == {"path": "gait-out/ci", "when": "always"}
    assert stored["store_artifacts"]["path"] == "gait-out/ci"
    assert stored["store_artifacts"]["when"] == "always"
    assert config["workflows"]["gait_regress"]["jobs"] == ["gait_regress"]


def test_loading_the_plugin_imports_no_template() -> None:
    code = (
        "import sys, gait_plugin_circleci.plugin\n"
        "assert 'gait_plugin_circleci.template' not in sys.modules\n"
        "assert 'gait.ci' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_provider_names_its_path_schema_and_commands() -> None:
    from gait_plugin_circleci.template import PROVIDER

    assert (PROVIDER.template_path, PROVIDER.schema) == (".circleci/config.yml", "vendor.circle-ci")
    assert PROVIDER.shell_commands is not None
    text = PROVIDER.render(TemplateOptions(gait_version="0.1.0", fixture=""))
    assert PROVIDER.shell_commands(text)[-1] == "gait ci regress"
