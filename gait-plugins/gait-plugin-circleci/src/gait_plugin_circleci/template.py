"""The `.circleci/config.yml`: one job that installs the pinned gait-cli and runs the contract,
then `store_test_results` (junit.xml) and `store_artifacts` (gait-out/ci/), both `when: always`
so that a failing run still shows its report."""

from __future__ import annotations

from gait.ci import ARTIFACT_DIR, CIProvider, TemplateOptions, command_lines

PYTHON_IMAGE = "cimg/python:3.12"
TEMPLATE_PATH = ".circleci/config.yml"


def render(options: TemplateOptions) -> str:
    return f"""\
# Gait regression gate, written by `gait ci init --provider circleci`.
# The job installs a pinned gait-cli and runs the one CI contract, `gait ci regress`:
# exit 0 passes, 5 is a regression, any other code means the suite could not run.
# Read gait-out/ci/summary.md first; `{options.contract_command()}` writes the same files locally.
version: 2.1

jobs:
  gait_regress:
    docker:
      - image: {PYTHON_IMAGE}
    steps:
      - checkout
      - run:
          name: Install gait-cli {options.gait_version}
          command: {options.pip_install()}
      - run:
          name: Gait regress (exit 5 is a regression)
          command: {options.contract_command()}
      - store_test_results:
          path: {ARTIFACT_DIR}
          when: always
      - store_artifacts:
          path: {ARTIFACT_DIR}
          destination: gait-ci
          when: always

workflows:
  gait_regress:
    jobs:
      - gait_regress
"""


def shell_commands(text: str) -> list[str]:
    """Every shell line of the template's `run` steps, in order."""
    import yaml

    scripts: list[str] = []
    for job in yaml.safe_load(text)["jobs"].values():
        for step in job["steps"]:
            if isinstance(step, dict) and "run" in step:
                run = step["run"]
                scripts.append(run if isinstance(run, str) else run["command"])
    return command_lines(scripts)


PROVIDER = CIProvider(
    name="circleci",
    template_path=TEMPLATE_PATH,
    render=render,
    description="CircleCI job (.circleci/config.yml)",
    test_report="store_test_results",
    shell_commands=shell_commands,
    schema="vendor.circle-ci",
)
