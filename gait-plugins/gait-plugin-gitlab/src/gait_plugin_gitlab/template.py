"""The `.gitlab-ci.yml` job: install the pinned gait-cli, run the contract, publish junit.xml
as a GitLab test report (`artifacts:reports:junit`) and keep gait-out/ci/ as an artifact, also
when the job fails."""

from __future__ import annotations

from gait.ci import ARTIFACT_DIR, JUNIT_FILE, CIProvider, TemplateOptions, command_lines

PYTHON_IMAGE = "python:3.12-slim"
TEMPLATE_PATH = ".gitlab-ci.yml"


def render(options: TemplateOptions) -> str:
    return f"""\
# Gait regression gate, written by `gait ci init --provider gitlab`.
# The job installs a pinned gait-cli and runs the one CI contract, `gait ci regress`:
# exit 0 passes, 5 is a regression, any other code means the suite could not run.
# Read gait-out/ci/summary.md first; `{options.contract_command()}` writes the same files locally.
# Merge the job into an existing .gitlab-ci.yml if you have one.

gait_regress:
  stage: test
  image: {PYTHON_IMAGE}
  variables:
    PIP_ROOT_USER_ACTION: ignore
  script:
    - {options.pip_install()}
    - {options.contract_command()}
  artifacts:
    name: gait-regress
    when: always
    expire_in: 30 days
    paths:
      - {ARTIFACT_DIR}/
    reports:
      junit: {ARTIFACT_DIR}/{JUNIT_FILE}
"""


def shell_commands(text: str) -> list[str]:
    """Every shell line of the template's jobs (hidden `.jobs` aside), in order."""
    import yaml

    scripts: list[str] = []
    for name, job in yaml.safe_load(text).items():
        if isinstance(job, dict) and not name.startswith("."):
            for key in ("before_script", "script", "after_script"):
                scripts += job.get(key, [])
    return command_lines(scripts)


PROVIDER = CIProvider(
    name="gitlab",
    template_path=TEMPLATE_PATH,
    render=render,
    description="GitLab CI job (.gitlab-ci.yml)",
    test_report="artifacts:reports:junit",
    shell_commands=shell_commands,
    schema="vendor.gitlab-ci",
)
