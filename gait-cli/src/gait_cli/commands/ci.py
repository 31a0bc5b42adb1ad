"""`gait ci regress|init|providers`: the regression gate in any CI runner.

`regress` is the one contract every CI template runs (see `gait.ci.contract`). `init` writes a
CI provider's template; the providers come from plugins (`gait-plugin-github`, `-gitlab`,
`-jenkins`, `-circleci`, or any plugin that registers one with `registry.add_ci_provider`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from gait.ci import (
    ARTIFACT_DIR,
    DEMO_FIXTURE,
    CIProvider,
    ContractOptions,
    ContractOutcome,
    TemplateOptions,
    installed_providers,
    run_contract,
)
from gait.errors import InvalidInputError
from gait.fsutil import write_atomic
from gait.regress.config import CONFIG_FILE_NAME
from gait_cli import __version__
from gait_cli.app import cli
from gait_cli.context import plugin_host
from gait_cli.output import Report, gait_command

TEMPLATE_MODE = 0o644  # a CI template is committed and read by everyone, not a secret


@cli.group("ci")
def ci() -> None:
    """Run the regression gate in any CI runner; write CI templates."""


def _providers() -> dict[str, CIProvider]:
    providers, problems = installed_providers(plugin_host(click.get_current_context()))
    for problem in problems:
        click.echo(f"gait ci: warning: {problem}", err=True)
    return providers


def _report(outcome: ContractOutcome) -> None:
    """Hand the finished run to the providers of the CI system we run in (step summaries,
    annotations). A failing report is a warning: it never changes an artifact or the exit."""
    environ = dict(os.environ)
    for provider in _providers().values():
        if provider.report is None or provider.active is None:
            continue
        try:
            if provider.active(environ):
                provider.report(outcome, environ)
        except Exception as exc:
            click.echo(f"gait ci: warning: {provider.name} report failed: {exc}", err=True)
    sys.stderr.flush()


def _text(outcome: ContractOutcome) -> list[str]:
    summary = outcome.summary
    lines = []
    if summary["fixture_created"]:
        lines.append(f"fixture created: {summary['fixture_created']} (from {summary['fixture']})")
    if summary["status"] == "pass":
        lines.append(
            f"ci regress ok: fixture_set={summary['fixture_set']} graders={summary['graders']}"
        )
    elif summary["status"] == "fail":
        lines.append(
            f"ci regress failed: fixture_set={summary['fixture_set']} failed={summary['failed']}"
        )
        lines.extend(
            f"failed: {grader['name']} {','.join(grader['reason_codes'])}"
            for grader in summary["failed_graders"]
        )
        lines.append(f"top_failure_reason: {summary['top_failure_reason']}")
    else:
        lines += [f"ci regress error: {summary['error']}", f"hint: {summary['hint']}"]
    if summary["next_command"]:
        lines.append(f"next: {summary['next_command']}")
    lines.append(f"artifacts: {ARTIFACT_DIR}/ (" + ", ".join(summary["artifacts"]) + ")")
    return lines


@gait_command(
    ci,
    "regress",
    exit_codes=(0, 1, 2, 5, 6),
    help=(
        "The CI contract: create the fixture when asked, run the regressions and write every "
        f"artifact under {ARTIFACT_DIR}/ (regress_result.json, junit.xml, summary.md, "
        "summary.json). The files are the same locally and in CI. Exit 0 pass, 5 regression, "
        "else the code of the error that kept the suite from running."
    ),
)
@click.option("--config", default=CONFIG_FILE_NAME, show_default=True, help="Suite config.")
@click.option(
    "--fixture",
    default="",
    help=(
        "When the config does not exist yet, create the fixture from this run first: a runpack "
        f"path or run id, or `{DEMO_FIXTURE}` for the built-in demo run."
    ),
)
def regress(config: str, fixture: str) -> Report:
    outcome = run_contract(
        ContractOptions(config=config, fixture=fixture, producer_version=__version__)
    )
    _report(outcome)
    payload = dict(outcome.summary)
    if not payload["error"]:
        for key in ("error", "error_code", "hint"):
            payload.pop(key)
    return Report(
        payload=payload, text=_text(outcome), exit_code=outcome.exit_code, ok=outcome.passed
    )


def _provider(name: str) -> CIProvider:
    providers = _providers()
    if not name:
        raise InvalidInputError(
            "missing required --provider <name>"
            + (f" (installed: {', '.join(providers)})" if providers else "")
        )
    if name not in providers:
        installed = ", ".join(providers) or "none"
        raise InvalidInputError(
            f"unknown CI provider {name!r} (installed: {installed}); providers come from "
            f"plugins: pip install gait-plugin-{name}"
        )
    return providers[name]


@gait_command(
    ci,
    "init",
    exit_codes=(0, 1, 6),
    help=(
        "Write a CI provider's template (for example .gitlab-ci.yml): it installs the pinned "
        "gait-cli, runs `gait ci regress` and wires junit.xml into the provider's test "
        "reports. Providers come from plugins; `gait ci providers` lists them."
    ),
)
@click.option("--provider", default="", help="The CI provider (see `gait ci providers`).")
@click.option("--output", default="", help="Where to write it (default: the provider's path).")
@click.option("--gait-version", default=__version__, show_default=True, help="The gait-cli to pin.")
@click.option("--config", default=CONFIG_FILE_NAME, show_default=True, help="Suite config.")
@click.option(
    "--fixture",
    default=DEMO_FIXTURE,
    show_default=True,
    help="What the contract creates the fixture from while the config is missing ('' never).",
)
@click.option(
    "--package",
    "packages",
    multiple=True,
    help="Another package to install beside gait-cli, e.g. a plugin (repeatable).",
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
def init(
    provider: str,
    output: str,
    gait_version: str,
    config: str,
    fixture: str,
    packages: tuple[str, ...],
    force: bool,
) -> Report:
    chosen = _provider(provider.strip())
    options = TemplateOptions(
        gait_version=gait_version, config=config, fixture=fixture, packages=packages
    )
    path = Path(output or chosen.template_path)
    if path.exists() and not force:
        raise InvalidInputError(f"{path} exists; pass --force to replace it")
    write_atomic(path, chosen.render(options).encode("utf-8"), TEMPLATE_MODE, what="CI template")
    local = options.contract_command()
    return Report(
        payload={
            "provider": chosen.name,
            "path": str(path),
            "gait_version": gait_version,
            "contract": local,
            "next_commands": [local, f"git add {path}"],
        },
        text=[
            f"ci init ok: provider={chosen.name} path={path}",
            f"contract: {local} (run it here first: the same files as in CI)",
            f"next: git add {path}",
        ],
    )


@gait_command(ci, "providers", exit_codes=(0,), help="List the CI providers of installed plugins.")
def providers() -> Report:
    found = _providers()
    listed = [
        {
            "name": p.name,
            "path": p.template_path,
            "test_report": p.test_report,
            "description": p.description,
        }
        for p in found.values()
    ]
    text = [f"{p.name}\t{p.template_path}\t{p.description}" for p in found.values()] or [
        "no CI providers installed (pip install gait-plugin-github, -gitlab, -jenkins, -circleci)"
    ]
    return Report(payload={"providers": listed}, text=text)
