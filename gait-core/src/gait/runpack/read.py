"""Reading a runpack into records, after the same integrity checks as verification."""

from __future__ import annotations

from pathlib import Path

import attrs

from gait.contracts.runpack import (
    IntentRecord,
    RefsRecord,
    ResultRecord,
    RunpackManifest,
    RunRecord,
)
from gait.errors import InvalidInputError, VerificationError
from gait.runpack.jsonio import RecordFormatError, parse_record, read_jsonl
from gait.runpack.manifest import DATA_MEMBERS
from gait.runpack.refs import normalize_refs
from gait.runpack.verify import scan_runpack
from gait.runpack.zipio import open_runpack_archive

# The reference reads JSONL with a 10 MiB line buffer.
MAX_JSONL_LINE_BYTES = 10 * 1024 * 1024


@attrs.frozen
class Runpack:
    path: Path
    manifest: RunpackManifest
    run: RunRecord
    intents: tuple[IntentRecord, ...]
    results: tuple[ResultRecord, ...]
    refs: RefsRecord


def read_runpack(path: Path) -> Runpack:
    """Read and check a runpack (the reference's ReadRunpack).

    VerificationError when a declared member is missing, a hash or the manifest digest does not
    match, member names are duplicated or unsafe, or a member is damaged; InvalidInputError when
    the file is not a runpack zip or a record does not parse. Signatures are not checked here.
    Refs come back normalized; `required` context evidence without a context_set_digest is
    invalid input.
    """
    with open_runpack_archive(path) as archive:
        scan = scan_runpack(archive, keep=DATA_MEMBERS)
    if scan.missing_files:
        raise VerificationError("missing runpack files: " + ", ".join(scan.missing_files))
    if scan.hash_mismatches:
        paths = ", ".join(mismatch.path for mismatch in scan.hash_mismatches)
        raise VerificationError(f"runpack hash mismatch: {paths}")
    data = scan.kept
    try:
        run = parse_record(data["run.json"], RunRecord, what="run.json")
        intents = read_jsonl(
            data["intents.jsonl"],
            IntentRecord,
            what="intents.jsonl",
            max_line_bytes=MAX_JSONL_LINE_BYTES,
        )
        results = read_jsonl(
            data["results.jsonl"],
            ResultRecord,
            what="results.jsonl",
            max_line_bytes=MAX_JSONL_LINE_BYTES,
        )
        refs = parse_record(data["refs.json"], RefsRecord, what="refs.json")
    except RecordFormatError as exc:
        raise InvalidInputError(f"parse runpack {path}: {exc}") from exc
    refs = normalize_refs(refs)
    if refs.context_evidence_mode == "required" and not refs.context_set_digest:
        raise InvalidInputError(
            "refs context_evidence_mode is required but context_set_digest is missing"
        )
    return Runpack(
        path=path,
        manifest=scan.parsed.manifest,
        run=run,
        intents=tuple(intents),
        results=tuple(results),
        refs=refs,
    )
