"""The ASGI application of `gait mcp serve` (integrations.md §1.9.3-§1.9.7).

A plain ASGI callable, no framework: four routes whose processing order and error bodies are a
wire contract (405, 401, 415, 413, 400, then the decision), which a router with its own
validation layer would only get in the way of.

Per process: the plugins, the signing key and the compiled policy are loaded once. Each request
stats the policy file; when it changed, the policy is compiled again and swapped in whole. An
MCP trust snapshot is cached the same way (only when the policy checks trust). A
policy that fails to load is never replaced by a guess: evaluations answer 503 and `/healthz`
says why, until the file loads again. The CPU-only steps of a decision run on the event loop;
traces go to a group-commit writer thread, other file I/O to a small thread pool.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import json
import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import attrs

from gait.errors import Category, GaitError
from gait.exports import ExportRequest, open_exports
from gait.gate import Gate
from gait.intent import IntentDecodeError, decode_json_prefix
from gait.keys import KeySource
from gait.mcp import retention
from gait.mcp.boundary import (
    CallOutcome,
    CallRequest,
    Settings,
    evaluate_call,
    normalize_run_id,
    sign_call,
    store_call,
    timestamp_ns,
    trace_file,
)
from gait.mcp.groupwrite import GroupWriter
from gait.mcp.journal import append_event, append_to
from gait.mcp.toolcall import Decoder, adapter_name, resolve_decoder
from gait.mcp.trust import SnapshotCache
from gait.plugins import load_plugins
from gait.signers import resolve_signer
from gait_cli.mcp_serve.config import ServeConfig

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

SERVICE: Final = "gait.mcp.serve"
OPENAPI_PATH: Final = Path(__file__).with_name("openapi.json")
EVALUATE_PATHS: Final = ("/v1/evaluate", "/v1/evaluate/sse", "/v1/evaluate/stream")
STRICT_STATUS: Final = {"block": 403, "require_approval": 409, "dry_run": 409}
RETENTION_PAUSE_SECONDS: Final = 0.25
SINK_CLOSE_SECONDS: Final = 5.0
LOG = logging.getLogger("gait.mcp.serve")

_JSON = (b"content-type", b"application/json")
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_MEDIA_TYPE = re.compile(rf"^\s*({_TOKEN})/({_TOKEN})\s*$")
_PARAMETER = re.compile(rf'^\s*{_TOKEN}\s*=\s*(?:{_TOKEN}|"(?:[^"\\]|\\.)*")\s*$')

# The request object (§1.9.4): field -> (Python type, Go type for messages).
_FIELDS: Final[dict[str, tuple[type, str]]] = {
    "adapter": (str, "string"),
    "call": (dict, "map[string]interface {}"),
    "run_id": (str, "string"),
    "session_id": (str, "string"),
    "session_journal": (str, "string"),
    "checkpoint_interval": (int, "int"),
    "trace_path": (str, "string"),
    "runpack_out": (str, "string"),
    "emit_runpack": (bool, "bool"),
    "pack_out": (str, "string"),
    "emit_pack": (bool, "bool"),
}


class RequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def media_type_error(value: str) -> str:
    """Go's mime.ParseMediaType check of a Content-Type header: "" when it is JSON."""
    media, *parameters = value.split(";")
    match = _MEDIA_TYPE.match(media)
    if match is None or not all(_PARAMETER.match(p) for p in parameters if p.strip()):
        return "invalid content-type header"
    if f"{match.group(1)}/{match.group(2)}".lower() != "application/json":
        return "content-type must be application/json"
    return ""


