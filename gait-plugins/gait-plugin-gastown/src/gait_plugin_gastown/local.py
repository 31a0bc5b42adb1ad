"""A hook decision in this process: the decision pipeline (gait.pipeline) with the `gastown`
adapter, as `gait mcp proxy` runs it, with the intent record beside the trace as an extra
artifact, and the sinks waited for (a hook process ends with its call).

Imported only by `gait gastown hook --policy`; the service path never loads Gait's core.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gait import pipeline
from gait.errors import DependencyMissingError, InvalidInputError
from gait.gate import Gate
from gait.gostrings import go_lower, go_trim_space
from gait.keys import KeySource
from gait.mcp.boundary import check_profile, timestamp_ns
from gait.pipeline import Request, Result, Runtime, Settings
from gait.plugin_discovery import gait_entry_points, selected
from gait.plugins import ENV_ALLOWLIST, PluginHost
from gait.policy_cache import load_policy_file_cached
from gait.signers import resolve_signer
from gait_plugin_gastown.adapter import ADAPTER_NAME, decode_checked
from gait_plugin_gastown.hook import Decision
from gait_plugin_gastown.record import intent_record_path, write_intent_record

if TYPE_CHECKING:
    from gait.exports import Exports
    from gait.keys import SigningKey
    from gait_plugin_gastown.hook import Options

OWN_PACKAGE = __name__.partition(".")[0]
RATE_LIMIT_FILE = "gate_rate_limits.json"
SINK_CLOSE_MARGIN_S = 0.5
EXPORT_SOURCE = "gastown.hook"


def plugin_host() -> PluginHost:
    """The plugins `gait mcp proxy` would load (GAIT_PLUGINS), but this one: it takes no part in
    a decision (it offers the adapter used here directly, and commands), and leaving it out
    spares loading pluggy when no other plugin is installed."""
    host = PluginHost()
    for ep in selected(gait_entry_points(), os.environ.get(ENV_ALLOWLIST)):
        if ep.value.partition(".")[0] != OWN_PACKAGE:
            host.load_entry_point(ep)
    return host


def sinks_for(host: PluginHost, names: list[str]) -> dict[str, Any]:
    """The sink bridges named by `--bridge`, or DependencyMissingError naming what to install."""
    if not names:
        return {}
    sinks = host.sinks()
    found = {}
    for name in names:
        bridge = sinks.get(name)
        if bridge is None:
            raise DependencyMissingError(
                f"--bridge {name}: no sink plugin named {name!r} is installed or selected "
                f"(pip install gait-plugin-{name}; GAIT_PLUGINS must include it when set)"
            )
        found[name] = bridge
    return found


def decide(options: Options, event: dict[str, Any]) -> Decision:
    started = time.monotonic()
    bridges = [name.strip() for name in options.bridge if name.strip()]
    host = plugin_host()
    sinks = sinks_for(host, bridges)
    profile = check_profile(go_lower(go_trim_space(options.profile)))
    key_mode = go_lower(go_trim_space(options.key_mode))
    out_dir = Path(options.out_dir.strip() or ".")
    # One decision per process: the cache spares the YAML parse (and PyYAML's import) of a
    # policy this user owns; it never changes what the policy decides (gait.policy_cache).
    gate = Gate(load_policy_file_cached(options.policy.strip()), host)
    key, key_warnings = resolve_signer(
        key_mode=key_mode,
        private=KeySource(path=options.private_key, env=options.private_key_env),
        signer="ed25519",
        backends=host.signers,
    )
    trace_out = Path(options.trace_out) if options.trace_out.strip() else None
    os.makedirs(trace_out.parent if trace_out else out_dir, mode=0o750, exist_ok=True)
    runpack_out = None
    if options.runpack_dir.strip():
        runpack_out = Path(options.runpack_dir) / f"runpack_{timestamp_ns()}_{os.getpid()}.zip"
    rate_limit_state = Path(options.rate_limit_state or out_dir / RATE_LIMIT_FILE)
    request = Request(
        adapter=ADAPTER_NAME,
        decoder=decode_checked,
        payload=event,
        trace_path=trace_out,
        trace_dir=out_dir,
        runpack_out=runpack_out,
    )
    settings = Settings(
        profile=profile,
        key_mode=key_mode,
        key_warnings=tuple(key_warnings),
        rate_limit_state=rate_limit_state,
    )
    exports = open_command_exports(host, options)
    try:
        outcome = decide_and_record(gate, key, request, settings, exports)
    finally:
        # whatever failed, as `gait mcp proxy` does: an exporter's worker must not outlive it
        if exports is not None:
            from gait.exports import COMMAND_CLOSE_SECONDS

            exports.close(COMMAND_CLOSE_SECONDS)
    output = outcome.output
    notes = []
    if outcome.verdict != "allow" and sinks:
        timeout = options.timeout_s - (time.monotonic() - started) - SINK_CLOSE_MARGIN_S
        notes = hand_to_sinks(sinks, key, outcome, max(timeout, 0.1))
    return Decision(
        outcome.verdict,
        output.get("reason_codes", ()),
        output.get("violations", ()),
        output.get("trace_id", ""),
        notes,
    )


def open_command_exports(host: PluginHost, options: Options) -> Exports | None:
    """The exports the flags ask for (None for none), as `gait mcp proxy` opens them; with no
    export flag, without importing gait.exports (its records cost every call start-up time)."""
    log_out, otel_out = options.export_log_out.strip(), options.export_otel_out.strip()
    if not (log_out or otel_out or options.export):
        return None
    from gait.exports import ExportRequest, open_exports

    return open_exports(
        host,
        ExportRequest.from_flags(log_out, otel_out, tuple(options.export)),
        source=EXPORT_SOURCE,
        lifetime="command",
    )


def decide_and_record(
    gate: Gate,
    key: SigningKey,
    request: Request,
    settings: Settings,
    exports: Exports | None,
) -> Result:
    """`gait.pipeline.decide` with the intent record as an extra artifact: written after the
    trace and before the exports (a file export that fails raises, and the hook denies)."""
    runtime = Runtime(
        gate=gate, key=key, settings=settings, exports=exports, artifacts=(_intent_record,)
    )
    return pipeline.decide(request, runtime)


def _intent_record(result: Result) -> None:
    intent = result.signed.outcome.decision.evaluation.intent
    if intent is None:  # the pipeline refuses such a call; kept for the type checker
        raise InvalidInputError("intent is not evaluable")
    write_intent_record(intent_record_path(result.trace_path), intent, result.output)


def hand_to_sinks(sinks: dict[str, Any], key: Any, result: Result, timeout: float) -> list[str]:
    """The pipeline's sink stage as `gait mcp serve --bridge` runs it, but waited for (`close`):
    a hook process ends with its call. The sinks are built only for a decision that goes to
    them. What each sink reports in `results` (the Beads sink does) comes back as a line for
    standard error."""
    built = {name: bridge.factory(verify_key=key.public) for name, bridge in sinks.items()}
    pipeline.sink(result, list(built.values()))
    notes = []
    for name, sink_ in built.items():
        sink_.close(timeout=timeout)
        results = list(getattr(sink_, "results", ()))
        if not results:
            notes.append(f"gait --bridge {name}: handed over, no result within {timeout:.1f} s")
        for answer in results:
            if getattr(answer, "error", ""):
                notes.append(f"gait --bridge {name}: {answer.error}")
            else:
                done = getattr(answer, "issue_id", "") or getattr(answer, "skipped", "")
                notes.append(f"gait --bridge {name}: {done or 'done'}")
    return notes
