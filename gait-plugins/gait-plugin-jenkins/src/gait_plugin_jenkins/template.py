"""The Jenkinsfile: a declarative pipeline whose one stage installs the pinned gait-cli into a
virtual environment and runs the contract; `post { always }` publishes junit.xml with the
`junit` step and archives gait-out/ci/, also when the stage fails.

The agent needs Python 3.11 or newer with `venv` (a venv, because many agents' system Python
refuses `pip install`, PEP 668), and the JUnit plugin of Jenkins (installed by default)."""

from __future__ import annotations

from gait.ci import ARTIFACT_DIR, JUNIT_FILE, CIProvider, TemplateOptions, command_lines

TEMPLATE_PATH = "Jenkinsfile"
VENV = ".gait-venv"


def render(options: TemplateOptions) -> str:
    return f"""\
// Gait regression gate, written by `gait ci init --provider jenkins`.
// The stage installs a pinned gait-cli and runs the one CI contract, `gait ci regress`:
// exit 0 passes, 5 is a regression, any other code means the suite could not run.
// Read gait-out/ci/summary.md first; `{options.contract_command()}` writes the same files locally.
// The agent needs python3 (3.11 or newer) with venv.
pipeline {{
    agent any
    options {{
        timeout(time: 15, unit: 'MINUTES')
    }}
    stages {{
        stage('Gait regress') {{
            steps {{
                sh '''
                    python3 -m venv {VENV}
                    {options.pip_install(python=f"{VENV}/bin/python")}
                    {options.contract_command(gait=f"{VENV}/bin/gait")}
                '''
            }}
        }}
    }}
    post {{
        always {{
            junit allowEmptyResults: true, testResults: '{ARTIFACT_DIR}/{JUNIT_FILE}'
            archiveArtifacts artifacts: '{ARTIFACT_DIR}/**', allowEmptyArchive: true
        }}
    }}
}}
"""


def shell_commands(text: str) -> list[str]:
    """Every line of the template's `sh` steps (triple-quoted scripts), in order."""
    import re

    return command_lines(re.findall(r"sh '''(.*?)'''", text, re.S))


PROVIDER = CIProvider(
    name="jenkins",
    template_path=TEMPLATE_PATH,
    render=render,
    description="Jenkins declarative pipeline (Jenkinsfile)",
    test_report="junit step in post { always }",
    shell_commands=shell_commands,
)
