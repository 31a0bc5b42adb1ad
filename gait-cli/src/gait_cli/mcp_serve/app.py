"""The ASGI application of `gait mcp serve` (integrations.md §1.9.3-§1.9.7).

A plain ASGI callable, no framework: four routes whose processing order and error bodies are a
wire contract (405, 401, 415, 413, 400, then the decision), which a router with its own
validation layer would only get in the way of. The request object and responses are in
`wire`, token authentication in `auth`, the policy's reloads in `policy`, the limits on
connections in `protocol`.

Per process: the plugins, the signing key and the compiled policy are loaded once. Each request
stats the policy file; when it changed, the policy is read and compiled again off the event
loop and swapped in whole (an edit that does not load leaves the last good policy in force).
An MCP trust snapshot is cached the same way (only when the policy checks trust). The CPU-only
steps of a decision run on the event loop; traces go to a group-commit writer thread, other
file I/O to a small thread pool.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

from gait.errors import Category, FileWriteError, GaitError
from gait.exports import ExportRequest, open_exports
from gait.gate import Gate
from gait.keys import KeySource
from gait.mcp import retention
from gait.mcp.artifacts import normalize_run_id, timestamp_ns
from gait.mcp.groupwrite import GroupWriter
from gait.mcp.journal import append_event, append_to
from gait.mcp.toolcall import Decoder, adapter_name, resolve_decoder
from gait.mcp.trust import SnapshotCache
from gait.pipeline import (
    Request,
    Result,
    Runtime,
    Settings,
    export,
    persist,
    prepare,
    settle,
    sink,
    trace_file,
)
from gait.plugins import load_plugins
from gait.signers import resolve_signer
from gait_cli.mcp_serve import nonces
from gait_cli.mcp_serve.auth import Credentials, ServiceAuth
from gait_cli.mcp_serve.config import ServeConfig, token_of
from gait_cli.mcp_serve.policy import PolicyHolder
from gait_cli.mcp_serve.wire import (
    Receive,
    RequestError,
    Scope,
    Send,
    decode_request,
    encode,
    error_body,
    header,
    media_type_error,
    respond,
)

SERVICE: Final = "gait.mcp.serve"
OPENAPI_PATH: Final = Path(__file__).with_name("openapi.json")
EVALUATE_PATHS: Final = ("/v1/evaluate", "/v1/evaluate/sse", "/v1/evaluate/stream")
STRICT_STATUS: Final = {"block": 403, "require_approval": 409, "dry_run": 409}
RETENTION_PAUSE_SECONDS: Final = 0.25
SINK_CLOSE_SECONDS: Final = 5.0
# Request bodies read before their HMAC is checked, per worker: at most this many bytes, or
# PREAUTH_REQUESTS bodies of --max-request-bytes, whichever is less (docs/security.md). The
# first PREAUTH_FREE bytes of each body are not counted: as much as the HTTP protocol buffers
# for any connection anyway, it lets a client's usual request through while the budget is
# taken by requests that never authenticate.
PREAUTH_BYTES: Final = 32 << 20
PREAUTH_REQUESTS: Final = 16
PREAUTH_FREE: Final = 64 << 10
PREAUTH_FULL: Final = "too many unauthenticated request bodies in progress"
LOG = logging.getLogger("gait.mcp.serve")


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


class Budget:
    """Bytes shared by the requests of one worker (its event loop: no lock)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0

    def take(self, size: int) -> bool:
        if self.used + size > self.total:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size