def decode_request(body: bytes) -> dict[str, Any]:
    """The request object, read as the reference's strict decoder reads it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, "decode request: invalid UTF-8 in request body") from None
    if not text.strip(" \t\r\n"):
        raise RequestError(400, "decode request: EOF")
    try:
        value, end = decode_json_prefix(text, what="request")
    except IntentDecodeError as exc:
        raise RequestError(400, f"decode request: {exc}") from None
    if text[end:].strip(" \t\r\n"):
        raise RequestError(400, "request body must contain a single JSON object")
    if type(value) is not dict:
        raise RequestError(
            400,
            f"decode request: json: cannot unmarshal {_kind(value)} into Go value of type "
            "main.mcpServeEvaluateRequest",
        )
    out: dict[str, Any] = {}
    for key, raw in value.items():
        if key not in _FIELDS:
            raise RequestError(400, f'decode request: json: unknown field "{key}"')
        if raw is None:
            continue
        expected, go_type = _FIELDS[key]
        item = raw
        if expected is int:
            ok = type(raw) is float and raw.is_integer() and abs(raw) < 2**63
            item = int(raw) if ok else raw
        else:
            ok = type(raw) is expected
        if not ok:
            raise RequestError(
                400,
                f"decode request: json: cannot unmarshal {_kind(item)} into Go struct field "
                f"mcpServeEvaluateRequest.{key} of type {go_type}",
            )
        out[key] = item
    return out


def _encode(payload: Mapping[str, Any]) -> bytes:
    return (json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _error_body(message: str) -> bytes:
    return _encode({"ok": False, "error": message})


@attrs.define
class _PolicyState:
    signature: tuple[int, ...] | None
    gate: Gate | None
    error: str


class PolicyHolder:
    """The compiled policy of a file, compiled again when the file changes (stat-based)."""

    def __init__(self, path: Path, host: Any) -> None:
        self.path = path
        self.host = host
        self._lock = threading.Lock()
        self._state = _PolicyState(None, None, "policy not loaded")
        self.current()

    def _signature(self) -> tuple[int, ...]:
        st = os.stat(self.path)
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def current(self) -> tuple[Gate | None, str]:
        """The gate to decide with, or None and why there is none."""
        state = self._state
        try:
            signature: tuple[int, ...] | None = self._signature()
        except OSError as exc:
            return None, f"policy {self.path} is unavailable: {exc.strerror or exc}"
        if signature == state.signature:
            return state.gate, state.error
        with self._lock:
            if self._state.signature == signature:
                return self._state.gate, self._state.error
            try:
                gate, error = Gate.load(self.path, plugins=self.host), ""
            except GaitError as exc:
                gate, error = None, f"policy {self.path} is invalid: {exc}"
            except OSError as exc:
                gate, error = None, f"policy {self.path} is unavailable: {exc.strerror or exc}"
            try:
                settled = self._signature() == signature
            except OSError:
                settled = False
            # A file that changed while it was read is read again by the next request.
            self._state = _PolicyState(signature if settled else None, gate, error)
            if error:
                LOG.warning("%s", error)
            return gate, error


class RetentionWorker:
    """Applies the retention rules off the request path: each decision wakes it; a pass runs at
    most every RETENTION_PAUSE_SECONDS, so a burst of decisions costs one directory scan."""

    def __init__(self, rules: list[retention.Rule]) -> None:
        self.rules = rules
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gait-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def kick(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            for rule in self.rules:
                warning = retention.apply(rule)
                if warning:
                    (LOG.warning if "_error=" in warning else LOG.info)("%s", warning)
            self._stop.wait(RETENTION_PAUSE_SECONDS)


class ServeApp:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.host = load_plugins(enabled=config.plugins)
        self.policy = PolicyHolder(Path(config.policy), self.host)
        key, warnings = resolve_signer(
            key_mode=config.key_mode,
            private=KeySource(path=config.private_key, env=config.private_key_env),
            signer="ed25519",
            backends=self.host.signers,
        )
        self.key = key
        self.settings = Settings(
            profile=config.profile,
            key_mode=config.key_mode,
            key_warnings=tuple(warnings),
            rate_limit_state=Path(config.rate_limit_state) if config.rate_limit_state else None,
            trust_snapshots=SnapshotCache(),
        )
        self.token = b""
        if config.auth_mode == "token":
            self.token = os.environ.get(config.auth_token_env, "").strip().encode()
        self.decoders: dict[str, Decoder] = {}
        self.pool = ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="gait")
        dirs = {
            "trace": config.trace_dir,
            "runpack": config.runpack_dir,
            "session": config.session_dir,
        }
        rules = [
            retention.Rule(kind=kind, directory=Path(dirs[kind]), max_age_ns=age, max_count=count)
            for kind, (age, count) in sorted(config.retention.items())
            if dirs.get(kind)
        ]
        rules = [rule for rule in rules if rule.active]
        self.retention = RetentionWorker(rules) if rules else None
        self.openapi = OPENAPI_PATH.read_bytes()
        self.writer = GroupWriter(Path(config.trace_dir or "."))
        # A sink factory takes the key that verifies this service's traces; `submit` must
        # return at once (the sink works in the background), so no verdict waits for it.
        sinks = self.host.bridges()
        self.sinks = [sinks[name].factory(verify_key=key.public) for name in config.bridges]
        # None unless exports were asked for: then a decision costs nothing more.
        self.exports = open_exports(
            self.host,
            ExportRequest(
                log_out=config.export_log_out,
                otel_out=config.export_otel_out,
                names=tuple(config.exports),
            ),
            source="mcp.serve",
            lifetime="service",
        )

    # -- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/healthz":
            if method != "GET":
                await _respond(send, 405, _error_body("expected GET"), allow=b"GET")
                return
            await self._healthz(send)
        elif path == "/openapi.json":
            if method != "GET":
                await _respond(send, 405, _error_body("expected GET"), allow=b"GET")
                return
            await _respond(send, 200, self.openapi)
        elif path in EVALUATE_PATHS:
            if method != "POST":
                await _respond(send, 405, _error_body("expected POST"), allow=b"POST")
                return
            await self._evaluate(scope, receive, send)
        else:
            await _respond(
                send, 404, b"404 page not found\n", content_type=b"text/plain; charset=utf-8"
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.retention is not None:
                    self.retention.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # Requests in flight have finished (the server waits for them); what is left
                # is the retention thread and the pool's idle threads.
                if self.retention is not None:
                    self.retention.stop()
                self.pool.shutdown(wait=True)
                self.writer.close()
                for sink in self.sinks:
                    sink.close(timeout=SINK_CLOSE_SECONDS)
                if self.exports is not None:
                    self.exports.close(SINK_CLOSE_SECONDS)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _healthz(self, send: Send) -> None:
        gate, error = self.policy.current()
        body: dict[str, Any] = {"ok": gate is not None, "service": SERVICE}
        if gate is None:
            body["error"] = error
        if self.exports is not None:
            # This worker's delivery counts: exports never decide the health status.
            body["exports"] = self.exports.stats()
        await _respond(send, 200 if gate is not None else 503, _encode(body))

    async def _evaluate(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self._authorize(scope)
            content_type = _header(scope, b"content-type").strip()
            if content_type:
                error = media_type_error(content_type)
                if error:
                    raise RequestError(415, error)
            body = await self._read_body(scope, receive)
            request = decode_request(body)
            status, payload = await self._decide(request)
        except RequestError as exc:
            close = exc.status == 413
            headers = [(b"www-authenticate", b"Bearer")] if exc.status == 401 else []
            await _respond(send, exc.status, _error_body(str(exc)), close=close, extra=headers)
            return
        if self.retention is not None:
            self.retention.kick()
        path = scope["path"]
        if path.endswith("/sse"):
            body = b"event: evaluate\ndata: " + _encode(payload)[:-1] + b"\n\n"
            await _respond(
                send,
                status,
                body,
                content_type=b"text/event-stream",
                extra=[(b"cache-control", b"no-cache"), (b"connection", b"keep-alive")],
            )
        elif path.endswith("/stream"):
            await _respond(send, status, _encode(payload), content_type=b"application/x-ndjson")
        else:
            await _respond(send, status, _encode(payload))

    def _authorize(self, scope: Scope) -> None:
        if self.config.auth_mode != "token":
            return
        if not self.token:
            raise RequestError(401, "auth token is not configured")
        header = _header(scope, b"authorization").strip()
        if not header.startswith("Bearer "):
            raise RequestError(401, "missing bearer authorization")
        provided = header[len("Bearer ") :].strip().encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(provided, self.token):
            raise RequestError(401, "invalid bearer authorization")

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.config.max_request_bytes
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > limit:
            raise RequestError(413, "request body exceeds max-request-bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestError(400, "decode request: unexpected EOF")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestError(413, "request body exceeds max-request-bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    # -- the decision ---------------------------------------------------------------------------
    #
    # The CPU-only steps run on the event loop; file I/O (trace, runpack, journal, rate-limit
    # state) runs on the pool. Handing every request to a thread made each one cost more CPU
    # (lock handoffs between the threads) than the decision itself.

    async def _decide(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            return await self._decide_or_raise(request)
        except RequestError:
            raise
        except GaitError as exc:
            status = 503 if exc.category == Category.STATE_CONTENTION else 400
            raise RequestError(status, str(exc)) from None
        except OSError as exc:
            LOG.error("artifact write failed: %s", exc)
            raise RequestError(500, f"cannot write artifacts: {exc.strerror or exc}") from None
        except Exception:
            LOG.exception("internal error")
            raise RequestError(500, "internal error") from None

    async def _io(self, func: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, func, *args)

    async def _decide_or_raise(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        config = self.config
        call = request.get("call")
        if not call:
            raise RequestError(400, "request.call is required")
        allow_paths = config.allow_client_artifact_paths
        for field in ("trace_path", "runpack_out", "pack_out"):
            if request.get(field, "").strip() and not allow_paths:
                raise RequestError(400, f"request.{field} is not allowed by server configuration")
        if request.get("pack_out", "").strip():
            raise RequestError(400, "request.pack_out is not supported: packs are not implemented")
        if request.get("emit_pack"):
            raise RequestError(400, "request.emit_pack requires server --pack-dir")
        run_id = request.get("run_id", "")
        trace_path = request.get("trace_path", "").strip()
        runpack_out = request.get("runpack_out", "").strip()
        if not runpack_out and request.get("emit_runpack") and config.runpack_dir:
            name = f"runpack_{normalize_run_id(run_id)}_{timestamp_ns()}.zip"
            runpack_out = str(Path(config.runpack_dir) / name)
        gate, error = self.policy.current()
        if gate is None:
            raise RequestError(503, error)
        adapter = adapter_name(request.get("adapter", "") or config.adapter)
        decoder = self.decoders.get(adapter)
        if decoder is None:
            decoder = self.decoders.setdefault(adapter, resolve_decoder(self.host, adapter))
        call_request = CallRequest(
            adapter=adapter,
            payload=call,
            run_id=run_id,
            trace_path=Path(trace_path) if trace_path else None,
            trace_dir=Path(config.trace_dir or "."),
            runpack_out=Path(runpack_out) if runpack_out else None,
        )
        evaluated = evaluate_call(gate, decoder, call_request, self.settings)
        if evaluated.needs_state:
            signed = await self._io(sign_call, gate, evaluated, self.key, self.settings)
        else:
            signed = sign_call(gate, evaluated, self.key, self.settings)
        if call_request.trace_path is None and call_request.runpack_out is None:
            prefix, data = trace_file(signed, call_request)
            path = await self.writer.write(prefix, ".json", data)
            outcome = store_call(signed, self.key, call_request, trace_path=path)
        else:
            outcome = await self._io(store_call, signed, self.key, call_request)
        output = outcome.output
        if self.exports is not None:
            if self.exports.blocking:
                await self._io(self.exports.record_call, signed.trace, output)
            else:
                self.exports.record_call(signed.trace, output)
        if self.sinks and outcome.verdict != "allow" and output.get("trace_path"):
            for sink in self.sinks:
                sink.submit(output["trace_path"], decision=output)
        session_id = request.get("session_id", "").strip() or outcome.session_id
        if session_id:
            await self._io(self._journal, request, outcome, session_id)
        output["exit_code"] = outcome.exit_code
        status = 200
        if config.http_verdict_status == "strict":
            status = STRICT_STATUS.get(outcome.verdict, 200)
        return status, output

    def _journal(self, request: dict[str, Any], outcome: CallOutcome, session_id: str) -> None:
        output = outcome.output
        event = {
            "tool_name": output.get("tool_name", ""),
            "intent_digest": output.get("intent_digest", ""),
            "policy_digest": output.get("policy_digest", ""),
            "policy_id": output.get("policy_id", ""),
            "policy_version": output.get("policy_version", ""),
            "matched_rule_ids": output.get("matched_rule_ids", []),
            "trace_id": output.get("trace_id", ""),
            "trace_path": output.get("trace_path", ""),
            "verdict": outcome.verdict,
            "reason_codes": output.get("reason_codes", []),
            "violations": output.get("violations", []),
        }
        client_path = request.get("session_journal", "").strip()
        if client_path and not self.config.allow_client_artifact_paths:
            raise RequestError(
                400, "request.session_journal is not allowed by server configuration"
            )
        run_id = output["run_id"]
        if client_path:
            path, sequence = (
                Path(client_path),
                append_to(Path(client_path), session_id, run_id, event),
            )
        else:
            path, sequence = append_event(
                Path(self.config.session_dir or "."), session_id, run_id, event
            )
        warnings = output.setdefault("warnings", [])
        warnings.append(f"session_journal={path} sequence={sequence}")
        interval = request.get("checkpoint_interval", 0)
        if interval > 0 and sequence % interval == 0:
            warnings.append("session_checkpoint=skipped (session checkpoints are not implemented)")
        output["session_id"] = session_id


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = _JSON[1],
    allow: bytes = b"",
    close: bool = False,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if allow:
        headers.append((b"allow", allow))
    if close:
        headers.append((b"connection", b"close"))
    headers.extend(extra or ())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app() -> ServeApp:
    """The factory uvicorn calls in every worker process.

    What start-up built (modules, the compiled policy, the server) lives as long as the process,
    so it is frozen out of the cyclic garbage collector, which would otherwise rescan it on every
    full collection (as `gait_cli.main` does for a command's imports).
    """
    app = ServeApp(ServeConfig.from_env())
    gc.collect()
    gc.freeze()
    return app
