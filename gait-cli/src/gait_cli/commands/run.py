"""`gait run record|inspect|diff|replay|receipt`: make runpacks and look into them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from gait.errors import Category, ExitCode, GaitError, InvalidInputError, VerificationError
from gait.fsutil import write_atomic
from gait.keys import KeySource, SigningKey
from gait.runpack import (
    RecordInput,
    apply_context_policy,
    diff_changed,
    diff_runpacks,
    read_runpack,
    record_run,
    replay_stub,
    resolve_runpack,
    ticket_footer,
    verify_runpack,
)
from gait.runpack.jsonio import RecordFormatError, parse_json
from gait.runpack.zipio import MAX_MEMBER_BYTES
from gait.signers import resolve_signer
from gait_cli.app import cli
from gait_cli.context import plugin_host
from gait_cli.inputs import read_limited
from gait_cli.output import Report, gait_command

REAL_REPLAY_ENV = "GAIT_ALLOW_REAL_REPLAY"


@cli.group("run")
def run() -> None:
    """Record, inspect, diff and replay runpacks."""


def _one_source(option: str, positional: tuple[str, ...], what: str) -> str:
    """`--from X` or a single positional X, as the reference accepts both."""
    if (option and positional) or len(positional) > 1:
        raise InvalidInputError("unexpected positional arguments")
    value = option or (positional[0] if positional else "")
    if not value.strip():
        raise InvalidInputError(f"missing required {what}")
    return value


def _display_path(path: Path) -> str:
    """Relative paths with a leading `./`, as the reference prints bundles."""
    text = str(path)
    return text if path.is_absolute() or text.startswith(".") else f"./{text}"


def _signing_key(
    key_mode: str, private_key: str, private_key_env: str
) -> tuple[SigningKey, list[str]]:
    return resolve_signer(
        key_mode=key_mode.strip().lower() or "prod",
        private=KeySource(path=private_key.strip(), env=private_key_env.strip()),
        signer="ed25519",
        backends=plugin_host(click.get_current_context()).signers,
    )


@gait_command(
    run,
    "record",
    exit_codes=(0, 1, 2, 6),
    help=(
        "Record a run from --input (run, intents, results, refs, capture_mode, normalization) "
        "as <out-dir>/runpack_<run_id>.zip, then verify it. Any key flag signs the manifest "
        "(key mode prod by default). Reference capture keeps digests and drops raw args and "
        "results."
    ),
)
@click.argument("input_arg", nargs=-1, metavar="[INPUT]")
@click.option("--input", "input_path", default="", help="The run record JSON file.")
@click.option("--out-dir", default="./gait-out", show_default=True, help="Where the zip goes.")
@click.option("--run-id", default="", help="Record under this run_id instead of the input's.")
@click.option("--capture-mode", default="", help="reference or raw (beats the input's value).")
@click.option("--key-mode", default="", help="dev or prod: sign the manifest.")
@click.option("--private-key", default="", help="Signing key file (prod mode).")
@click.option("--private-key-env", default="", help="Environment variable with the signing key.")
@click.option("--context-evidence-mode", default="", help="best_effort (default) or required.")
@click.option("--unsafe-context-raw", is_flag=True, help="Allow receipts with redaction_mode=raw.")
def record(
    input_arg: tuple[str, ...],
    input_path: str,
    out_dir: str,
    run_id: str,
    capture_mode: str,
    key_mode: str,
    private_key: str,
    private_key_env: str,
    context_evidence_mode: str,
    unsafe_context_raw: bool,
) -> Report:
    path = _one_source(input_path, input_arg, "--input <run_record.json>")
    try:
        data = parse_json(read_limited(path, "run record input", MAX_MEMBER_BYTES))
    except RecordFormatError as exc:
        raise InvalidInputError(f"parse input json: {exc}") from exc
    source = RecordInput.from_json(data)
    if run_id.strip():
        source = source.with_run_id(run_id.strip())
    if not source.run.run_id.strip():
        raise InvalidInputError("input run.run_id is required (or set --run-id)")
    source = apply_context_policy(
        source, evidence_mode=context_evidence_mode, allow_raw_context=unsafe_context_raw
    )
    key: SigningKey | None = None
    key_warnings: list[str] = []
    if key_mode.strip() or private_key.strip() or private_key_env.strip():
        key, key_warnings = _signing_key(key_mode, private_key, private_key_env)
    recorded = record_run(source, capture_mode=capture_mode, signing_key=key, out_dir=Path(out_dir))
    check = verify_runpack(
        recorded.path, public_key=key.public if key else None, require_signature=key is not None
    )
    if not check.ok:
        raise VerificationError("recorded runpack failed verification")
    signature_status = "signed" if recorded.signature_key_id else "missing"
    warnings = [*key_warnings, *recorded.warnings]
    payload: dict[str, Any] = {
        "run_id": recorded.run_id,
        "bundle": _display_path(recorded.path),
        "manifest_digest": recorded.manifest_digest,
        "signature_status": signature_status,
        "ticket_footer": recorded.ticket_footer,
    }
    if recorded.signature_key_id:
        payload["signature_key_id"] = recorded.signature_key_id
    if warnings:
        payload["warnings"] = warnings
    text = [
        f"run_id={recorded.run_id}",
        f"bundle={payload['bundle']}",
        f"signature_status={signature_status}",
    ]
    if recorded.signature_key_id:
        text.append(f"signature_key_id={recorded.signature_key_id}")
    if warnings:
        text.append("warnings=" + ";".join(warnings))
    text.append(f"ticket_footer={recorded.ticket_footer}")
    return Report(payload=payload, text=text)


def _string_field(payload: dict[str, Any] | None, key: str) -> str:
    value = (payload or {}).get(key)
    return value.strip() if isinstance(value, str) else ""


def _string_list_field(payload: dict[str, Any] | None, key: str) -> list[str]:
    value = (payload or {}).get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return sorted({item.strip() for item in value if isinstance(item, str) and item.strip()})


def _outcome(result: Any) -> dict[str, Any]:
    """A result's status and digest, plus the verdict fields a raw-capture result may carry."""
    outcome = {
        "status": result.status,
        "result_digest": result.result_digest,
        "verdict": _string_field(result.result, "verdict"),
        "reason_codes": _string_list_field(result.result, "reason_codes"),
        "violations": _string_list_field(result.result, "violations"),
    }
    return {key: value for key, value in outcome.items() if value}


