"""`gait policy validate|test|fmt|init|simulate`: check, format, create and compare policies,
and decide intents with the library alone."""

from __future__ import annotations

import errno
import os
import stat
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import click

from gait.errors import ExitCode, InvalidInputError, write_failure
from gait.evaluate import EXIT_CODE_BY_VERDICT, Decision, evaluate
from gait.fsutil import write_atomic
from gait.intent import normalize_intent
from gait.limits import MAX_POLICY_BYTES
from gait.policy import CompiledPolicy, PolicyError, load_policy_file, parse_policy
from gait.policy_format import format_policy, leading_comments
from gait.policy_templates import TEMPLATE_ALIASES, TEMPLATE_NAMES, resolve_template, template_text
from gait.timefmt import GoTime
from gait_cli.app import cli
from gait_cli.inputs import read_intent, read_limited
from gait_cli.output import Report, gait_command

SUMMARY_LIMIT = 240


@cli.group("policy")
def policy() -> None:
    """Validate, format, create and test policies."""


@gait_command(policy, "validate", exit_codes=(0, 6), help="Parse and validate a policy file.")
@click.argument("path")
def validate(path: str) -> Report:
    compiled = load_policy_file(path)
    loaded = compiled.policy
    summary = (
        f"policy validate ok: default={loaded.default_verdict} rules={len(loaded.rules)} "
        f"digest={compiled.digest}"
    )
    return Report(
        payload={
            "schema_id": loaded.schema_id,
            "schema_version": loaded.schema_version,
            "policy_digest": compiled.digest,
            "default_verdict": loaded.default_verdict,
            "rule_count": len(loaded.rules),
            "summary": summary,
        },
        text=[summary],
    )


def _reported_intent_digest(raw: Mapping[str, Any], decision: Decision) -> str:
    # The reference reports the digest of the raw normalized intent, not the prepared one, and
    # none when the intent could not be normalized (the policy failed closed).
    return normalize_intent(raw).intent_digest if decision.intent else ""


def _summary(verdict: str, reasons: tuple[str, ...], violations: tuple[str, ...]) -> str:
    text = (
        f"policy test verdict={verdict} reasons={','.join(reasons) or 'none'} "
        f"violations={','.join(violations) or 'none'}"
    )
    if len(text) <= SUMMARY_LIMIT:
        return text
    suffix = f"...(+{len(text) - SUMMARY_LIMIT})"
    return text[: SUMMARY_LIMIT - len(suffix)] + suffix


@gait_command(
    policy,
    "test",
    exit_codes=(0, 3, 4, 6),
    help=(
        "Decide INTENT under POLICY with the policy alone: no tokens, rate limits, plugins or "
        "trace. Exit 3 for block, 4 for require_approval."
    ),
)
@click.argument("policy_path", metavar="POLICY")
@click.argument("intent_path", metavar="INTENT")
def test(policy_path: str, intent_path: str) -> Report:
    compiled = load_policy_file(policy_path)
    raw = read_intent(intent_path)
    decision = evaluate(compiled, raw)
    intent_digest = _reported_intent_digest(raw, decision)
    summary = _summary(decision.verdict, decision.reason_codes, decision.violations)
    payload = {
        "schema_id": "gait.policytest.result",
        "schema_version": "1.0.0",
        "created_at": GoTime.now().format(),
        "policy_digest": compiled.digest,
        "intent_digest": intent_digest,
        "verdict": decision.verdict,
        "reason_codes": list(decision.reason_codes),
        "violations": list(decision.violations),
        "matched_rule": decision.matched_rule,
        "summary": summary,
    }
    return Report(
        payload=payload,
        text=[summary],
        exit_code=ExitCode(EXIT_CODE_BY_VERDICT[decision.verdict]),
    )


# --------------------------------------------------------------------------------------------
# gait policy fmt
# --------------------------------------------------------------------------------------------


def _rewrite_in_place(path: str, text: str) -> None:
    """Replace the file atomically, keeping its permissions; a symlink keeps pointing at it."""
    target = Path(os.path.realpath(path))
    # Replacing the file would succeed even if it is read-only; honour that like a plain write.
    if not os.access(target, os.W_OK):
        code = errno.EROFS if os.statvfs(target).f_flag & os.ST_RDONLY else errno.EACCES
        raise write_failure(path, OSError(code, os.strerror(code)), "policy")
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError as exc:
        raise InvalidInputError(f"cannot read policy {path}: {exc.strerror or exc}") from exc
    write_atomic(target, text.encode("utf-8"), mode, what="policy")


