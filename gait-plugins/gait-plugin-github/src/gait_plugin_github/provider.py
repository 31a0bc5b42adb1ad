"""The GitHub Actions provider: the workflow template a repository adds, and the report of a
contract run inside a GitHub job (step summary, step outputs, error annotations)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

from gait.ci import ARTIFACT_DIR, CIProvider, ContractOutcome, TemplateOptions, command_lines

TEMPLATE_PATH = ".github/workflows/gait-regress.yml"
PLUGIN_DISTRIBUTION = "gait-plugin-github"
PYTHON_VERSION = "3.12"
# Actions pinned by commit (zizmor's unpinned-uses); the same pins as this repository's own
# action and workflows, which a test keeps in step.
CHECKOUT = "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0"
SETUP_PYTHON = "actions/setup-python@e797f83bcb11b83ae66e0230d6156d7c80228e7c # v6.0.0"
UPLOAD_ARTIFACT = "actions/upload-artifact@330a01c490aca151604b8cf639adc76d48f6c5d4 # v5.0.0"
PINNED_ACTIONS = (CHECKOUT, SETUP_PYTHON, UPLOAD_ARTIFACT)
# The outputs the report adds to the step that runs `gait ci regress`.
REPORT_OUTPUTS = ("status", "failed", "top_failure_reason", "next_command")


def render(options: TemplateOptions) -> str:
    install = options.pip_install(extra=(options.pinned(PLUGIN_DISTRIBUTION),))
    return f"""\
# Gait regression gate, written by `gait ci init --provider github`.
# The job installs a pinned gait-cli (and gait-plugin-github, which writes the step summary and
# annotates failing graders) and runs the one CI contract, `gait ci regress`: exit 0 passes,
# 5 is a regression, any other code means the suite could not run.
# Read the job summary first; `{options.contract_command()}` writes the same files locally.
name: gait-regress

on:
  pull_request:
  push:
    branches: [main]
  workflow_dispatch:

permissions: {{}}

concurrency:
  group: gait-regress-${{{{ github.ref }}}}
  cancel-in-progress: true

jobs:
  regress:
    name: gait regress
    runs-on: ubuntu-latest
    timeout-minutes: 15
    permissions:
      contents: read
    steps:
      - name: Check out
        uses: {CHECKOUT}
        with:
          persist-credentials: false
      - name: Set up Python
        uses: {SETUP_PYTHON}
        with:
          python-version: "{PYTHON_VERSION}"
      - name: Install gait-cli {options.gait_version}
        run: {install}
      - name: Gait regress (exit 5 is a regression)
        run: {options.contract_command()}
      - name: Upload {ARTIFACT_DIR}
        if: ${{{{ !cancelled() }}}}
        uses: {UPLOAD_ARTIFACT}
        with:
          name: gait-regress
          path: {ARTIFACT_DIR}/
          if-no-files-found: warn
"""


def active(environ: Mapping[str, str]) -> bool:
    """True inside a GitHub Actions job."""
    return environ.get("GITHUB_ACTIONS") == "true"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation_lines(summary: Mapping[str, Any]) -> Iterator[str]:
    """`::error` workflow commands: one per failing grader, or one for a suite that did not run."""
    if summary["status"] == "fail":
        for grader in summary["failed_graders"]:
            reasons = ", ".join(grader["reason_codes"]) or "failed"
            title = _escape_property(f"Gait regression: {grader['name']}")
            message = _escape_data(f"{reasons}. Reproduce with: {summary['next_command']}")
            yield f"::error title={title}::{message}"
    elif summary["status"] == "error":
        title = _escape_property(f"Gait regress could not run (exit {summary['exit_code']})")
        yield f"::error title={title}::{_escape_data(summary['error'] + '. ' + summary['hint'])}"


def _single_line(value: object) -> str:
    return " ".join(str(value).split())


def report(outcome: ContractOutcome, environ: Mapping[str, str]) -> None:
    """Append summary.md to the step summary, add the result to the step outputs and annotate
    each failing grader. Files that GitHub did not name are skipped."""
    summary_file = environ.get("GITHUB_STEP_SUMMARY", "")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write(outcome.markdown + "\n")
    output_file = environ.get("GITHUB_OUTPUT", "")
    if output_file:
        with open(output_file, "a", encoding="utf-8") as handle:
            for key in REPORT_OUTPUTS:
                handle.write(f"{key}={_single_line(outcome.summary[key])}\n")
    for line in annotation_lines(outcome.summary):
        sys.stderr.write(line + "\n")


def shell_commands(text: str) -> list[str]:
    """Every shell line of the workflow's `run` steps, in order."""
    import yaml

    jobs = yaml.safe_load(text)["jobs"].values()
    return command_lines(step["run"] for job in jobs for step in job["steps"] if "run" in step)


PROVIDER = CIProvider(
    name="github",
    template_path=TEMPLATE_PATH,
    render=render,
    description="GitHub Actions workflow (.github/workflows/gait-regress.yml)",
    test_report="job summary, error annotations and the gait-regress artifact",
    active=active,
    report=report,
    shell_commands=shell_commands,
    schema="vendor.github-workflows",
)