@gait_command(
    run,
    "inspect",
    exit_codes=(0, 2, 6),
    help="Show a runpack's timeline: each intent in order with its recorded result.",
)
@click.argument("from_arg", nargs=-1, metavar="[RUN]")
@click.option("--from", "from_opt", default="", help="run_id or runpack path.")
def inspect(from_arg: tuple[str, ...], from_opt: str) -> Report:
    path = resolve_runpack(_one_source(from_opt, from_arg, "--from <run_id|path>"))
    rp = read_runpack(path)
    first_result: dict[str, Any] = {}
    duplicates: set[str] = set()
    for result in rp.results:
        if result.intent_id in first_result:
            duplicates.add(result.intent_id.strip() or "(empty)")
            continue
        first_result[result.intent_id] = result
    intent_ids = {intent.intent_id for intent in rp.intents}
    entries = []
    for index, intent in enumerate(rp.intents, 1):
        entry: dict[str, Any] = {
            "index": index,
            "intent_id": intent.intent_id,
            "tool_name": intent.tool_name,
            "created_at": intent.created_at.utc().format(),
        }
        if intent.args_digest:
            entry["args_digest"] = intent.args_digest
        if intent.intent_id in first_result:
            entry.update(_outcome(first_result[intent.intent_id]))
        entries.append(entry)
    unmatched = sorted(
        (
            {"intent_id": result.intent_id, **_outcome(result)}
            for result in rp.results
            if result.intent_id not in intent_ids
        ),
        key=lambda item: (item["intent_id"], item.get("result_digest", "")),
    )
    warnings = [
        f"multiple result records for intent_id={intent_id} (kept first)"
        for intent_id in sorted(duplicates)
    ]
    payload = {
        "artifact_type": "runpack",
        "run_id": rp.run.run_id,
        "path": str(path),
        "capture_mode": rp.manifest.capture_mode,
        "intents_total": len(rp.intents),
        "results_total": len(rp.results),
        "entries": entries,
        "unmatched_results": unmatched,
        "warnings": warnings,
    }
    text = [
        f"run inspect: run_id={rp.run.run_id} intents={len(rp.intents)} "
        f"results={len(rp.results)} capture_mode={rp.manifest.capture_mode}",
        f"path: {path}",
    ]
    for entry in entries:
        line = (
            f"{entry['index']}. intent={entry['intent_id']} tool={entry['tool_name']} "
            f"status={entry.get('status') or 'missing_result'}"
        )
        if entry.get("verdict"):
            line += f" verdict={entry['verdict']}"
        text.append(line)
        if entry.get("reason_codes"):
            text.append("   reason_codes=" + ",".join(entry["reason_codes"]))
        if entry.get("violations"):
            text.append("   violations=" + ",".join(entry["violations"]))
    if unmatched:
        text.append(f"unmatched_results={len(unmatched)}")
        text.extend(
            f"   intent={item['intent_id']} status={item.get('status') or 'unknown'}"
            for item in unmatched
        )
    if warnings:
        text.append("warnings: " + "; ".join(warnings))
    return Report(payload={k: v for k, v in payload.items() if v}, text=text)