@gait_command(
    policy,
    "fmt",
    exit_codes=(0, 1, 6),
    help=(
        "Print POLICY normalized: canonical key names and order, rules in evaluation order, "
        "lists sorted, defaults spelled out; the comment lines at the top of the file are kept, "
        "other comments dropped. The policy digest does not change. --write rewrites the file "
        "instead, only when that changes it."
    ),
)
@click.argument("path", metavar="POLICY")
@click.option("--write", is_flag=True, help="Rewrite POLICY in place (atomically) if it changes.")
def fmt(path: str, write: bool) -> Report:
    policy_path = path.strip()
    if not policy_path:
        raise InvalidInputError("policy path must not be empty")
    original = read_limited(policy_path, "policy", MAX_POLICY_BYTES)
    loaded = parse_policy(original)
    # The policy parsed, so the bytes are UTF-8.
    formatted = leading_comments(original.decode("utf-8")) + format_policy(loaded)
    changed = original != formatted.encode("utf-8")
    written = write and changed
    if written:
        _rewrite_in_place(policy_path, formatted)
    summary = (
        f"policy fmt ok: path={policy_path} changed={str(changed).lower()} "
        f"written={str(written).lower()} rules={len(loaded.rules)}"
    )
    return Report(
        payload={
            "path": policy_path,
            "written": written,
            "changed": changed,
            "policy_digest": loaded.digest,
            "default_verdict": loaded.default_verdict,
            "rule_count": len(loaded.rules),
            "formatted": formatted,
        },
        # Like the reference: the YAML itself on stdout, or a summary once the file is written.
        text=[summary] if write else [formatted.removesuffix("\n")],
    )


# --------------------------------------------------------------------------------------------
# gait policy init
# --------------------------------------------------------------------------------------------

_ALIAS_LIST = ", ".join(alias for alias in TEMPLATE_ALIASES if alias not in TEMPLATE_NAMES)


