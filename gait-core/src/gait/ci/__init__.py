"""The CI lane: one contract for every runner, and CI provider templates from plugins.

    from gait.ci import ContractOptions, run_contract
    outcome = run_contract(ContractOptions(fixture="demo"))   # writes gait-out/ci/*
    outcome.exit_code, outcome.summary["top_failure_reason"]

`run_contract` is `gait ci regress`: create the fixture when asked, run the regressions, write
every artifact under `gait-out/ci/` (regress_result.json, junit.xml, summary.md, summary.json)
and answer 0, 5 or the error's exit code. The artifacts depend only on the fixtures and the gait
version, never on the environment, so a run on a laptop and a run in CI write the same bytes.

CI providers (GitHub, GitLab, Jenkins, CircleCI, ...) come from plugins: `registry.add_ci_provider`
in a `gait_register` hook, whose factory returns a `CIProvider` (see `gait.ci.providers`).
"""

from __future__ import annotations

from gait.ci.artifacts import (
    ARTIFACT_DIR,
    ARTIFACT_FILES,
    JUNIT_FILE,
    RESULT_FILE,
    SUMMARY_JSON_FILE,
    SUMMARY_MARKDOWN_FILE,
    ContractOptions,
    contract_command,
)
from gait.ci.contract import DEMO_FIXTURE, ContractOutcome, run_contract
from gait.ci.providers import (
    PROVIDER_BRIDGE_PREFIX,
    CIProvider,
    TemplateOptions,
    command_lines,
    installed_providers,
)

__all__ = [
    "ARTIFACT_DIR",
    "ARTIFACT_FILES",
    "DEMO_FIXTURE",
    "JUNIT_FILE",
    "PROVIDER_BRIDGE_PREFIX",
    "RESULT_FILE",
    "SUMMARY_JSON_FILE",
    "SUMMARY_MARKDOWN_FILE",
    "CIProvider",
    "ContractOptions",
    "ContractOutcome",
    "TemplateOptions",
    "command_lines",
    "contract_command",
    "installed_providers",
    "run_contract",
]
