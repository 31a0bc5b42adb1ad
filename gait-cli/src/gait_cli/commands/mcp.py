"""`gait mcp proxy` (alias `bridge`), `gait mcp verify` and `gait mcp serve` (integrations.md
§1)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import attrs
import click

from gait.errors import ExitCode, GaitError, InvalidInputError, error_envelope
from gait.gostrings import go_lower, go_trim_space
from gait.keys import KeySource
from gait.limits import MAX_INTENT_BYTES
from gait.signers import resolve_signer
from gait_cli.app import cli
from gait_cli.context import plugin_host
from gait_cli.exportopts import export_options, open_command_exports
from gait_cli.output import Report, gait_command

UNSUPPORTED = "is not supported in this version"


@cli.group("mcp")
def mcp() -> None:
    """Gate MCP and agent tool calls: a one-shot proxy (bridge is an alias), a server trust
    check and the boundary service."""


def _refuse(**flags: str) -> None:
    for flag, value in flags.items():
        if value:
            raise InvalidInputError(f"--{flag.replace('_', '-')} {UNSUPPORTED}")


def _read_call(path: str) -> bytes:
    if path.strip() != "-":
        from gait.fsutil import read_regular_file

        try:
            return read_regular_file(path, MAX_INTENT_BYTES, what="call payload")
        except InvalidInputError as exc:
            raise InvalidInputError(f"read call payload: {exc}") from None
    try:
        data = sys.stdin.buffer.read(MAX_INTENT_BYTES + 1)
    except OSError as exc:
        raise InvalidInputError(f"read call payload: {exc.strerror or exc}") from None
    return data


def _proxy_text(output: dict[str, Any]) -> list[str]:
    lines = [f"mcp proxy: verdict={output['verdict']}", f"trace: {output['trace_path']}"]
    if output.get("runpack_path"):
        lines.append(f"runpack: {output['runpack_path']}")
    return lines


PROXY_HELP = (
    "Decide one tool call (a file, or - for standard input) against a policy and write a "
    "signed trace. Never runs the tool: execute it only when the verdict is allow."
)


def _proxy_options(func: Any) -> Any:
    options = [
        click.argument("args", nargs=-1),
        click.option("--policy", "policy_path", default="", help="Policy YAML (or 1st argument)."),
        click.option("--call", "call_path", default="", help="Tool call JSON, - for stdin."),
        click.option("--adapter", default="mcp", show_default=True, help="Payload format."),
        click.option("--profile", default="standard", show_default=True, help="standard|oss-prod"),
        click.option("--job-root", default="./gait-out/jobs", show_default=True, help="Jobs."),
        click.option("--trace-out", default="", help="Trace path (default trace_<run>_<t>.json)."),
        click.option("--run-id", default="", help="run_id of the decision's artifacts."),
        click.option("--runpack-out", default="", help="Also write a one-decision runpack."),
        click.option("--key-mode", default="dev", show_default=True, help="dev or prod."),
        click.option("--private-key", default="", help="Signing key file (prod)."),
        click.option("--private-key-env", default="", help="Env var with the signing key."),
        click.option(
            "--signer", default="ed25519", show_default=True, help="Signer plugin (prod mode)."
        ),
        click.option(
            "--rate-limit-state",
            default=".gait-out/gate_rate_limits.json",
            show_default=True,
            help="State file for rate_limit and destructive_budget rules.",
        ),
        click.option(
            "--context-envelope", default="", help="Refused: not implemented in this version."
        ),
        click.option(
            "--kill-switch-state", default="", help="Refused: not implemented in this version."
        ),
        click.option("--pack-out", default="", help="Refused: not implemented in this version."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def proxy_command(name: str) -> None:
    @gait_command(
        mcp,
        name,
        exit_codes=(0, 1, 3, 4, 6, 7),
        help=PROXY_HELP if name == "proxy" else "Alias of proxy. " + PROXY_HELP,
    )
    @_proxy_options
    @export_options
    def command(**params: Any) -> Report:
        try:
            return _proxy(ProxyOptions(**params))
        except GaitError as exc:
            # The whole envelope from the error itself: its category (io_failure,
            # state_contention) is not the exit code's.
            hint = [f"hint: {exc.hint}"] if exc.hint else []
            return Report(
                payload={**error_envelope(str(exc), exc.category, exc.hint), "executed": False},
                text=[f"mcp proxy error: {exc}", *hint],
                exit_code=exc.exit_code,
                ok=False,
            )


@attrs.frozen(kw_only=True)
class ProxyOptions:
    """The flags of `gait mcp proxy` (and `bridge`), one record (named as the click
    parameters)."""

    args: tuple[str, ...]
    policy_path: str
    call_path: str
    adapter: str
    profile: str
    job_root: str
    trace_out: str
    run_id: str
    runpack_out: str
    key_mode: str
    private_key: str
    private_key_env: str
    signer: str
    rate_limit_state: str
    context_envelope: str
    kill_switch_state: str
    pack_out: str
    export_log_out: str
    export_otel_out: str
    export_names: tuple[str, ...]


def _proxy(o: ProxyOptions) -> Report:
    from gait.gate import Gate
    from gait.mcp.checks import check_profile
    from gait.mcp.toolcall import adapter_name, parse_payload, resolve_decoder
    from gait.pipeline import Request, Runtime, Settings, decide

    args = list(o.args)
    policy_path, call_path = o.policy_path, o.call_path
    if not policy_path.strip() and args:
        policy_path = args.pop(0)
    if not call_path.strip() and args:
        call_path = args.pop(0)
    if not policy_path.strip() or not call_path.strip() or args:
        raise InvalidInputError("expected --policy <policy.yaml> and --call <tool_call.json|->")
    _refuse(
        context_envelope=o.context_envelope,
        kill_switch_state=o.kill_switch_state,
        pack_out=o.pack_out,
    )
    host = plugin_host(click.get_current_context())
    name = adapter_name(o.adapter)
    decoder = resolve_decoder(host, name)
    payload = parse_payload(_read_call(call_path))
    settings_profile = check_profile(go_lower(go_trim_space(o.profile)))
    gate = Gate.load(policy_path, plugins=host)
    key, warnings = resolve_signer(
        key_mode=go_lower(go_trim_space(o.key_mode)),
        private=KeySource(path=o.private_key, env=o.private_key_env),
        signer=o.signer,
        backends=host.signers,
    )
    exports = open_command_exports(
        host, o.export_log_out, o.export_otel_out, o.export_names, source="mcp.proxy"
    )
    request = Request(
        adapter=name,
        decoder=decoder,
        payload=payload,
        run_id=o.run_id,
        trace_path=Path(o.trace_out) if o.trace_out.strip() else None,
        runpack_out=Path(o.runpack_out) if o.runpack_out.strip() else None,
    )
    settings = Settings(
        profile=settings_profile,
        key_mode=go_lower(go_trim_space(o.key_mode)),
        key_warnings=tuple(warnings),
        rate_limit_state=Path(o.rate_limit_state) if o.rate_limit_state else None,
    )
    outcome = decide(request, Runtime(gate=gate, key=key, settings=settings, exports=exports))
    payload_out = {k: v for k, v in outcome.output.items() if k != "ok"}
    return Report(
        payload=payload_out,
        text=_proxy_text(outcome.output),
        exit_code=ExitCode(outcome.exit_code),
    )


proxy_command("proxy")
proxy_command("bridge")


VERIFY_HELP = (
    "Check one MCP server against the policy's mcp_trust block and its local trust snapshot, "
    "without a tool call. The risk class is --risk-class, else the most severe of the policy's "
    "required_risk_classes. A policy without mcp_trust allows every server."
)


@gait_command(mcp, "verify", exit_codes=(0, 3, 4, 6), help=VERIFY_HELP)
@click.argument("args", nargs=-1)
@click.option("--policy", "policy_path", default="", help="Policy YAML with an mcp_trust block.")
@click.option("--server", "server_path", default="", help="Server description JSON.")
@click.option("--risk-class", default="", help="Risk class to check the server for.")
def verify(args: tuple[str, ...], policy_path: str, server_path: str, risk_class: str) -> Report:
    from gait.mcp import trust as mcp_trust
    from gait.policy import load_policy_file

    if not policy_path.strip() or not server_path.strip() or args:
        raise InvalidInputError("expected --policy <policy.yaml> and --server <server.json>")
    trust = load_policy_file(policy_path).policy.mcp_trust
    server = mcp_trust.read_server(server_path)
    if not trust.enabled:
        payload: dict[str, Any] = {
            "server_id": go_trim_space(server["server_id"]),
            "server_name": go_trim_space(server["server_name"]),
            "verdict": "allow",
        }
        return Report(
            payload={k: v for k, v in payload.items() if v},
            text=["mcp verify: verdict=allow", "trust: not configured in the policy"],
        )
    risk = go_trim_space(risk_class) or mcp_trust.default_risk_class(trust)
    checked = mcp_trust.decide_trust(trust, server, risk, mcp_trust.read_snapshot)
    verdict, exit_code = "allow", ExitCode.OK
    if checked.enforced:
        verdict = trust.action
        exit_code = ExitCode.POLICY_BLOCKED if verdict == "block" else ExitCode.APPROVAL_REQUIRED
    payload = {
        "server_id": checked.wire.get("server_id", ""),
        "server_name": checked.wire.get("server_name", ""),
        "trust_model": "local_snapshot",
        "snapshot_path": trust.snapshot,
        "verdict": verdict,
        "reason_codes": list(checked.reason_codes),
        "violations": [mcp_trust.TRUST_VIOLATION] if checked.enforced else [],
        "mcp_trust": dict(checked.wire),
    }
    return Report(
        payload={k: v for k, v in payload.items() if v},
        text=[
            f"mcp verify: verdict={verdict}",
            f"trust: status={checked.status} reason_codes={','.join(checked.reason_codes)}",
            *([checked.detail] if checked.detail else []),
        ],
        exit_code=exit_code,
        ok=exit_code == ExitCode.OK,
    )


SERVE_HELP = (
    "Run the boundary service: POST /v1/evaluate (also /sse and /stream) decides a tool call and "
    "writes its signed trace; GET /healthz; GET /openapi.json. Binds 127.0.0.1:8787 by default; "
    "any other TCP address needs --auth-mode token; unix:PATH listens on a Unix socket. Stops "
    "gracefully on SIGTERM or SIGINT."
)


@gait_command(mcp, "serve", exit_codes=(0, 1, 6, 7), help=SERVE_HELP)
@click.argument("args", nargs=-1)
@click.option("--policy", "policy_path", default="", help="Policy YAML (reloaded when it changes).")
@click.option(
    "--listen", default="127.0.0.1:8787", show_default=True, help="host:port or unix:PATH."
)
@click.option(
    "--socket-mode", default="0600", show_default=True, help="Unix socket file mode (octal)."
)
@click.option("--adapter", default="mcp", show_default=True, help="Default payload format.")
@click.option("--profile", default="standard", show_default=True, help="standard or oss-prod.")
@click.option("--auth-mode", default="off", show_default=True, help="off or token.")
@click.option("--auth-token-env", default="", help="Env var holding the bearer token.")
@click.option("--max-request-bytes", default=1 << 20, show_default=True, type=int, help="Limit.")
@click.option("--http-verdict-status", default="compat", show_default=True, help="compat|strict")
@click.option("--allow-client-artifact-paths", is_flag=True, help="Let requests choose paths.")
@click.option("--trace-dir", default="./gait-out/mcp-serve/traces", show_default=True)
@click.option("--runpack-dir", default="", help="Where emit_runpack requests write runpacks.")
@click.option("--session-dir", default="./gait-out/mcp-serve/sessions", show_default=True)
@click.option("--trace-max-age", default="0", show_default=True, help="Go duration, 0 off.")
@click.option("--trace-max-count", default=0, show_default=True, type=int)
@click.option("--runpack-max-age", default="0", show_default=True)
@click.option("--runpack-max-count", default=0, show_default=True, type=int)
@click.option("--session-max-age", default="0", show_default=True)
@click.option("--session-max-count", default=0, show_default=True, type=int)
@click.option("--key-mode", default="dev", show_default=True, help="dev or prod.")
@click.option("--private-key", default="", help="Signing key file (prod).")
@click.option("--private-key-env", default="", help="Env var with the signing key.")
@click.option("--signer", default="ed25519", show_default=True, help="Signer plugin (prod mode).")
@click.option(
    "--rate-limit-state",
    default=".gait-out/gate_rate_limits.json",
    show_default=True,
    help="State file for rate_limit and destructive_budget rules (shared by all workers).",
)
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option(
    "--max-header-bytes",
    default=16384,
    show_default=True,
    type=int,
    help="Request line and headers; more is a 431 and a closed connection.",
)
@click.option("--header-timeout", default="5s", show_default=True, help="Time to send headers.")
@click.option("--read-timeout", default="30s", show_default=True, help="Time to send a body.")
@click.option(
    "--write-timeout", default="30s", show_default=True, help="Time a client may stop reading."
)
@click.option("--idle-timeout", default="60s", show_default=True, help="Keep-alive idle time.")
@click.option(
    "--max-connections",
    default=1024,
    show_default=True,
    type=int,
    help="Open connections per worker; more are answered 503 and closed.",
)
@click.option(
    "--bridge",
    "bridges",
    multiple=True,
    help="Sink plugin that receives each non-allow decision's trace in the background "
    "(repeatable), e.g. beads.",
)
@click.option("--job-root", default="./gait-out/jobs", show_default=True, help="Jobs.")
@click.option("--context-envelope", default="", help="Refused: not implemented in this version.")
@click.option("--kill-switch-state", default="", help="Refused: not implemented in this version.")
@click.option("--pack-dir", default="", help="Refused: not implemented in this version.")
@export_options
def serve(**params: Any) -> Report:
    return _serve(ServeOptions(**params))


@attrs.frozen(kw_only=True)
class ServeOptions:
    """The flags of `gait mcp serve`, one record (named as the click parameters); checked
    into a `ServeConfig`."""

    args: tuple[str, ...]
    policy_path: str
    listen: str
    socket_mode: str
    adapter: str
    profile: str
    auth_mode: str
    auth_token_env: str
    max_request_bytes: int
    http_verdict_status: str
    allow_client_artifact_paths: bool
    trace_dir: str
    runpack_dir: str
    session_dir: str
    trace_max_age: str
    trace_max_count: int
    runpack_max_age: str
    runpack_max_count: int
    session_max_age: str
    session_max_count: int
    key_mode: str
    private_key: str
    private_key_env: str
    signer: str
    rate_limit_state: str
    workers: int
    max_header_bytes: int
    header_timeout: str
    read_timeout: str
    write_timeout: str
    idle_timeout: str
    max_connections: int
    bridges: tuple[str, ...]
    job_root: str
    context_envelope: str
    kill_switch_state: str
    pack_dir: str
    export_log_out: str
    export_otel_out: str
    export_names: tuple[str, ...]


def _serve(o: ServeOptions) -> Report:
    from gait.exports import ExportRequest, open_exports
    from gait.mcp.checks import check_profile
    from gait.mcp.toolcall import adapter_name, resolve_decoder
    from gait_cli.mcp_serve import config as cfg
    from gait_cli.mcp_serve.policy import load_initial

    rest = list(o.args)
    policy_path = o.policy_path
    if not policy_path.strip() and rest:
        policy_path = rest.pop(0)
    if not policy_path.strip() or rest:
        raise InvalidInputError("expected --policy <policy.yaml>")
    ages = {
        "trace": cfg.parse_duration("--trace-max-age", o.trace_max_age),
        "runpack": cfg.parse_duration("--runpack-max-age", o.runpack_max_age),
        "session": cfg.parse_duration("--session-max-age", o.session_max_age),
    }
    counts = {
        "trace": o.trace_max_count,
        "runpack": o.runpack_max_count,
        "session": o.session_max_count,
    }
    exports = ExportRequest.from_flags(o.export_log_out, o.export_otel_out, o.export_names)
    config = cfg.check(
        cfg.ServeConfig(
            policy=policy_path,
            listen=o.listen.strip(),
            adapter=adapter_name(o.adapter),
            profile=go_lower(go_trim_space(o.profile)),
            auth_mode=go_lower(go_trim_space(o.auth_mode)),
            auth_token_env=o.auth_token_env.strip(),
            max_request_bytes=o.max_request_bytes,
            http_verdict_status=go_lower(go_trim_space(o.http_verdict_status)),
            allow_client_artifact_paths=o.allow_client_artifact_paths,
            trace_dir=o.trace_dir.strip(),
            runpack_dir=o.runpack_dir.strip(),
            session_dir=o.session_dir.strip(),
            retention={kind: (ages[kind], counts[kind]) for kind in ages},
            key_mode=go_lower(go_trim_space(o.key_mode)),
            private_key=o.private_key.strip(),
            private_key_env=o.private_key_env.strip(),
            signer=o.signer,
            rate_limit_state=o.rate_limit_state,
            plugins=not click.get_current_context().find_root().params.get("no_plugins", False),
            workers=o.workers,
            socket_mode=cfg.parse_socket_mode(o.socket_mode),
            max_header_bytes=o.max_header_bytes,
            header_timeout=cfg.parse_timeout("--header-timeout", o.header_timeout),
            read_timeout=cfg.parse_timeout("--read-timeout", o.read_timeout),
            write_timeout=cfg.parse_timeout("--write-timeout", o.write_timeout),
            idle_timeout=cfg.parse_timeout("--idle-timeout", o.idle_timeout),
            max_connections=o.max_connections,
            bridges=sorted({name.strip() for name in o.bridges if name.strip()}),
            export_log_out=exports.log_out,
            export_otel_out=exports.otel_out,
            exports=list(exports.names),
        )
    )
    _refuse(
        context_envelope=o.context_envelope,
        kill_switch_state=o.kill_switch_state,
        pack_dir=o.pack_dir,
    )
    # What the reference finds only per request (every request a 400), found before serving.
    check_profile(config.profile)
    host = plugin_host(click.get_current_context())
    resolve_decoder(host, config.adapter)
    # Only sinks: an adapter's or a CI provider's name is a different kind (gait.registry).
    sinks = host.sinks()
    for name in config.bridges:
        if name not in sinks:
            known = ", ".join(sorted(sinks)) or "none installed"
            raise InvalidInputError(f"unknown --bridge {name!r} (sinks: {known})")
    # Each worker builds its own exporters; building them once here finds what cannot start
    # (an exporter that is not installed: exit 7) before the port is bound.
    probe = open_exports(host, exports, source="mcp.serve", lifetime="service")
    if probe is not None:
        probe.close(0)
    # A FIFO or device as the policy is refused here, before anything waits on it.
    load_initial(config.policy, host)
    resolve_signer(
        key_mode=config.key_mode,
        private=KeySource(path=config.private_key, env=config.private_key_env),
        signer=config.signer,
        backends=host.signers,
    )
    from gait.mcp.artifacts import remove_stale_temporaries
    from gait_cli.fast import dump_json
    from gait_cli.mcp_serve.server import bind, run

    if config.trace_dir:
        remove_stale_temporaries(Path(config.trace_dir))

    sock = bind(config, listen=config.workers == 1)
    address = sock.getsockname()
    if config.unix_path:
        listening = config.listen
    else:
        ip, port = address[0], address[1]
        listening = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    as_json = "--json" in sys.argv
    if as_json:
        click.echo(
            dump_json(
                {
                    "ok": True,
                    "listen": listening,
                    "policy": config.policy,
                    "adapter": config.adapter,
                    "profile": config.profile,
                    "workers": config.workers,
                }
            )
        )
    else:
        click.echo(f"mcp serve: listening={listening} adapter={config.adapter}")
    sys.stdout.flush()
    raise SystemExit(run(config, sock))
