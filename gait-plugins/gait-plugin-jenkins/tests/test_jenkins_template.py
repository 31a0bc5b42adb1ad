"""The Jenkins provider inside a real plugin host: found as `ci.jenkins`, renders a declarative
pipeline whose stage installs the pinned gait-cli and runs only the contract, and whose
`post { always }` publishes junit.xml and archives gait-out/ci."""

from __future__ import annotations

import re
import subprocess
import sys

from gait_plugin_jenkins import plugin

from gait.ci import TemplateOptions, installed_providers
from gait.plugins import PluginHost


def render(options: TemplateOptions) -> str:
    host = PluginHost()
    host.manager.register(plugin, name="gait-plugin-jenkins:jenkins")
    providers, problems = installed_providers(host)
    assert problems == []
    return providers["jenkins"].render(options)


def test_the_stage_runs_the_contract() -> None:
    text = render(TemplateOptions(gait_version="0.1.0"))
    (script,) = re.findall(r"sh '''(.*?)'''", text, re.S)
    assert [line.strip() for line in script.strip().splitlines()] == [
        "python3 -m venv .gait-venv",
        ".gait-venv/bin/python -m pip install --disable-pip-version-check --no-input "
        "'gait-cli==0.1.0'",
        ".gait-venv/bin/gait ci regress --fixture demo",
    ]
    assert "junit allowEmptyResults: true, testResults: 'gait-out/ci/junit.xml'" in text
    assert "archiveArtifacts artifacts: 'gait-out/ci/**', allowEmptyArchive: true" in text
    assert text.count("{") == text.count("}")


def test_loading_the_plugin_imports_no_template() -> None:
    code = (
        "import sys, gait_plugin_jenkins.plugin\n"
        "assert 'gait_plugin_jenkins.template' not in sys.modules\n"
        "assert 'gait.ci' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_provider_names_its_path_and_commands() -> None:
    from gait_plugin_jenkins.template import PROVIDER

    assert (PROVIDER.template_path, PROVIDER.schema) == ("Jenkinsfile", "")
    assert PROVIDER.shell_commands is not None
    text = PROVIDER.render(TemplateOptions(gait_version="0.1.0", fixture=""))
    assert PROVIDER.shell_commands(text)[-1] == ".gait-venv/bin/gait ci regress"
