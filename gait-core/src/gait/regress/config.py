"""The regress files: the suite config (`gait.yaml`) and each fixture's `fixture.json`.

Both are written as the reference writes them: indented JSON (which is also valid YAML), mode
0600, atomically. The reference reads the config with a JSON decoder only; we read JSON the same
way and, when a file is not JSON, accept YAML with the same structure.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import attrs
import yaml

from gait import strictjson
from gait.contracts import go_field, to_wire
from gait.errors import InvalidInputError
from gait.fsutil import write_atomic
from gait.gostrings import go_lower, go_trim_space
from gait.limits import MAX_RECORD_BYTES
from gait.regress import gojson, gopath
from gait.regress.trajectory import normalize_sequence, normalize_verdict_sequence

CONFIG_FILE_NAME = "gait.yaml"
FIXTURES_DIR_NAME = "fixtures"
FIXTURE_FILE_NAME = "fixture.json"
FIXTURE_RUNPACK_NAME = "runpack.zip"
CONFIG_SCHEMA_ID = "gait.regress.config"
FIXTURE_SCHEMA_ID = "gait.regress.fixture"
SCHEMA_VERSION = "1.0.0"
DEFAULT_FIXTURE_SET = "default"
FILE_MODE = 0o600
DIR_MODE = 0o750

_FIXTURE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")
_DIGEST = re.compile(r"[a-fA-F0-9]{64}\Z")
_CONTEXT_CONFORMANCE_MODES = ("", "required", "none")


@attrs.frozen(kw_only=True)
class FixtureMeta:
    """`fixture.json` (`gait.regress.fixture` 1.0.0), fields in the reference's order."""

    schema_id: str = FIXTURE_SCHEMA_ID
    schema_version: str = SCHEMA_VERSION
    name: str
    run_id: str
    runpack: str = FIXTURE_RUNPACK_NAME
    expected_replay_exit_code: int = 0
    expected_tool_sequence: tuple[str, ...] = go_field(omitempty=True, default=())
    expected_verdict_sequence: tuple[str, ...] = go_field(omitempty=True, default=())
    candidate_runpack: str = go_field(omitempty=True, default="")
    context_conformance: str = go_field(omitempty=True, default="")
    allow_context_runtime_drift: bool = go_field(omitempty=True, default=False)
    expected_context_set_digest: str = go_field(omitempty=True, default="")
    diff_allow_changed_files: tuple[str, ...] = go_field(omitempty=True, default=())
    session_chain: str = go_field(omitempty=True, default="")
    checkpoint_index: int = go_field(omitempty=True, default=0)


@attrs.frozen(kw_only=True)
class ConfigFixture:
    name: str
    run_id: str
    runpack: str


@attrs.frozen(kw_only=True)
class RegressConfig:
    """`gait.yaml` (`gait.regress.config` 1.0.0)."""

    schema_id: str = CONFIG_SCHEMA_ID
    schema_version: str = SCHEMA_VERSION
    fixture_set: str = DEFAULT_FIXTURE_SET
    fixtures: tuple[ConfigFixture, ...] = ()


_STRINGS = gojson.ListOf(str, "[]string")
_FIXTURE_META = gojson.Struct(
    "regress.fixtureMeta",
    {
        "schema_id": str,
        "schema_version": str,
        "name": str,
        "run_id": str,
        "runpack": str,
        "expected_replay_exit_code": int,
        "expected_tool_sequence": _STRINGS,
        "expected_verdict_sequence": _STRINGS,
        "candidate_runpack": str,
        "context_conformance": str,
        "allow_context_runtime_drift": bool,
        "expected_context_set_digest": str,
        "diff_allow_changed_files": _STRINGS,
        "session_chain": str,
        "checkpoint_index": int,
    },
)
_CONFIG_FIXTURE = gojson.Struct(
    "regress.configFixture", {"name": str, "run_id": str, "runpack": str}
)
_CONFIG = gojson.Struct(
    "regress.configFile",
    {
        "schema_id": str,
        "schema_version": str,
        "fixture_set": str,
        "fixtures": gojson.ListOf(_CONFIG_FIXTURE, "[]regress.configFixture"),
    },
)


def is_valid_fixture_name(name: str) -> bool:
    return _FIXTURE_NAME.match(name) is not None


def sanitize_fixture_name(run_id: str) -> str:
    """A fixture name from a run id: lower-cased, `[a-z0-9._-]` kept, every run of other
    characters one `-`, `-._` trimmed from both ends; `fixture` when nothing is left."""
    out: list[str] = []
    replaced = False  # a literal "-" does not absorb the next replacement, as in the reference
    for char in go_lower(run_id):
        if char.isascii() and (char.isalnum() or char in "._-"):
            out.append(char)
            replaced = False
        elif not replaced:
            out.append("-")
            replaced = True
    return "".join(out).strip("-._") or "fixture"


def fixture_meta_json(meta: FixtureMeta) -> bytes:
    return gojson.marshal_indent(to_wire(meta))


def config_json(config: RegressConfig) -> bytes:
    return gojson.marshal_indent(to_wire(config))


def _read_bytes(path: Path, what: str) -> bytes:
    from gait.fsutil import FileReadError, read_regular_file

    try:
        return read_regular_file(path, MAX_RECORD_BYTES, what=what)
    except FileReadError as exc:
        raise InvalidInputError(f"read {what}: {path}: {exc.reason}") from exc


