"""`gait beads bridge`: a trace, or a directory of traces, becomes a Beads issue."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from gait.errors import GaitError, InvalidInputError
from gait.keys import KeySource, VerifyKey, load_verify_key
from gait_cli.plugin_api import Report
from gait_plugin_beads.bd import LIST_ARGS, BdClient, create_args, default_bd
from gait_plugin_beads.summary import (
    SignatureCheck,
    TraceSummary,
    check_signature,
    decisions_by_trace,
    read_decision,
    summarize,
)

TRACE_SCHEMA = "gait.gate.trace"


def run_bridge(
    *,
    trace: str,
    trace_dir: str,
    decisions: Sequence[str],
    live: bool,
    bd: str,
    issue_type: str | None,
    priority: int | None,
    allow_unverified: bool,
    public_key: str,
    public_key_env: str,
    private_key: str,
    private_key_env: str,
) -> Report:
    if bool(trace) == bool(trace_dir):
        raise InvalidInputError(
            "give --trace <trace.json> or --trace-dir <directory>" + (", not both" if trace else "")
        )
    key, hint = _verify_key(public_key, public_key_env, private_key, private_key_env)
    options = _Options(
        key=key,
        no_key_hint=hint,
        allow_unverified=allow_unverified,
        issue_type=issue_type or "",
        priority=priority,
        client=BdClient(bd or default_bd()),
        live=live,
    )
    if trace:
        if len(decisions) > 1:
            raise InvalidInputError("--trace takes one --decision")
        return _bridge_one(Path(trace), decisions[0] if decisions else "", options)
    return _bridge_dir(Path(trace_dir), decisions, options)


@attrs.frozen(kw_only=True)
class _Options:
    key: VerifyKey | None
    no_key_hint: str
    allow_unverified: bool
    issue_type: str
    priority: int | None
    client: BdClient
    live: bool

    @property
    def mode(self) -> str:
        return "live" if self.live else "dry_run"


def _verify_key(
    public_key: str, public_key_env: str, private_key: str, private_key_env: str
) -> tuple[VerifyKey | None, str]:
    """The key flags, else this machine's dev key (as `gait trace verify` does)."""
    public = KeySource(path=public_key, env=public_key_env)
    private = KeySource(path=private_key, env=private_key_env)
    if public.configured or private.configured:
        return load_verify_key(public, private), ""
    from gait.devkey import existing_dev_verify_key

    dev = existing_dev_verify_key()
    if dev is None:
        return None, "no key flag was given and this machine has no dev key: pass --public-key"
    return dev, ""


def _checked(path: Path, record: dict[str, Any], options: _Options) -> SignatureCheck:
    return check_signature(
        record,
        options.key,
        path=path,
        allow_unverified=options.allow_unverified,
        no_key_hint=options.no_key_hint,
    )


def _issue_payload(summary: TraceSummary, client: BdClient) -> dict[str, Any]:
    payload = {**summary.to_json(), "bd_argv": client.argv(create_args(summary))}
    payload["warnings"] = (
        [] if summary.signature.verified else [f"signature not verified: {summary.signature.error}"]
    )
    return payload


def _bridge_one(path: Path, decision_path: str, options: _Options) -> Report:
    from gait.trace import read_trace

    record = read_trace(path)
    signature = _checked(path, record, options)
    decision = read_decision(Path(decision_path)) if decision_path else None
    summary = summarize(
        record,
        path=path,
        signature=signature,
        decision=decision,
        issue_type=options.issue_type,
        priority=options.priority,
    )
    client = options.client
    payload = {
        **_issue_payload(summary, client),
        "mode": options.mode,
        "bd_lookup_argv": client.argv(LIST_ARGS),
    }
    text = [
        f"mode={options.mode}",
        f"trace_id={summary.trace_id}",
        f"verdict={summary.verdict}",
        f"signature={_signature_line(summary)}",
        f"reason_codes={_reason_codes_line(summary)}",
        f"title={summary.title}",
    ]
    if options.live:
        filed = client.file(summary, client.external_refs())
        payload.update(
            issue_id=filed.issue_id,
            created=filed.created,
            warnings=[*payload["warnings"], *filed.warnings],
        )
        text.insert(1, f"issue_id={filed.issue_id}")
        text.insert(2, f"created={str(filed.created).lower()}")
    else:
        text += _dry_run_lines(summary, client, lookup=True)
    text += [f"warning: {warning}" for warning in payload["warnings"]]
    return Report(payload=payload, text=text)


