"""Recording a run as a runpack: defaults, digest normalization, capture mode, manifest, zip.

The steps and their order are the reference's RecordRun (runpack_regress_ci.md section 1.3):
identical input gives identical member bytes, hence the same manifest digest, in both.
"""

from __future__ import annotations

import platform
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import rfc8785

from gait.canonical import canonical_json, digest, sha256_hex
from gait.contracts.runpack import (
    IntentRecord,
    ManifestFile,
    Receipt,
    RefsRecord,
    ResultRecord,
    RunEnv,
    RunpackManifest,
    RunRecord,
)
from gait.contracts.wire import to_wire
from gait.errors import InvalidInputError
from gait.keys import SigningKey
from gait.runpack.jsonio import RecordFormatError, go_json_value, structure_input
from gait.runpack.manifest import manifest_digest, sign_manifest
from gait.runpack.refs import GO_ZERO_TIME, normalize_evidence_mode, normalize_refs
from gait.runpack.zipio import write_runpack_zip
from gait.timefmt import GoTime

CAPTURE_MODES = ("reference", "raw")
DEFAULT_PRODUCER_VERSION = "0.0.0-dev"
RAW_CAPTURE_WARNING = (
    "raw capture retains raw intent arguments and raw result payloads; handle runpack as "
    "sensitive evidence"
)
REFERENCE_STRIPPED_WARNING = (
    "reference capture stripped raw intent arguments and raw result payloads after digesting"
)
# run_id names the output file, so it must be one safe file-name component.
_SAFE_RUN_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_INPUT_KEYS = {"run", "intents", "results", "refs", "capture_mode", "normalization"}
_NORMALIZATION_KEYS = {"intent_args", "result_payloads"}
# Go's runtime.GOOS/GOARCH names, which the reference writes into run.env.
_GO_OS = {"linux": "linux", "darwin": "darwin", "win32": "windows", "cygwin": "windows"}
_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def ticket_footer(run_id: str, manifest_digest_hex: str) -> str:
    """The one-line receipt the reference prints for tickets and CI logs."""
    verify = f'verify="gait verify {run_id}"'
    return f"GAIT run_id={run_id} manifest=sha256:{manifest_digest_hex} {verify}"


def _payloads(value: Any, what: str) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{what} must be an object of intent_id to object")
    payloads = {}
    for intent_id, payload in value.items():
        if not isinstance(payload, Mapping):
            raise InvalidInputError(f"{what}[{intent_id}] must be a JSON object")
        payloads[str(intent_id)] = go_json_value(payload)
    return payloads