def read_fixture_meta(path: Path) -> FixtureMeta:
    """Read and normalize a `fixture.json`; InvalidInputError says what is wrong with it."""
    data = _read_bytes(path, "fixture metadata")
    try:
        fields = gojson.decode_struct(strictjson.loads(data), _FIXTURE_META)
    except ValueError as exc:
        raise InvalidInputError(f"parse fixture metadata: {exc}") from exc
    shown = path.as_posix()
    if not fields["name"] or not fields["run_id"] or not fields["runpack"]:
        raise InvalidInputError(f"fixture metadata incomplete: {shown}")
    if fields["expected_replay_exit_code"] < 0:
        raise InvalidInputError(f"fixture expected_replay_exit_code must be >= 0: {shown}")
    if fields["checkpoint_index"] < 0:
        raise InvalidInputError(f"fixture checkpoint_index must be >= 0: {shown}")
    conformance = go_lower(go_trim_space(fields["context_conformance"]))
    if conformance not in _CONTEXT_CONFORMANCE_MODES:
        raise InvalidInputError(
            f"fixture context_conformance must be one of required|none: {shown}"
        )
    expected_digest = go_trim_space(fields["expected_context_set_digest"])
    if expected_digest and not _DIGEST.match(expected_digest):
        raise InvalidInputError(f"fixture expected_context_set_digest must be sha256 hex: {shown}")
    try:
        verdicts = normalize_verdict_sequence(fields["expected_verdict_sequence"])
    except ValueError as exc:
        raise InvalidInputError(
            f"fixture expected_verdict_sequence invalid: {exc} ({shown})"
        ) from exc
    return FixtureMeta(
        **{
            **fields,
            "context_conformance": conformance,
            "expected_context_set_digest": expected_digest,
            "expected_tool_sequence": tuple(normalize_sequence(fields["expected_tool_sequence"])),
            "expected_verdict_sequence": tuple(verdicts),
            "diff_allow_changed_files": tuple(fields["diff_allow_changed_files"]),
        }
    )


def _parse_config_document(data: bytes) -> Any:
    """JSON (read strictly: gait.strictjson), else YAML. A JSON document with ambiguous keys is
    refused, not read again as YAML (which would take the last of two keys)."""
    try:
        return strictjson.loads(data)
    except strictjson.AmbiguousKeyError:
        raise
    except ValueError as json_error:
        try:
            document = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            raise json_error from None
        if not isinstance(document, dict):
            # Plain text is a YAML string: report the JSON error, which says more.
            raise json_error from None
        return document


def read_config(path: str) -> RegressConfig:
    """Read `gait.yaml`: fixtures sorted by name, `fixture_set` defaulted, each fixture with a
    name and a runpack."""
    data = _read_bytes(Path(path), "config")
    try:
        fields = gojson.decode_struct(_parse_config_document(data), _CONFIG)
    except ValueError as exc:
        raise InvalidInputError(f"parse config: {exc}") from exc
    if fields["schema_id"] not in ("", CONFIG_SCHEMA_ID):
        raise InvalidInputError(f"unsupported config schema_id: {fields['schema_id']}")
    if fields["schema_version"] not in ("", SCHEMA_VERSION):
        raise InvalidInputError(f"unsupported config schema_version: {fields['schema_version']}")
    fixtures = sorted(
        (ConfigFixture(**entry) for entry in fields["fixtures"]), key=lambda f: f.name
    )
    for fixture in fixtures:
        if not go_trim_space(fixture.name):
            raise InvalidInputError("fixture name is required")
        if not go_trim_space(fixture.runpack):
            raise InvalidInputError(f"fixture runpack is required for {fixture.name}")
    return RegressConfig(
        schema_id=fields["schema_id"],
        schema_version=fields["schema_version"],
        fixture_set=fields["fixture_set"] or DEFAULT_FIXTURE_SET,
        fixtures=tuple(fixtures),
    )


def scan_fixtures(work_dir: Path) -> list[ConfigFixture]:
    """The config entries for `fixtures/*/`, sorted by name.

    Directories with an invalid name, or with neither fixture.json nor runpack.zip, belong to
    something else and are skipped; a runpack without metadata is an unfinished fixture.
    """
    root = work_dir / FIXTURES_DIR_NAME
    try:
        with os.scandir(root) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise InvalidInputError(f"list fixtures: {exc.strerror or exc}") from exc
    fixtures = []
    for entry in entries:
        name = entry.name
        if not entry.is_dir(follow_symlinks=False) or not is_valid_fixture_name(name):
            continue
        directory = root / name
        meta_path = directory / FIXTURE_FILE_NAME
        if not meta_path.exists():
            if (directory / FIXTURE_RUNPACK_NAME).exists():
                raise InvalidInputError(f"fixture metadata missing for {name}")
            continue
        meta = read_fixture_meta(meta_path)
        if meta.name != name:
            raise InvalidInputError(f"fixture metadata name mismatch for {name}")
        if gopath.base(meta.runpack) != meta.runpack:
            raise InvalidInputError(f"fixture runpack path must be a filename for {name}")
        if not (directory / meta.runpack).exists():
            raise InvalidInputError(f"fixture runpack missing for {name}")
        fixtures.append(
            ConfigFixture(
                name=meta.name,
                run_id=meta.run_id,
                runpack=gopath.join(FIXTURES_DIR_NAME, name, meta.runpack),
            )
        )
    return sorted(fixtures, key=lambda fixture: fixture.name)


def write_file(path: Path, data: bytes, what: str) -> None:
    """Atomic, mode 0600, like every file regress writes; a failure names `what`."""
    write_atomic(path, data, FILE_MODE, what=what)


def write_config(work_dir: Path) -> None:
    """Regenerate `gait.yaml` from the fixtures on disk (hand edits to it are not kept)."""
    config = RegressConfig(fixtures=tuple(scan_fixtures(work_dir)))
    write_file(work_dir / CONFIG_FILE_NAME, config_json(config), CONFIG_FILE_NAME)
