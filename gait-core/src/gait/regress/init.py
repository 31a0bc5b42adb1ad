"""`regress init`: turn a recorded runpack into a fixture.

Writes `fixtures/<name>/runpack.zip` (a byte copy of the source), `fixtures/<name>/fixture.json`
(the expectations: replay exit 0, the tool and verdict sequences of the run, context evidence
when the run has a context set) and regenerates `gait.yaml` from every fixture on disk.
Re-running it for the same name replaces both fixture files, hand edits included.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from gait.errors import GaitError, InvalidInputError
from gait.fsutil import writing
from gait.gostrings import go_trim_space
from gait.regress import gopath
from gait.regress.config import (
    CONFIG_FILE_NAME,
    DIR_MODE,
    FIXTURE_FILE_NAME,
    FIXTURE_RUNPACK_NAME,
    FIXTURES_DIR_NAME,
    FixtureMeta,
    fixture_meta_json,
    is_valid_fixture_name,
    sanitize_fixture_name,
    write_config,
    write_file,
)
from gait.regress.trajectory import tool_sequence, verdict_sequence
from gait.runpack import read_runpack, resolve_runpack, verify_runpack

NEXT_COMMANDS = ("gait regress run --json",)


@attrs.frozen(kw_only=True)
class InitResult:
    """What init wrote; paths are relative to the work directory, with `/` separators."""

    run_id: str
    fixture_name: str
    fixture_dir: str
    runpack_path: str
    config_path: str = CONFIG_FILE_NAME
    next_commands: tuple[str, ...] = NEXT_COMMANDS


def resolve_source(value: str) -> Path:
    """The runpack a `--from` value names: a path, or a run id looked up as `gait verify`
    does. Session chains (`.json`) are not supported."""
    path = resolve_runpack(value)
    if path.name.lower().endswith(".json"):
        raise InvalidInputError(f"regress init from a session chain is not supported: {path}")
    return path


def _expectations(source: Path, meta: FixtureMeta) -> FixtureMeta:
    try:
        pack = read_runpack(source)
    except GaitError:
        # The source passed verification; a record the reader rejects only costs the
        # expectations, as in the reference.
        return meta
    context_set_digest = go_trim_space(pack.refs.context_set_digest)
    return attrs.evolve(
        meta,
        expected_tool_sequence=tuple(tool_sequence(pack)),
        expected_verdict_sequence=tuple(verdict_sequence(pack)),
        context_conformance="required" if context_set_digest else "",
        expected_context_set_digest=context_set_digest,
    )


def init_fixture(source: Path, *, name: str = "", work_dir: Path = Path()) -> InitResult:
    """Create or replace the fixture for the runpack at `source` under `work_dir`."""
    try:
        verified = verify_runpack(source, public_key=None, require_signature=False)
    except GaitError as exc:
        raise GaitError(f"verify source runpack: {exc}", category=exc.category) from exc
    if verified.missing_files or verified.hash_mismatches:
        raise InvalidInputError("source runpack failed integrity checks")
    if not verified.run_id:
        raise InvalidInputError("source runpack missing run_id")
    fixture_name = name or sanitize_fixture_name(verified.run_id)
    if not is_valid_fixture_name(fixture_name):
        raise InvalidInputError(f"invalid fixture name: {fixture_name}")

    fixture_dir = work_dir / FIXTURES_DIR_NAME / fixture_name
    with writing(fixture_dir, "fixture directory"):
        fixture_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    try:
        content = source.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"read source runpack: {exc.strerror or exc}") from exc
    write_file(fixture_dir / FIXTURE_RUNPACK_NAME, content, "fixture runpack")
    meta = _expectations(source, FixtureMeta(name=fixture_name, run_id=verified.run_id))
    write_file(fixture_dir / FIXTURE_FILE_NAME, fixture_meta_json(meta), "fixture metadata")
    write_config(work_dir)
    return InitResult(
        run_id=verified.run_id,
        fixture_name=fixture_name,
        fixture_dir=gopath.join(FIXTURES_DIR_NAME, fixture_name),
        runpack_path=gopath.join(FIXTURES_DIR_NAME, fixture_name, FIXTURE_RUNPACK_NAME),
    )