def _records(value: Any, cls: type[Any], what: str) -> tuple[Any, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise InvalidInputError(f"{what} must be a list")
    return tuple(_structure(item, cls, f"{what}[{index}]") for index, item in enumerate(value))


def _structure(value: Any, cls: type[Any], what: str) -> Any:
    try:
        return structure_input({} if value is None else value, cls, what=what)
    except RecordFormatError as exc:
        raise InvalidInputError(str(exc)) from exc


@attrs.frozen(kw_only=True)
class RecordInput:
    """What `gait run record --input` reads: records that may leave defaulted fields out, the
    capture mode, and raw payloads whose digests the records must carry (`normalization`)."""

    run: RunRecord
    intents: tuple[IntentRecord, ...] = ()
    results: tuple[ResultRecord, ...] = ()
    refs: RefsRecord
    capture_mode: str = ""
    intent_args: Mapping[str, dict[str, Any]] = attrs.field(factory=dict)
    result_payloads: Mapping[str, dict[str, Any]] = attrs.field(factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordInput:
        """Read the input object; absent fields take their zero value, unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise InvalidInputError("run record input must be a JSON object")
        unknown = sorted(set(data) - _INPUT_KEYS)
        if unknown:
            raise InvalidInputError(f"run record input has unknown field(s) {', '.join(unknown)}")
        normalization = data.get("normalization") or {}
        if not isinstance(normalization, Mapping):
            raise InvalidInputError("normalization must be an object")
        unknown = sorted(set(normalization) - _NORMALIZATION_KEYS)
        if unknown:
            raise InvalidInputError(f"normalization has unknown field(s) {', '.join(unknown)}")
        capture_mode = data.get("capture_mode") or ""
        if not isinstance(capture_mode, str):
            raise InvalidInputError("capture_mode must be a string")
        return cls(
            run=_structure(data.get("run"), RunRecord, "run"),
            intents=_records(data.get("intents"), IntentRecord, "intents"),
            results=_records(data.get("results"), ResultRecord, "results"),
            refs=_structure(data.get("refs"), RefsRecord, "refs"),
            capture_mode=capture_mode,
            intent_args=_payloads(normalization.get("intent_args"), "normalization.intent_args"),
            result_payloads=_payloads(
                normalization.get("result_payloads"), "normalization.result_payloads"
            ),
        )

    def with_run_id(self, run_id: str) -> RecordInput:
        """`--run-id`: the same run under another id, in every record."""
        return attrs.evolve(
            self,
            run=attrs.evolve(self.run, run_id=run_id),
            intents=tuple(attrs.evolve(i, run_id=run_id) for i in self.intents),
            results=tuple(attrs.evolve(r, run_id=run_id) for r in self.results),
            refs=attrs.evolve(self.refs, run_id=run_id),
        )


def apply_context_policy(
    source: RecordInput, *, evidence_mode: str, allow_raw_context: bool
) -> RecordInput:
    """The CLI's context rules: an evidence mode always set (default best_effort), receipts with
    raw redaction refused unless allowed, and `required` only with a context_set_digest."""
    mode = normalize_evidence_mode(evidence_mode.strip() or source.refs.context_evidence_mode)
    mode = mode or "best_effort"
    receipts = source.refs.receipts
    if not allow_raw_context and any(r.redaction_mode.strip().lower() == "raw" for r in receipts):
        raise InvalidInputError(
            "refs receipts include redaction_mode=raw; re-run with --unsafe-context-raw to allow "
            "unsafe context capture"
        )
    if mode == "required" and not source.refs.context_set_digest.strip():
        raise InvalidInputError("context evidence mode required but context_set_digest is missing")
    return attrs.evolve(source, refs=attrs.evolve(source.refs, context_evidence_mode=mode))


def _payload_digest(value: Any, what: str) -> str:
    try:
        return digest(go_json_value(value))
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, ValueError) as exc:
        raise InvalidInputError(f"{what}: cannot canonicalize: {exc}") from exc


def _same_hex(left: str, right: str) -> bool:
    return left.lower() == right.lower()


def _run_defaults(run: RunRecord) -> RunRecord:
    env = run.env
    return attrs.evolve(
        run,
        schema_id=run.schema_id or "gait.runpack.run",
        schema_version=run.schema_version or "1.0.0",
        created_at=GoTime.now() if run.created_at == GO_ZERO_TIME else run.created_at,
        producer_version=run.producer_version or DEFAULT_PRODUCER_VERSION,
        env=RunEnv(
            os=env.os or _GO_OS.get(sys.platform, sys.platform),
            arch=env.arch or _GO_ARCH.get(platform.machine().lower(), platform.machine().lower()),
            runtime=env.runtime or "python",
        ),
        timeline=run.timeline or (),
    )


def _inherit(record: Any, run: RunRecord, schema_id: str) -> Any:
    """Schema, time, producer and run id from the run where the record leaves them empty."""
    return attrs.evolve(
        record,
        schema_id=record.schema_id or schema_id,
        schema_version=record.schema_version or "1.0.0",
        created_at=run.created_at if record.created_at == GO_ZERO_TIME else record.created_at,
        producer_version=record.producer_version or run.producer_version,
        run_id=record.run_id or run.run_id,
    )


def _normalize_intent(intent: IntentRecord, intent_args: Mapping[str, Any]) -> IntentRecord:
    intent_id = intent.intent_id
    args, args_digest = _payload_and_digest(
        intent.args,
        intent.args_digest,
        intent_args.get(intent_id, _ABSENT),
        what=f"intent {intent_id} args digest",
        missing=f"intent {intent_id} requires args_digest or normalization.intent_args",
    )
    return attrs.evolve(intent, args=args, args_digest=args_digest)


def _normalize_result(result: ResultRecord, payloads: Mapping[str, Any]) -> ResultRecord:
    intent_id = result.intent_id
    payload, result_digest = _payload_and_digest(
        result.result,
        result.result_digest,
        payloads.get(intent_id, _ABSENT),
        what=f"result {intent_id} digest",
        missing=f"result {intent_id} requires result_digest or normalization.result_payloads",
    )
    return attrs.evolve(result, result=payload, result_digest=result_digest)


_ABSENT: Any = object()


def _payload_and_digest(
    value: Any, digest: str, supplied: Any, *, what: str, missing: str
) -> tuple[Any, str]:
    """A record's payload in its JSON form and its digest: the digest of the payload supplied
    beside the records when there is one (checked against the record's own digest), else the
    record's digest, else the digest of its payload."""
    payload = None if value is None else go_json_value(value)
    if supplied is not _ABSENT:
        expected = _payload_digest(supplied, what)
        if digest and not _same_hex(digest, expected):
            raise InvalidInputError(f"{what} mismatch")
        return payload, digest or expected
    if digest:
        return payload, digest
    if payload is None:
        raise InvalidInputError(missing)
    return payload, _payload_digest(payload, what)


def _normalize_receipt(
    receipt: Receipt,
    intents: Mapping[str, IntentRecord],
    results: Mapping[str, ResultRecord],
) -> Receipt:
    """Receipts of gait traces (`trace_<intent_id>`) take their digests from that intent and
    its result; every other receipt must carry both digests."""
    ref_id = receipt.ref_id.strip()
    if receipt.source_type.strip().lower() != "gait.trace" or not ref_id.startswith("trace_"):
        if not receipt.query_digest:
            raise InvalidInputError(f"receipt {receipt.ref_id} requires query_digest")
        if not receipt.content_digest:
            raise InvalidInputError(f"receipt {receipt.ref_id} requires content_digest")
        return receipt
    intent_id = ref_id.removeprefix("trace_")
    intent = intents.get(intent_id)
    if intent is None:
        raise InvalidInputError(f"receipt {receipt.ref_id} references unknown intent {intent_id}")
    query_digest = digest({"tool_name": intent.tool_name, "args_digest": intent.args_digest})
    if receipt.query_digest and not _same_hex(receipt.query_digest, query_digest):
        raise InvalidInputError(f"receipt {receipt.ref_id} query digest mismatch")
    result = results.get(intent_id)
    if result is None:
        raise InvalidInputError(
            f"receipt {receipt.ref_id} references unknown result for intent {intent_id}"
        )
    if not result.result_digest:
        raise InvalidInputError(f"receipt {receipt.ref_id} content digest cannot be derived")
    if receipt.content_digest and not _same_hex(receipt.content_digest, result.result_digest):
        raise InvalidInputError(f"receipt {receipt.ref_id} content digest mismatch")
    return attrs.evolve(
        receipt,
        query_digest=receipt.query_digest or query_digest,
        content_digest=receipt.content_digest or result.result_digest,
    )


def _jsonl(records: tuple[Any, ...]) -> bytes:
    return b"".join(canonical_json(to_wire(record)) + b"\n" for record in records)


@attrs.frozen
class BuiltRunpack:
    """A runpack in memory: the zip members, the final manifest and the capture warnings."""

    members: dict[str, bytes]
    manifest: RunpackManifest
    warnings: tuple[str, ...]


def build_runpack(
    source: RecordInput, *, capture_mode: str, signing_key: SigningKey | None
) -> BuiltRunpack:
    """The members of the runpack for `source` (no file is written)."""
    if not source.run.run_id:
        raise InvalidInputError("run_id is required")
    if not _SAFE_RUN_ID.match(source.run.run_id) or set(source.run.run_id) == {"."}:
        raise InvalidInputError(
            "run_id must use only letters, digits, '_', '-' and '.' (it names the runpack file)"
        )
    if capture_mode not in CAPTURE_MODES:
        raise InvalidInputError("capture mode must be one of: reference, raw")
    run = _run_defaults(source.run)
    intents = tuple(
        _normalize_intent(_inherit(i, run, "gait.runpack.intent"), source.intent_args)
        for i in source.intents
    )
    results = tuple(
        _normalize_result(_inherit(r, run, "gait.runpack.result"), source.result_payloads)
        for r in source.results
    )
    intents_by_id = {intent.intent_id: intent for intent in intents}
    results_by_id = {result.intent_id: result for result in results}
    refs = _inherit(source.refs, run, "gait.runpack.refs")
    refs = attrs.evolve(
        refs,
        receipts=tuple(_normalize_receipt(r, intents_by_id, results_by_id) for r in refs.receipts),
    )
    refs = normalize_refs(refs)
    had_payloads = any(i.args is not None for i in intents) or any(
        r.result is not None for r in results
    )
    warnings: tuple[str, ...] = ()
    if capture_mode == "reference":
        intents = tuple(attrs.evolve(i, args=None) for i in intents)
        results = tuple(attrs.evolve(r, result=None) for r in results)
        warnings = (REFERENCE_STRIPPED_WARNING,) if had_payloads else ()
    else:
        warnings = (RAW_CAPTURE_WARNING,)
    try:
        data = {
            "intents.jsonl": _jsonl(intents),
            "refs.json": canonical_json(to_wire(refs)),
            "results.jsonl": _jsonl(results),
            "run.json": canonical_json(to_wire(run)),
        }
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, ValueError) as exc:
        raise InvalidInputError(f"records cannot be canonicalized: {exc}") from exc
    manifest = RunpackManifest(
        created_at=run.created_at,
        producer_version=run.producer_version,
        run_id=run.run_id,
        capture_mode=capture_mode,
        files=tuple(ManifestFile(path=name, sha256=sha256_hex(data[name])) for name in data),
        manifest_digest="",
    )
    manifest = attrs.evolve(manifest, manifest_digest=manifest_digest(manifest))
    if signing_key is not None:
        manifest = sign_manifest(manifest, signing_key)
    members = {**data, "manifest.json": canonical_json(to_wire(manifest))}
    return BuiltRunpack(members=members, manifest=manifest, warnings=warnings)


@attrs.frozen
class RecordedRunpack:
    path: Path
    manifest: RunpackManifest
    warnings: tuple[str, ...]

    @property
    def run_id(self) -> str:
        return self.manifest.run_id

    @property
    def manifest_digest(self) -> str:
        return self.manifest.manifest_digest

    @property
    def signature_key_id(self) -> str:
        return self.manifest.signatures[0].key_id if self.manifest.signatures else ""

    @property
    def ticket_footer(self) -> str:
        return ticket_footer(self.run_id, self.manifest_digest)


def record_run(
    input: RecordInput | Mapping[str, Any],
    *,
    capture_mode: str,
    signing_key: SigningKey | None,
    out_dir: Path,
    run_id_override: str = "",
) -> RecordedRunpack:
    """Record a run as `<out_dir>/runpack_<run_id>.zip` (written atomically, mode 0600).

    `capture_mode` wins over the input's (empty: the input's, else `reference`); in reference
    mode raw args and results are dropped after their digests are taken.
    """
    source = input if isinstance(input, RecordInput) else RecordInput.from_json(input)
    if run_id_override.strip():
        source = source.with_run_id(run_id_override.strip())
    mode = capture_mode.strip() or source.capture_mode.strip() or "reference"
    built = build_runpack(source, capture_mode=mode, signing_key=signing_key)
    path = out_dir / f"runpack_{built.manifest.run_id}.zip"
    write_runpack_zip(path, built.members)
    return RecordedRunpack(path=path, manifest=built.manifest, warnings=built.warnings)