class ServeApp:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.host = load_plugins(enabled=config.plugins)
        self.pool = ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="gait")
        self.policy = PolicyHolder(Path(config.policy), self.host, self._io)
        key, warnings = resolve_signer(
            key_mode=config.key_mode,
            private=KeySource(path=config.private_key, env=config.private_key_env),
            signer=config.signer,
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
        # Read once; never logged. None: auth off.
        self.auth = None
        if config.auth_mode == "token":
            # The service's ledger (server.run made it); a process of its own otherwise.
            ledger = nonces.CURRENT or nonces.NonceLedger.create()
            self.auth = ServiceAuth(token_of(config), ledger)
        self.preauth = Budget(min(PREAUTH_BYTES, PREAUTH_REQUESTS * config.max_request_bytes))
        self.decoders: dict[str, Decoder] = {}
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
        sinks = self.host.sinks()
        self.sinks = [sinks[name].factory(verify_key=key.public) for name in config.bridges]
        self._runtimes: Runtime | None = None
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
                await respond(send, 405, error_body("expected GET"), allow=b"GET")
                return
            await self._healthz(scope, send)
        elif path == "/openapi.json":
            if method != "GET":
                await respond(send, 405, error_body("expected GET"), allow=b"GET")
                return
            await respond(send, 200, self.openapi)
        elif path in EVALUATE_PATHS:
            if method != "POST":
                await respond(send, 405, error_body("expected POST"), allow=b"POST")
                return
            await self._evaluate(scope, receive, send)
        else:
            await respond(
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

    async def _healthz(self, scope: Scope, send: Send) -> None:
        """200 while the service can decide and write traces, else 503. In token mode the
        detail (policy path, errors, exports) is shown only to a request that authenticates;
        others get just `ok` and `service`."""
        view = await self.policy.current()
        trace_error = await self._io(_probe_directory, self.config.trace_dir or ".")
        ok = view.gate is not None and not trace_error
        body: dict[str, Any] = {"ok": ok, "service": SERVICE}
        credentials = self.auth.authenticates(scope) if self.auth is not None else None
        if self.auth is None or credentials is not None:
            if not ok:
                body["error"] = trace_error if view.gate is not None else view.error
            if view.status != "current":
                body["policy"] = {"path": view.path, "status": view.status, "error": view.error}
            if trace_error:
                body["traces"] = {"dir": self.config.trace_dir or ".", "error": trace_error}
            if self.exports is not None:
                # This worker's delivery counts: exports never decide the health status.
                body["exports"] = self.exports.stats()
        status, data = (200 if ok else 503), encode(body)
        extra = []
        if credentials is not None and credentials.nonce and self.auth is not None:
            extra.append(self.auth.signature(credentials.nonce, b"", status, data))
        await respond(send, status, data, extra=extra)

    async def _evaluate(self, scope: Scope, receive: Receive, send: Send) -> None:
        """405 was checked by the router; then 401, 415, 413, 400 and the decision.

        With a nonce (our clients), the body is read before the Content-Type check and, for
        the HMAC scheme, before the HMAC is checked (it covers the body); once it is read and
        the request authenticated, every answer carries the service's HMAC (`signed`).
        """
        signed: tuple[str, bytes] | None = None
        try:
            credentials = self.auth.check_headers(scope) if self.auth is not None else None
            if credentials is not None and credentials.nonce and self.auth is not None:
                if credentials.hmac:
                    body = await self._read_unauthenticated(scope, receive, credentials)
                else:
                    body = await self._read_body(scope, receive)
                signed = (credentials.nonce, body)
                _check_content_type(scope)
            else:
                _check_content_type(scope)
                body = await self._read_body(scope, receive)
            request = decode_request(body)
            status, payload = await self._decide(request)
        except RequestError as exc:
            close = exc.status == 413 or str(exc) == PREAUTH_FULL
            headers = [(b"www-authenticate", b"Bearer")] if exc.status == 401 else []
            data = error_body(str(exc))
            if signed is not None and self.auth is not None:
                headers.append(self.auth.signature(signed[0], signed[1], exc.status, data))
            await respond(send, exc.status, data, close=close, extra=headers)
            return
        if self.retention is not None:
            self.retention.kick()
        path = scope["path"]
        content_type = b"application/json"
        extra: list[tuple[bytes, bytes]] = []
        if path.endswith("/sse"):
            data = b"event: evaluate\ndata: " + encode(payload)[:-1] + b"\n\n"
            content_type = b"text/event-stream"
            extra = [(b"cache-control", b"no-cache"), (b"connection", b"keep-alive")]
        else:
            data = encode(payload)
            if path.endswith("/stream"):
                content_type = b"application/x-ndjson"
        if signed is not None and self.auth is not None:
            extra.append(self.auth.signature(signed[0], signed[1], status, data))
        await respond(send, status, data, content_type=content_type, extra=extra)

    async def _read_unauthenticated(
        self, scope: Scope, receive: Receive, credentials: Credentials
    ) -> bytes:
        """The body of an HMAC request, read within the worker's budget for bodies whose
        sender has not proved the token yet (503 and close above it), then authenticated."""
        held = [0]
        try:
            body = await self._read_body(scope, receive, held)
            assert self.auth is not None
            self.auth.check_body(credentials, scope, body)
            return body
        finally:
            self.preauth.give(held[0])

    async def _read_body(
        self, scope: Scope, receive: Receive, held: list[int] | None = None
    ) -> bytes:
        """The request body; with `held`, its bytes are taken from the pre-authentication
        budget as they are announced or arrive (`held[0]`: how many, for the caller to give
        back)."""
        limit = self.config.max_request_bytes
        declared = header(scope, b"content-length")
        if declared.isdigit() and int(declared) > limit:
            raise RequestError(413, "request body exceeds max-request-bytes")
        if held is not None and declared.isdigit():
            self._take(held, int(declared) - PREAUTH_FREE)
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
            if held is not None and size - PREAUTH_FREE > held[0]:
                self._take(held, size - PREAUTH_FREE - held[0])
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    def _take(self, held: list[int], size: int) -> None:
        if size <= 0:
            return
        if not self.preauth.take(size):
            raise RequestError(503, PREAUTH_FULL)
        held[0] += size

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
        except FileWriteError as exc:  # the service's own folders: not the client's to fix
            LOG.error("artifact write failed: %s", exc)
            raise RequestError(500, str(exc)) from None
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
        view = self.policy.peek() or await self.policy.reload()
        gate = view.gate
        if gate is None:
            raise RequestError(503, view.error)
        adapter = adapter_name(request.get("adapter", "") or config.adapter)
        decoder = self.decoders.get(adapter)
        if decoder is None:
            decoder = self.decoders.setdefault(adapter, resolve_decoder(self.host, adapter))
        call_request = Request(
            adapter=adapter,
            decoder=decoder,
            payload=call,
            run_id=run_id,
            trace_path=Path(trace_path) if trace_path else None,
            trace_dir=Path(config.trace_dir or "."),
            runpack_out=Path(runpack_out) if runpack_out else None,
        )
        # The pipeline's stages (gait.pipeline.decide), scheduled for the service: the CPU-only
        # ones here, state files and artifacts on the pool, default-named traces through the
        # group-commit writer, exports in the background unless fail-closed.
        runtime = self._runtime(gate)
        evaluated = prepare(call_request, runtime)
        if evaluated.needs_state:
            signed = await self._io(settle, evaluated, runtime)
        else:
            signed = settle(evaluated, runtime)
        if call_request.trace_path is None and call_request.runpack_out is None:
            prefix, data = trace_file(signed)
            path = await self.writer.write(prefix, ".json", data)
            outcome = persist(signed, runtime, trace_path=path)
        else:
            outcome = await self._io(persist, signed, runtime)
        output = outcome.output
        if self.exports is not None and self.exports.blocking:
            await self._io(export, outcome, runtime)
        else:
            export(outcome, runtime)
        sink(outcome, runtime.sinks)
        session_id = request.get("session_id", "").strip() or outcome.session_id
        if session_id:
            await self._io(self._journal, request, outcome, session_id)
        output["exit_code"] = outcome.exit_code
        status = 200
        if config.http_verdict_status == "strict":
            status = STRICT_STATUS.get(outcome.verdict, 200)
        return status, output

    def _runtime(self, gate: Gate) -> Runtime:
        """The pipeline's runtime for the policy in force (built again only when it changes)."""
        runtime = self._runtimes
        if runtime is None or runtime.gate is not gate:
            runtime = Runtime(
                gate=gate,
                key=self.key,
                settings=self.settings,
                exports=self.exports,
                sinks=self.sinks,
            )
            self._runtimes = runtime
        return runtime

    def _journal(self, request: dict[str, Any], outcome: Result, session_id: str) -> None:
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


def _check_content_type(scope: Scope) -> None:
    content_type = header(scope, b"content-type").strip()
    if content_type:
        error = media_type_error(content_type)
        if error:
            raise RequestError(415, error)


def _probe_directory(directory: str) -> str:
    """ "" when a file can be created and written in `directory`, else why not (for /healthz).
    An unnamed file (O_TMPFILE) where the system has them: nothing is ever left behind."""
    flag = getattr(os, "O_TMPFILE", 0)
    try:
        if flag:
            try:
                fd = os.open(directory, flag | os.O_WRONLY | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                    raise
                flag = 0
        if not flag:
            name = os.path.join(directory, f".gait-healthz-{os.getpid()}-{os.urandom(4).hex()}")
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            os.unlink(name)
        try:
            os.write(fd, b"\n")
        finally:
            os.close(fd)
    except OSError as exc:
        return f"traces cannot be written to {directory}: {exc.strerror or exc}"
    return ""


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