@gait_command(
    run,
    "diff",
    exit_codes=(0, 1, 2, 6),
    help=(
        "Compare two runpacks, ignoring run ids, times and producer versions. Exit 0 when "
        "nothing changed, 2 when something did."
    ),
)
@click.argument("sides", nargs=-1, metavar="LEFT RIGHT")
@click.option(
    "--privacy",
    default="full",
    show_default=True,
    help="full, or metadata (ignore raw payloads, count receipts only).",
)
@click.option("--output", default="", help="Also write the diff JSON to this file.")
def diff(sides: tuple[str, ...], privacy: str, output: str) -> Report:
    if len(sides) != 2:
        raise InvalidInputError("expected left and right run_id|path")
    left, right = (read_runpack(resolve_runpack(side)) for side in sides)
    summary = diff_runpacks(left, right, privacy=privacy)
    if output:
        document = {"privacy": privacy, "summary": summary}
        encoded = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        write_atomic(Path(output), encoded.encode("utf-8"), what="diff")
    changed = diff_changed(summary)
    verb = "changed" if changed else "ok"
    text = [f"diff {verb}: {summary['run_id_left']} vs {summary['run_id_right']}"]
    if changed and summary.get("files_changed"):
        text.append("files changed: " + ", ".join(summary["files_changed"]))
    payload: dict[str, Any] = {"privacy": privacy, "summary": summary}
    if output:
        payload["output"] = output
    return Report(
        payload=payload,
        text=text,
        ok=not changed,
        exit_code=ExitCode.VERIFICATION_FAILED if changed else ExitCode.OK,
    )


def _refuse_real_tools(unsafe_real_tools: bool, allow_tools: str, env_name: str) -> None:
    """Real replay runs tools again; every guard must be given, and even then it is refused."""
    from gait.envflags import env_flag

    if not unsafe_real_tools:
        missing = "--unsafe-real-tools"
    elif not allow_tools.strip():
        missing = "--allow-tools <csv>"
    elif not env_flag(env_name):
        missing = f"{env_name}=1"
    else:
        raise GaitError(
            "real tool replay is not available in Gait for Python; replay runs stubs only",
            category=Category.UNSAFE_OPERATION,
        )
    raise GaitError(f"real tool execution requires {missing}", category=Category.UNSAFE_OPERATION)


@gait_command(
    run,
    "replay",
    exit_codes=(0, 2, 6, 8),
    help=(
        "Replay a runpack in stub mode: recorded results, or deterministic stubs for HTTP, "
        "file, DB and queue tools; no tool runs. Exit 2 when a result is missing; real-tool "
        "replay is refused (exit 8)."
    ),
)
@click.argument("run_arg", nargs=-1, metavar="RUN")
@click.option("--real-tools", is_flag=True, help="Ask for real tool execution (refused).")
@click.option("--unsafe-real-tools", is_flag=True, help="Acknowledge that real tools are unsafe.")
@click.option("--allow-tools", default="", help="Comma-separated tools real replay may run.")
@click.option(
    "--unsafe-real-tools-env",
    default=REAL_REPLAY_ENV,
    show_default=True,
    help="Environment variable that must be true (1, true, yes, on) for real replay.",
)
def replay(
    run_arg: tuple[str, ...],
    real_tools: bool,
    unsafe_real_tools: bool,
    allow_tools: str,
    unsafe_real_tools_env: str,
) -> Report:
    if len(run_arg) != 1:
        raise InvalidInputError("expected run_id or path")
    if real_tools:
        _refuse_real_tools(unsafe_real_tools, allow_tools, unsafe_real_tools_env)
    outcome = replay_stub(read_runpack(resolve_runpack(run_arg[0])))
    missing = outcome["missing_results"]
    payload = {key: value for key, value in outcome.items() if value}
    if unsafe_real_tools:
        payload["requested_unsafe"] = True
    if missing:
        text = [f"replay failed: {outcome['run_id']}", "missing results: " + ", ".join(missing)]
    else:
        text = [f"replay ok: {outcome['run_id']} ({outcome['mode']})"]
    return Report(
        payload=payload,
        text=text,
        ok=not missing,
        exit_code=ExitCode.VERIFICATION_FAILED if missing else ExitCode.OK,
    )


@gait_command(
    run,
    "receipt",
    exit_codes=(0, 2, 6),
    help="Verify a runpack (unsigned allowed) and print its ticket footer.",
)
@click.argument("from_arg", nargs=-1, metavar="[RUN]")
@click.option("--from", "from_opt", default="", help="run_id or runpack path.")
def receipt(from_arg: tuple[str, ...], from_opt: str) -> Report:
    path = resolve_runpack(_one_source(from_opt, from_arg, "--from <run_id|path>"))
    result = verify_runpack(path)
    if not result.ok:
        raise VerificationError(f"runpack failed verification: {path}")
    footer = ticket_footer(result.run_id, result.manifest_digest)
    return Report(
        payload={
            "run_id": result.run_id,
            "path": str(path),
            "manifest_digest": result.manifest_digest,
            "ticket_footer": footer,
        },
        text=[footer],
    )
