"""`gait ci regress`: the one CI contract, the same in every runner and on a laptop.

1. When asked (`fixture`) and the suite config does not exist yet, create the fixture: from a
   runpack path or run id as `gait regress init --from` takes it, or from the built-in demo run
   (`demo`, recorded first into ./gait-out as `gait demo` does).
2. Run the regressions of the config.
3. Write every artifact under `gait-out/ci/`: `regress_result.json` (the regress result file),
   `junit.xml`, `summary.json` and `summary.md`. Stale artifacts of an earlier run are removed
   first, so the directory only ever holds one run's files.

The exit code is 0 (pass), 5 (a regression) or the exit code of the error that kept the suite
from running (6 for a broken suite, 2 for a baseline that fails verification, ...). Nothing the
artifacts hold depends on the environment (no clock, no absolute path, no CI variable).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import attrs

from gait.ci.artifacts import (
    ARTIFACT_DIR,
    ARTIFACT_FILES,
    JUNIT_FILE,
    RESULT_FILE,
    SUMMARY_JSON_FILE,
    SUMMARY_MARKDOWN_FILE,
    ContractOptions,
    artifact_path,
)
from gait.errors import ExitCode, GaitError, InvalidInputError
from gait.regress.config import CONFIG_FILE_NAME, write_file

DEMO_FIXTURE = "demo"


@attrs.frozen(kw_only=True)
class ContractOutcome:
    """What the contract wrote: `summary` is summary.json's content, `markdown` summary.md's."""

    exit_code: int
    summary: dict[str, Any]
    markdown: str
    error: GaitError | None = None

    @property
    def status(self) -> str:
        return str(self.summary["status"])

    @property
    def passed(self) -> bool:
        return self.exit_code == ExitCode.OK


def _clear_stale_artifacts(directory: Path) -> None:
    for name in ARTIFACT_FILES:
        # A file that cannot be removed is replaced by this run's, or its write fails loudly.
        with contextlib.suppress(OSError):
            (directory / name).unlink()


def _ensure_fixture(options: ContractOptions) -> str:
    """Create the fixture when asked and the config is missing; the created fixture's name."""
    if not options.fixture or Path(options.config).exists():
        return ""
    if options.config != CONFIG_FILE_NAME:
        raise InvalidInputError(
            f"--fixture writes {CONFIG_FILE_NAME}, so it cannot create the missing config "
            f"{options.config}"
        )
    from gait.regress import init_fixture, resolve_source

    if options.fixture == DEMO_FIXTURE:
        from gait.runpack import record_run
        from gait.runpack.demo import demo_record_input
        from gait.runpack.paths import DEFAULT_OUT_DIR

        source = record_run(
            demo_record_input(options.producer_version),
            capture_mode="reference",
            signing_key=None,
            out_dir=DEFAULT_OUT_DIR,
        ).path
    else:
        source = resolve_source(options.fixture)
    return init_fixture(source).fixture_name


def run_contract(options: ContractOptions) -> ContractOutcome:
    """Run the contract in the current directory. A suite that cannot run is an outcome with
    `error` set (its summary says why), not an exception; only failing to write the summary
    itself raises GaitError."""
    from gait.ci import summary
    from gait.regress import RunOptions, run_regress

    directory = Path(ARTIFACT_DIR)
    _clear_stale_artifacts(directory)
    created = ""
    error: GaitError | None = None
    try:
        created = _ensure_fixture(options)
        run = run_regress(
            RunOptions(
                config_path=options.config,
                output_path=artifact_path(RESULT_FILE),
                junit_path=artifact_path(JUNIT_FILE),
                producer_version=options.producer_version,
            )
        )
        document = summary.from_run(run, options, created)
    except GaitError as exc:
        error = exc
        document = summary.from_error(exc, options, created)
    markdown = summary.markdown(document)
    write_file(directory / SUMMARY_JSON_FILE, summary.to_json(document), "ci summary")
    write_file(directory / SUMMARY_MARKDOWN_FILE, markdown.encode("utf-8"), "ci summary")
    return ContractOutcome(
        exit_code=int(document["exit_code"]), summary=document, markdown=markdown, error=error
    )