@gait_command(
    policy,
    "init",
    exit_codes=(0, 1, 6),
    help=(
        f"Write a starter policy: TEMPLATE is one of {', '.join(TEMPLATE_NAMES)} "
        f"(aliases: {_ALIAS_LIST}). Refuses to overwrite an existing file without --force."
    ),
)
@click.argument("template", metavar="TEMPLATE")
@click.option("--out", default="gait.policy.yaml", show_default=True, help="Where to write it.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(template: str, out: str, force: bool) -> Report:
    resolved = resolve_template(template)
    out_path = out.strip()
    if not out_path:
        raise InvalidInputError("output path must not be empty")
    exists_message = f"output path already exists (use --force to overwrite): {out_path}"
    if not force and os.path.lexists(out_path):
        raise InvalidInputError(exists_message)
    text = template_text(resolved).encode("utf-8")
    try:
        # A policy is configuration, not a secret: readable by others, like a file from git.
        write_atomic(Path(out_path), text, 0o644, overwrite=force, what="policy")
    except FileExistsError as exc:
        raise InvalidInputError(exists_message) from exc
    next_commands = [
        f"gait policy validate {out_path} --json",
        f"gait policy fmt {out_path} --write --json",
        "gait doctor --json",
    ]
    return Report(
        payload={"template": resolved, "policy_path": out_path, "next_commands": next_commands},
        text=[
            f"policy init ok: template={resolved} output={out_path}",
            f"next: {' | '.join(next_commands)}",
        ],
    )


# --------------------------------------------------------------------------------------------
# gait policy simulate
# --------------------------------------------------------------------------------------------


def _fail_walk(exc: OSError) -> None:
    # os.walk skips unreadable directories silently unless told otherwise; the reference fails.
    raise InvalidInputError(
        f"walk fixtures directory: {exc.filename}: {exc.strerror or exc}"
    ) from exc


def _fixture_paths(fixtures_csv: str) -> list[str]:
    """The reference's fixture list: each CSV entry a .json file or a directory searched
    recursively for *.json (any case); paths cleaned, deduplicated and sorted."""
    entries = [entry.strip() for entry in fixtures_csv.split(",") if entry.strip()]
    if not entries:
        raise InvalidInputError("missing required --fixtures <csv files/dirs>")
    found: set[str] = set()
    for entry in entries:
        try:
            is_dir = stat.S_ISDIR(os.stat(entry).st_mode)
        except OSError as exc:
            raise InvalidInputError(f"fixtures path: {entry}: {exc.strerror or exc}") from exc
        if not is_dir:
            if not entry.lower().endswith(".json"):
                raise InvalidInputError(f"fixture file must be .json: {os.path.normpath(entry)}")
            found.add(os.path.normpath(entry))
            continue
        for directory, _, files in os.walk(entry, onerror=_fail_walk):
            found.update(
                os.path.normpath(os.path.join(directory, name))
                for name in files
                if name.lower().endswith(".json")
            )
    if not found:
        raise InvalidInputError("no intent fixtures discovered from --fixtures")
    return sorted(found)


def _load_named_policy(path: str, role: str) -> CompiledPolicy:
    try:
        return load_policy_file(path)
    except PolicyError as exc:
        raise PolicyError(f"{role} policy {path}: {exc}") from exc


def recommend_rollout(verdict_changes: Iterable[tuple[str, str]]) -> str:
    """The rollout stage for a candidate policy, from the (baseline, candidate) verdicts of the
    fixtures whose decision changed (spec §7.3): `enforce` when none did; `observe` when one
    moved to allow; else `require_approval` when one became block; else `enforce`."""
    changes = list(verdict_changes)
    if any(before != "allow" and after == "allow" for before, after in changes):
        return "observe"
    if any(before != "block" and after == "block" for before, after in changes):
        return "require_approval"
    return "enforce"


def _verdict_counts(counts: Counter[str]) -> list[dict[str, Any]]:
    return [{"verdict": verdict, "count": counts[verdict]} for verdict in sorted(counts)]


@gait_command(
    policy,
    "simulate",
    exit_codes=(0, 6),
    help=(
        "Decide every fixture intent under the baseline and the candidate policy and report the "
        "fixtures whose verdict, reason codes, violations or matched rule changed, with a "
        "rollout recommendation: enforce, observe or require_approval. Fixtures that are not "
        "valid intents are listed, not fatal. Exit 0 whatever the differences."
    ),
)
@click.option("--policy", "candidate_path", default="", help="Candidate policy YAML.")
@click.option("--baseline", "baseline_path", default="", help="Baseline policy YAML.")
@click.option(
    "--fixtures",
    "fixtures_csv",
    default="",
    help="Comma-separated intent .json files and directories (searched recursively).",
)
def simulate(candidate_path: str, baseline_path: str, fixtures_csv: str) -> Report:
    if not candidate_path.strip():
        raise InvalidInputError("missing required --policy <candidate_policy.yaml>")
    if not baseline_path.strip():
        raise InvalidInputError("missing required --baseline <baseline_policy.yaml>")
    fixtures = _fixture_paths(fixtures_csv)
    candidate = _load_named_policy(candidate_path, "candidate")
    baseline = _load_named_policy(baseline_path, "baseline")

    baseline_counts: Counter[str] = Counter()
    candidate_counts: Counter[str] = Counter()
    changed: list[dict[str, Any]] = []
    invalid: list[dict[str, Any]] = []
    for fixture in fixtures:
        try:
            raw = read_intent(fixture)
            before = evaluate(baseline, raw)
            after = evaluate(candidate, raw)
        except InvalidInputError as exc:
            # Unlike the reference, which stops at the first one: one bad fixture in a corpus
            # should not hide the diff of all the others.
            invalid.append({"fixture_path": fixture, "error": str(exc)})
            continue
        baseline_counts[before.verdict] += 1
        candidate_counts[after.verdict] += 1
        if (before.verdict, before.reason_codes, before.violations, before.matched_rule) == (
            after.verdict,
            after.reason_codes,
            after.violations,
            after.matched_rule,
        ):
            continue
        changed.append(
            {
                "fixture_path": fixture,
                "intent_digest": _reported_intent_digest(raw, before),
                "changed": True,
                "baseline_verdict": before.verdict,
                "candidate_verdict": after.verdict,
                "baseline_reason_codes": list(before.reason_codes),
                "candidate_reason_codes": list(after.reason_codes),
                "baseline_violations": list(before.violations),
                "candidate_violations": list(after.violations),
                "baseline_matched_rule": before.matched_rule,
                "candidate_matched_rule": after.matched_rule,
            }
        )

    recommendation = recommend_rollout(
        (diff["baseline_verdict"], diff["candidate_verdict"]) for diff in changed
    )
    summary = (
        f"policy simulate fixtures={len(fixtures)} changed={len(changed)} "
        f"recommendation={recommendation}"
    )
    if invalid:
        summary += f" invalid={len(invalid)}"
    text = [summary]
    text.extend(
        f"changed: {diff['fixture_path']} verdict {diff['baseline_verdict']} -> "
        f"{diff['candidate_verdict']}, rule {diff['baseline_matched_rule'] or 'none'} -> "
        f"{diff['candidate_matched_rule'] or 'none'}"
        for diff in changed
    )
    text.extend(f"invalid: {entry['fixture_path']}: {entry['error']}" for entry in invalid)
    return Report(
        payload={
            "baseline_policy_digest": baseline.digest,
            "candidate_policy_digest": candidate.digest,
            "fixtures_total": len(fixtures),
            "changed_fixtures": len(changed),
            "invalid_fixtures": invalid,
            "baseline_verdicts": _verdict_counts(baseline_counts),
            "candidate_verdicts": _verdict_counts(candidate_counts),
            "recommendation": recommendation,
            "summary": summary,
            "changed": changed,
        },
        text=text,
    )
