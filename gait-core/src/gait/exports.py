"""Decision exports: the record of one decision that exporters receive (integrations.md §2.2),
the exporters a command selected, and the export step after the trace is written.

    decision --> signed trace written --> DecisionEvent --> every selected exporter

Exporters are named and offered through the `gait_exporters` hook: the built-in JSONL files
(`jsonl-log` behind `--export-log-out`, `jsonl-otel` behind `--export-otel-out`) and plugins'
(`--export NAME`, e.g. `otel` from gait-plugin-otel). An event holds ids, digests, the verdict
and timings, never a tool call's arguments. Nothing here imports pluggy: a command that exports
only to the built-in files pays for no plugin machinery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs

from gait.errors import DependencyMissingError, GaitError, InvalidInputError
from gait.timefmt import GoTime

if TYPE_CHECKING:
    from gait.contracts.trace import TraceRecord

# How long a one-shot command (gate eval, mcp proxy) waits at exit for exporters that deliver in
# the background; what is still undelivered then is counted as dropped.
COMMAND_CLOSE_SECONDS: Final = 2.0
# The built-in exporters behind the reference's flags, and the output fields echoing their paths.
FILE_EXPORTERS: Final = (("jsonl-log", "log_export"), ("jsonl-otel", "otel_export"))


@attrs.frozen(kw_only=True)
class DecisionEvent:
    """One decision, as exporters see it: identifiers, digests, verdict and timing.

    `source` says which command decided (`gate.eval`, `mcp.proxy` or `mcp.serve`);
    `created_at` is the intent's time (1980-01-01 when the call gave none, as in the
    reference), `observed_at` the wall-clock time the trace was signed.
    """

    source: str
    created_at: GoTime
    observed_at: GoTime
    producer_version: str
    run_id: str
    session_id: str
    trace_id: str
    trace_path: str
    tool_name: str
    verdict: str
    reason_codes: tuple[str, ...]
    policy_digest: str
    intent_digest: str
    decision_latency_ms: int
    delegation_ref: str = ""
    delegation_depth: int = 0


@attrs.frozen(kw_only=True)
class ExporterStats:
    """Delivery counts of one exporter since it started: `queued` are waiting to be sent,
    `dropped` will never be (queue full, endpoint refused or unreachable, deadline at exit)."""

    exported: int = 0
    dropped: int = 0
    queued: int = 0

    def to_json(self) -> dict[str, int]:
        return {"dropped": self.dropped, "exported": self.exported, "queued": self.queued}


class DecisionExporter(Protocol):
    """What an `Exporter`'s factory builds. `export` must return promptly (a service calls it
    for every decision); `close` delivers what is pending within `timeout` seconds."""

    def export(self, event: DecisionEvent) -> None: ...

    def stats(self) -> ExporterStats: ...

    def close(self, timeout: float) -> None: ...


@attrs.frozen(kw_only=True)
class Exporter:
    """A named decision exporter, offered by the `gait_exporters` hook.

    `factory(options)` builds a `DecisionExporter` only when the exporter is selected, so heavy
    imports wait until then. Options: `source` (the deciding command), `lifetime` (`command`
    for a one-shot command, `service` for `gait mcp serve`) and, for file exporters, `path`.
    With `fail_closed`, an export failure fails the command after the trace was written (the
    reference's rule for its files); otherwise the exporter counts its failures and no
    decision ever waits for or depends on it. `health()` (optional, cheap, no heavy imports)
    reports for `gait doctor`: a mapping with `status` (ok, warn or fail) and `detail`.
    """

    name: str
    factory: Callable[[Mapping[str, str]], DecisionExporter]
    description: str = ""
    fail_closed: bool = False
    health: Callable[[], Mapping[str, str]] | None = None


@attrs.frozen(kw_only=True)
class ExportRequest:
    """What a command was asked to export to: the two JSONL files and named exporters."""

    log_out: str = ""
    otel_out: str = ""
    names: tuple[str, ...] = ()

    @classmethod
    def from_flags(cls, log_out: str, otel_out: str, names: tuple[str, ...]) -> ExportRequest:
        wanted = sorted({n.strip().lower() for n in names if n.strip()})
        return cls(log_out=log_out.strip(), otel_out=otel_out.strip(), names=tuple(wanted))

    @property
    def wanted(self) -> bool:
        return bool(self.log_out or self.otel_out or self.names)

    def selections(self) -> list[tuple[str, dict[str, str], str]]:
        """(exporter name, options, output field) for each export asked for."""
        chosen = [
            (name, {"path": path}, field)
            for (name, field), path in zip(
                FILE_EXPORTERS, (self.log_out, self.otel_out), strict=True
            )
            if path
        ]
        return chosen + [(name, {}, "") for name in self.names]


def check_export_path(path: str) -> Path:
    """The reference accepts a relative path that stays in the working directory, or an
    absolute one."""
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    depth = 0
    for part in candidate.parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            break
    if depth <= 0:
        raise InvalidInputError(
            f"export path {path!r} must be a file inside the working directory or an absolute path"
        )
    return candidate


def missing_exporter(name: str, known: Mapping[str, Exporter]) -> DependencyMissingError:
    installed = ", ".join(sorted(known)) or "none"
    install = f"pip install gait-plugin-{name}"
    return DependencyMissingError(
        f"exporter {name!r} is not installed or not loaded (available: {installed}); {install} "
        "(GAIT_PLUGINS and --no-plugins choose which installed plugins load)",
        hint=install,
    )


class ExporterSource(Protocol):
    """What the export step needs of `gait.plugins.PluginHost`, declared here so that this
    module, which the plugin host imports, does not import it back."""

    def exporters(self) -> Mapping[str, Exporter]: ...


def check_request(host: ExporterSource, request: ExportRequest) -> dict[str, Exporter]:
    """Refuse, before anything is decided, an export that cannot run: exit 7 for an exporter
    that is not installed, 6 for a bad file path. Returns the exporters by name."""
    known = host.exporters()
    for name, options, _ in request.selections():
        if name not in known:
            raise missing_exporter(name, known)
        if "path" in options:
            check_export_path(options["path"])
    return dict(known)


class Exports:
    """The exporters one command (or one service process) selected, built once."""

    def __init__(
        self,
        source: str,
        selected: list[tuple[Exporter, DecisionExporter]],
        fields: Mapping[str, str],
    ) -> None:
        self.source = source
        self._selected = selected
        self._fields = dict(fields)
        # A fail-closed exporter finishes before the answer (the built-in files write and
        # fsync): a service runs the export off its event loop then.
        self.blocking = any(exporter.fail_closed for exporter, _ in selected)

    def emit(self, event: DecisionEvent) -> dict[str, Any]:
        """Hand `event` to every exporter; returns the output fields to add (`log_export`,
        `otel_export`, and `warnings` when a non-fail-closed exporter raised).

        A fail-closed exporter's GaitError propagates: the caller's command fails with it.
        """
        fields: dict[str, Any] = dict(self._fields)
        for exporter, built in self._selected:
            if exporter.fail_closed:
                built.export(event)
                continue
            try:
                built.export(event)
            except Exception as exc:  # a broken exporter is reported, never raised
                fields.setdefault("warnings", []).append(f"export_{exporter.name}_error={exc}")
        return fields

    def record(self, event: DecisionEvent, output: dict[str, Any]) -> None:
        """Export `event` and add the export fields (and any warning) to the command's output."""
        fields = self.emit(event)
        warnings = fields.pop("warnings", [])
        output.update(fields)
        if warnings:
            output.setdefault("warnings", []).extend(warnings)

    def record_call(self, trace: TraceRecord, output: dict[str, Any]) -> None:
        """Export a `gait mcp proxy|serve` decision (its event is read from its output)."""
        self.record(call_event(trace, output, self.source), output)

    def stats(self) -> dict[str, dict[str, int]]:
        return {exporter.name: built.stats().to_json() for exporter, built in self._selected}

    def close(self, timeout: float) -> None:
        for _, built in self._selected:
            built.close(timeout)


def open_exports(
    host: ExporterSource, request: ExportRequest, *, source: str, lifetime: str
) -> Exports | None:
    """Build the exporters `request` asks for; None when it asks for none. Raises before
    anything is decided (exit 7 for an exporter that is not installed, 6 for a bad path)."""
    if not request.wanted:
        return None
    known = check_request(host, request)
    selected: list[tuple[Exporter, DecisionExporter]] = []
    fields: dict[str, str] = {}
    for name, options, field in request.selections():
        exporter = known[name]
        try:
            built = exporter.factory({**options, "source": source, "lifetime": lifetime})
        except Exception as exc:
            _close_all(selected)
            if isinstance(exc, GaitError):
                raise
            raise GaitError(f"exporter {name!r} failed to start: {exc}") from exc
        selected.append((exporter, built))
        if field:
            fields[field] = options["path"]
    return Exports(source, selected, fields)


def _close_all(selected: list[tuple[Exporter, DecisionExporter]]) -> None:
    for _, built in selected:
        built.close(0)


# ---- events -----------------------------------------------------------------------------------


def call_event(trace: TraceRecord, output: Mapping[str, Any], source: str) -> DecisionEvent:
    """The event of a `gait mcp proxy|serve` decision: its trace and its output (§1.6)."""
    return DecisionEvent(
        source=source,
        created_at=trace.created_at,
        observed_at=trace.observed_at,
        producer_version=trace.producer_version,
        run_id=str(output.get("run_id", "")),
        session_id=str(output.get("session_id", "")),
        trace_id=trace.trace_id,
        trace_path=str(output.get("trace_path", "")),
        tool_name=trace.tool_name,
        verdict=trace.verdict,
        reason_codes=tuple(output.get("reason_codes", ())),
        policy_digest=trace.policy_digest,
        intent_digest=trace.intent_digest,
        decision_latency_ms=int(output.get("decision_latency_ms", 0)),
    )
