"""The CI contract's artifacts and options: where a run writes (`gait-out/ci/`), the artifact
file names, what a run is asked to do (`ContractOptions`) and the command line that repeats it.

`gait.ci.contract` (the run) and `gait.ci.summary` (what it found) both build on this module.
"""

from __future__ import annotations

import attrs

from gait import __version__
from gait.regress.config import CONFIG_FILE_NAME

ARTIFACT_DIR = "gait-out/ci"
RESULT_FILE = "regress_result.json"
JUNIT_FILE = "junit.xml"
SUMMARY_MARKDOWN_FILE = "summary.md"
SUMMARY_JSON_FILE = "summary.json"
ARTIFACT_FILES = (RESULT_FILE, JUNIT_FILE, SUMMARY_MARKDOWN_FILE, SUMMARY_JSON_FILE)


def artifact_path(name: str) -> str:
    """An artifact's path relative to the work directory, with `/` separators."""
    return f"{ARTIFACT_DIR}/{name}"


@attrs.frozen(kw_only=True)
class ContractOptions:
    """`config` is the suite file; `fixture` is what to create the fixture from when the config
    does not exist (empty: never create one); `producer_version` goes into the artifacts and
    into the demo run, so the CLI passes its own version."""

    config: str = CONFIG_FILE_NAME
    fixture: str = ""
    producer_version: str = __version__


def contract_command(config: str = CONFIG_FILE_NAME, fixture: str = "") -> str:
    """The command line that repeats a contract run (shown as `next_command`)."""
    parts = ["gait", "ci", "regress"]
    if config != CONFIG_FILE_NAME:
        parts += ["--config", config]
    if fixture:
        parts += ["--fixture", fixture]
    return " ".join(parts)