def _bridge_dir(directory: Path, decision_paths: Sequence[str], options: _Options) -> Report:
    """Read and verify every trace first, then file the non-allow ones in file-name order."""
    from gait.trace import read_trace

    if not directory.is_dir():
        raise InvalidInputError(f"trace directory {directory} is not a directory")
    decisions = decisions_by_trace([read_decision(Path(p)) for p in decision_paths])
    files = sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())
    skipped: list[dict[str, str]] = []
    summaries: list[TraceSummary] = []
    first_path: dict[str, str] = {}
    seen_ids: set[str] = set()
    for path in files:
        record = read_trace(path)
        shown = str(path.resolve())
        if record.get("schema_id") != TRACE_SCHEMA:
            skipped.append({"path": shown, "reason": "not a gait trace"})
            continue
        signature = _checked(path, record, options)
        trace_id = record.get("trace_id")
        if isinstance(trace_id, str):
            seen_ids.add(trace_id)
        if record.get("verdict") == "allow":
            skipped.append({"path": shown, "reason": "verdict allow"})
            continue
        if isinstance(trace_id, str) and trace_id in first_path:
            skipped.append({"path": shown, "reason": f"same trace_id as {first_path[trace_id]}"})
            continue
        summary = summarize(
            record,
            path=path,
            signature=signature,
            decision=decisions.get(trace_id) if isinstance(trace_id, str) else None,
            issue_type=options.issue_type,
            priority=options.priority,
        )
        first_path[summary.trace_id] = shown
        summaries.append(summary)
    unmatched = sorted(d.path for tid, d in decisions.items() if tid not in seen_ids)
    if unmatched:
        raise InvalidInputError(
            f"no trace in {directory} has the trace_id of decision {', '.join(unmatched)}"
        )
    client = options.client
    issues = [_issue_payload(summary, client) for summary in summaries]
    text = [f"mode={options.mode}"]
    if options.live and summaries:
        _file_all(summaries, issues, client)
    for summary, issue in zip(summaries, issues, strict=True):
        if options.live:
            state = "created" if issue["created"] else "exists"
            text.append(f"{state} {issue['issue_id']}: {summary.title}")
        else:
            text.append(f"would file: {summary.title}")
            text += _dry_run_lines(summary, client, lookup=False)
        text += [f"warning: {warning}" for warning in issue["warnings"]]
    text += [f"skipped {item['path']}: {item['reason']}" for item in skipped]
    created = sum(1 for issue in issues if issue.get("created") is True)
    counts = {"issues": len(issues), "skipped": len(skipped)}
    if options.live:
        counts.update(created=created, existing=len(issues) - created)
    text.append(" ".join(f"{name}={value}" for name, value in counts.items()))
    if not options.live and summaries:
        text.insert(1, f"lookup: {shlex.join(client.argv(LIST_ARGS))}")
    payload = {
        "mode": options.mode,
        "trace_dir": str(directory.resolve()),
        "issues": issues,
        "skipped": skipped,
        "counts": counts,
        "bd_lookup_argv": client.argv(LIST_ARGS),
    }
    return Report(payload=payload, text=text)


def _file_all(
    summaries: Sequence[TraceSummary], issues: list[dict[str, Any]], client: BdClient
) -> None:
    known = client.external_refs()
    for index, (summary, issue) in enumerate(zip(summaries, issues, strict=True)):
        try:
            filed = client.file(summary, known)
        except GaitError as exc:
            raise GaitError(
                f"{exc} ({index} of {len(summaries)} traces were bridged before this failure; "
                "re-running files the rest without duplicates)",
                category=exc.category,
            ) from exc
        issue.update(
            issue_id=filed.issue_id,
            created=filed.created,
            warnings=[*issue["warnings"], *filed.warnings],
        )


def _signature_line(summary: TraceSummary) -> str:
    if summary.signature.verified:
        return f"verified key_id={summary.signature.key_id}"
    return f"unverified ({summary.signature.error})"


def _reason_codes_line(summary: TraceSummary) -> str:
    if summary.reason_codes is None:
        return "not supplied (pass --decision with the gate eval --json output)"
    return ",".join(summary.reason_codes) or "none listed in the decision"


def _dry_run_lines(summary: TraceSummary, client: BdClient, *, lookup: bool) -> list[str]:
    lines = []
    if lookup:
        lines.append(
            f"lookup: {shlex.join(client.argv(LIST_ARGS))} "
            f"(an issue with external_ref {summary.external_ref} is reused)"
        )
    lines.append(f"create: {shlex.join(client.argv(create_args(summary)))}")
    return lines
