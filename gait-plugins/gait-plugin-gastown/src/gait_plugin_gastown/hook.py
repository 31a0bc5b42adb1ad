"""`gait gastown hook`: the PreToolUse gate of a Gas Town worker, in Claude Code's protocol.

Claude Code runs it once per tool call, with the hook event on standard input, and reads the
answer from the exit code:

- `allow`: exit 0, nothing printed (Claude Code's own permission rules still apply);
- `require_approval`: exit 0 with `{"hookSpecificOutput": {..., "permissionDecision": "ask"}}`
  (or a deny with `--approval deny`);
- `block`, `dry_run`, and every error (bad flags, unreadable or oversized input, a policy that
  does not load, a service that is down, a timeout): exit 2 with the reason on standard error.
  Claude Code does not run the tool and hands the reason to the model. Any other exit code would
  let the tool run, so nothing here exits otherwise, and a watchdog thread answers exit 2 when
  the decision takes longer than `--timeout`.

This module is the whole `--serve` path and imports the standard library only (and only its
cheap parts); a decision in process (`--policy`) imports Gait's core from `local`. The
`gait-gastown-hook` console script (`console`) calls `main`, as the click command `gait gastown
hook` in `cli` does; the click command also answers `--help` from the same option table.
"""

from __future__ import annotations

import _thread
import os
import sys
import time

from gait_plugin_gastown.identity import IDENTITY_KEY, identity_from
from gait_plugin_gastown.wire import (
    MIN_TOKEN_BYTES,
    RESPONSE_AUTH_HEADER,
    WireError,
    client_headers,
    dumps,
    loads,
    post_json,
    response_is_authentic,
    split_service_url,
    split_unix_url,
)

TYPE_CHECKING = False  # typing costs start-up time; mypy honours this name
if TYPE_CHECKING:
    from collections.abc import Sequence

VERDICTS = ("allow", "block", "require_approval", "dry_run")
DEFAULT_TIMEOUT_S = 10.0
# Claude Code runs the tool when it stops a hook at its own timeout (not reached in 75 s by
# 2.1.330; gt cannot set it), so the hook answers well before.
MAX_TIMEOUT_S = 60.0
DEFAULT_OUT_DIR = "gait-out/integrations/gastown"
MAX_INPUT_BYTES = 1 << 20  # gait.limits.MAX_INTENT_BYTES (a test keeps them equal)
EVALUATE_PATH = "/v1/evaluate"
ADAPTER = "gastown"


class UsageError(Exception):
    """Flags the hook cannot work with; it denies every call until they are fixed."""


class Option:
    """One flag: `--name VALUE` or `--name=VALUE`; `multiple` ones may repeat; a `switch`
    takes no value (its value is "1" when given)."""

    __slots__ = ("choices", "default", "help", "metavar", "multiple", "name", "scope", "switch")

    def __init__(
        self,
        name: str,
        metavar: str,
        help: str,
        *,
        default: str = "",
        choices: tuple[str, ...] = (),
        multiple: bool = False,
        scope: str = "",
        switch: bool = False,
    ) -> None:
        self.name = name
        self.metavar = metavar
        self.help = help
        self.default = default
        self.choices = choices
        self.multiple = multiple
        self.scope = scope  # "local": only with --policy; "serve": only with --serve
        self.switch = switch

    @property
    def dest(self) -> str:
        return self.name[2:].replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    Option("--policy", "PATH", "Policy YAML: decide in this process."),
    Option(
        "--serve",
        "URL",
        "Ask a running `gait mcp serve` instead: unix:/PATH (its --listen unix:PATH; the hook "
        "checks the socket's server runs as --service-uid or root before sending anything) or "
        "http://127.0.0.1:PORT (loopback only; needs --auth-token-env). It needs this plugin "
        "installed too. A service that does not answer, or cannot prove who it is, is a deny.",
    ),
    Option(
        "--auth-token-env",
        "NAME",
        "Environment variable holding the service's token (serve --auth-mode token; at least "
        "16 bytes). The token is never sent: the hook proves it holds it and honours only an "
        "answer whose X-Gait-Server-Auth proves the service holds it too.",
        scope="serve",
    ),
    Option(
        "--service-uid",
        "UID",
        "With --serve unix:PATH: the uid the service runs as (root is always accepted); "
        "default: this process's uid.",
        scope="serve",
    ),
    Option(
        "--plain-bearer",
        "",
        "Compatibility with the reference's service: send the token as `Authorization: Bearer` "
        "and honour an answer that proves nothing. Not safe against a process that takes the "
        "service's port first.",
        scope="serve",
        switch=True,
    ),
    Option(
        "--timeout",
        "SECONDS",
        f"Deny when no decision is made within this time (at most {MAX_TIMEOUT_S:g}): Claude "
        "Code runs the tool when it stops a hook at its own timeout.",
        default=f"{DEFAULT_TIMEOUT_S:g}",
    ),
    Option(
        "--approval",
        "ask|deny",
        "Answer require_approval with Claude Code's `ask` (a prompt, or a refusal where nobody "
        "can be asked) or with a deny.",
        default="ask",
        choices=("ask", "deny"),
    ),
    Option(
        "--max-input-bytes",
        "N",
        "Largest hook event read; a larger one is a deny.",
        default=str(MAX_INPUT_BYTES),
    ),
    Option(
        "--out-dir",
        "DIR",
        "Where each decision's signed trace and intent record go.",
        default=DEFAULT_OUT_DIR,
        scope="local",
    ),
    Option(
        "--trace-out",
        "PATH",
        "Write the trace here instead (the intent record goes beside it).",
        scope="local",
    ),
    Option(
        "--runpack-dir",
        "DIR",
        "Also write a one-decision runpack per call here (for gait regress).",
        scope="local",
    ),
    Option(
        "--profile",
        "standard|oss-prod",
        "oss-prod needs identity, workspace and session and --key-mode prod.",
        default="standard",
        scope="local",
    ),
    Option("--key-mode", "dev|prod", "Signing key mode.", default="dev", scope="local"),
    Option("--private-key", "PATH", "Signing key file (prod).", scope="local"),
    Option("--private-key-env", "NAME", "Environment variable with the key (prod).", scope="local"),
    Option(
        "--rate-limit-state",
        "PATH",
        "State file of rate_limit and destructive_budget rules (default: in --out-dir).",
        scope="local",
    ),
    Option(
        "--export-log-out",
        "PATH",
        "Append one JSON line per decision here (docs/siem_ingestion_recipes.md).",
        scope="local",
    ),
    Option(
        "--export-otel-out",
        "PATH",
        "Append one OTEL-style JSON line per decision here.",
        scope="local",
    ),
    Option(
        "--export",
        "NAME",
        "Exporter plugin (repeatable), e.g. otel (pip install gait-plugin-otel). An exporter "
        "that is not installed, or a file export that fails, is a deny.",
        multiple=True,
        scope="local",
    ),
    Option(
        "--bridge",
        "NAME",
        "Hand each non-allow decision's trace to this sink plugin, e.g. beads (repeatable). A "
        "sink that is not installed is a deny.",
        multiple=True,
        scope="local",
    ),
)
_BY_NAME = {option.name: option for option in OPTIONS}


class Options:
    """The parsed flags (attribute per option, named as `Option.dest`)."""

    policy: str
    serve: str
    auth_token_env: str
    service_uid: str
    plain_bearer: str
    timeout: str
    approval: str
    max_input_bytes: str
    out_dir: str
    trace_out: str
    runpack_dir: str
    profile: str
    key_mode: str
    private_key: str
    private_key_env: str
    rate_limit_state: str
    export_log_out: str
    export_otel_out: str
    export: list[str]
    bridge: list[str]

    def __init__(self) -> None:
        self._given: set[str] = set()
        for option in OPTIONS:
            setattr(self, option.dest, [] if option.multiple else option.default)

    def set(self, option: Option, value: str) -> None:
        if option.choices and value not in option.choices:
            raise UsageError(f"{option.name} must be one of {', '.join(option.choices)}")
        if option.multiple:
            getattr(self, option.dest).append(value)
        elif option.name in self._given:
            raise UsageError(f"{option.name} is given twice")
        else:
            setattr(self, option.dest, value)
        self._given.add(option.name)

    def given(self, name: str) -> bool:
        return name in self._given

    @property
    def timeout_s(self) -> float:
        return timeout_seconds(self.timeout)

    @property
    def input_limit(self) -> int:
        if not self.max_input_bytes.isdigit() or int(self.max_input_bytes) == 0:
            raise UsageError("--max-input-bytes must be a positive whole number")
        return int(self.max_input_bytes)


def timeout_seconds(text: str) -> float:
    """`--timeout`'s value, checked (`gait gastown install` checks it with this too)."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError("--timeout must be a number of seconds") from None
    if not 0 < value <= MAX_TIMEOUT_S:
        raise UsageError(f"--timeout must be more than 0 and at most {MAX_TIMEOUT_S:g}")
    return value


def parse_options(args: Sequence[str]) -> Options:
    options = Options()
    index = 0
    while index < len(args):
        arg = args[index]
        name, equals, value = arg.partition("=")
        option = _BY_NAME.get(name)
        if option is None:
            raise UsageError(f"unknown argument {arg!r} (see gait gastown hook --help)")
        if option.switch:
            if equals:
                raise UsageError(f"{name} takes no value")
            value = "1"
        elif not equals:
            index += 1
            if index == len(args):
                raise UsageError(f"{name} needs a value")
            value = args[index]
        options.set(option, value)
        index += 1
    if bool(options.policy.strip()) == bool(options.serve.strip()):
        raise UsageError("give either --policy PATH (decide here) or --serve URL (ask a service)")
    scope = "serve" if options.serve.strip() else "local"
    for option in OPTIONS:
        if option.scope and option.scope != scope and options.given(option.name):
            other = "--serve" if option.scope == "serve" else "--policy"
            raise UsageError(f"{option.name} goes with {other} only")
    return options


class Decision:
    """What the gate said about one call."""

    __slots__ = ("notes", "reason_codes", "trace_id", "verdict", "violations")

    def __init__(
        self,
        verdict: str,
        reason_codes: Sequence[str] = (),
        violations: Sequence[str] = (),
        trace_id: str = "",
        notes: Sequence[str] = (),
    ) -> None:
        self.verdict = verdict
        self.reason_codes = tuple(reason_codes)
        self.violations = tuple(violations)
        self.trace_id = trace_id
        self.notes = tuple(notes)

    def summary(self) -> str:
        parts = [f"verdict {self.verdict}"]
        if self.reason_codes:
            parts.append("reason_codes " + ", ".join(self.reason_codes))
        if self.violations:
            parts.append("violations " + ", ".join(self.violations))
        if self.trace_id:
            parts.append("trace_id " + self.trace_id)
        return "; ".join(parts)


# ---- the entry point ----------------------------------------------------------------------


def main(args: list[str]) -> int:
    """`gait gastown hook ARGS`: exit 0 (allow, or ask on standard output) or 2 (deny)."""
    answered = _thread.allocate_lock()
    try:
        options = parse_options(args)
        timeout = options.timeout_s
        limit = options.input_limit
        _thread.start_new_thread(_watchdog, (answered, timeout))
        decision = _decide(options, read_event(limit), timeout)
        _claim_answer(answered)
        return respond(decision, options.approval)
    except BaseException as exc:  # every failure is a deny: exit 1 would let the tool run
        _claim_answer(answered)
        return deny(f"gait blocked this call: the gate failed closed: {_describe(exc)}")


def _claim_answer(answered: _thread.LockType) -> None:
    """Take the right to answer from the watchdog; if it answered first, wait for it to end
    the process."""
    if not answered.acquire(blocking=False):
        _wait_for_watchdog()


def _decide(options: Options, event: dict[str, object], timeout: float) -> Decision:
    """The decision for `event`, from the service (`--serve`) or made here (`--policy`)."""
    identity = identity_from(os.environ)
    if identity:
        event[IDENTITY_KEY] = identity
    else:
        event.pop(IDENTITY_KEY, None)  # only the environment names the worker
    if options.serve.strip():
        return ask_service(options, event, timeout)
    from gait_plugin_gastown.local import decide

    return decide(options, event)


def read_event(limit: int) -> dict[str, object]:
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        raise WireError(f"the hook event exceeds {limit} bytes (--max-input-bytes)")
    if not data.strip():
        raise WireError("no hook event on standard input")
    try:
        event = loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise WireError("the hook event is not UTF-8") from None
    if not isinstance(event, dict):
        raise WireError("the hook event must be a JSON object")
    return event


def ask_service(options: Options, event: dict[str, object], timeout: float) -> Decision:
    """POST the call to `gait mcp serve`'s /v1/evaluate and read its decision, honoured only
    from a service that proved who it is: by the socket's owner (a Unix socket) or by an HMAC
    over this request and its answer (the token, gait.mcp.serviceauth)."""
    url = options.serve.strip()
    plain = bool(options.plain_bearer)
    token = _service_token(options)
    address: tuple[str, int] | str
    service_uid = -1
    if url.startswith("unix:"):
        address = split_unix_url(url)
        service_uid = _service_uid(options)
    else:
        address = split_service_url(url)
        if options.given("--service-uid"):
            raise UsageError("--service-uid goes with --serve unix:PATH only")
        if not token and not plain:
            raise UsageError(
                f"--serve {url}: over TCP the hook cannot tell the service from another process "
                "on its port without the token: use --serve unix:PATH or set --auth-token-env"
            )
    body = dumps({"adapter": ADAPTER, "call": event}).encode("ascii")
    headers: dict[str, str] = {}
    nonce = ""
    if token and plain:
        headers["Authorization"] = "Bearer " + token.decode("utf-8", "surrogateescape")
    elif token:
        nonce, headers = client_headers(token, "POST", EVALUATE_PATH, body)
    try:
        status, answer_headers, raw = post_json(
            address, EVALUATE_PATH, body, headers, timeout, service_uid=service_uid
        )
    except OSError as exc:  # refused, reset, timed out
        raise WireError(f"no answer from the service at {url}: {exc}") from None
    if nonce and not response_is_authentic(
        token,
        nonce=nonce,
        request_body=body,
        status=status,
        body=raw,
        claimed=answer_headers.get(RESPONSE_AUTH_HEADER, ""),
    ):
        raise WireError(
            f"the service at {url} could not prove it holds the token (HTTP {status} without a "
            "valid X-Gait-Server-Auth): it refused the hook's proof, or it is not the service"
        )
    try:
        answer = loads(raw.decode("utf-8"))
    except (WireError, UnicodeDecodeError):
        raise WireError(f"the service answered HTTP {status} without a JSON object") from None
    if not isinstance(answer, dict):
        raise WireError(f"the service answered HTTP {status} without a JSON object")
    # 200, or the strict mode's 403/409 whose body is the whole decision
    if status not in (200, 403, 409) or answer.get("ok") is not True:
        error = answer.get("error")
        reason = error[:500] if isinstance(error, str) and error else "no decision"
        raise WireError(f"the service refused the call (HTTP {status}): {reason}")
    verdict = answer.get("verdict")
    if verdict not in VERDICTS:
        raise WireError(f"the service's answer has no valid verdict (HTTP {status})")
    trace_id = answer.get("trace_id")
    return Decision(
        str(verdict),
        _strings(answer.get("reason_codes")),
        _strings(answer.get("violations")),
        trace_id if isinstance(trace_id, str) else "",
    )


def _service_token(options: Options) -> bytes:
    """The token named by --auth-token-env (b"" without one)."""
    token_env = options.auth_token_env.strip()
    if not token_env:
        return b""
    token = os.environ.get(token_env, "")
    if not token:
        raise UsageError(f"--auth-token-env {token_env} is not set")
    data = token.encode("utf-8", "surrogateescape")
    if options.plain_bearer and not _header_safe(data):
        # it would go in the Authorization header: a line break there would split the request,
        # and no message may quote it
        raise UsageError(
            f"--auth-token-env {token_env} holds a space, a control character or a character "
            "outside ASCII, which cannot go in an Authorization header (--plain-bearer); the "
            "token is not shown"
        )
    if len(data) < MIN_TOKEN_BYTES:
        raise UsageError(
            f"--auth-token-env {token_env} holds a token of {len(data)} bytes; the service "
            f"needs at least {MIN_TOKEN_BYTES}"
        )
    return data


def _header_safe(data: bytes) -> bool:
    """Visible ASCII only (RFC 9110's VCHAR, 0x21-0x7E)."""
    return all(0x21 <= byte <= 0x7E for byte in data)


def _service_uid(options: Options) -> int:
    text = options.service_uid.strip()
    if not text:
        return os.getuid()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        raise UsageError("--service-uid must be a user id (a whole number)")
    return int(text)


def _strings(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise WireError("the service's answer holds a malformed list")
    return value


# ---- answering Claude Code ------------------------------------------------------------------


def respond(decision: Decision, approval: str) -> int:
    if decision.verdict == "allow":
        return 0
    if decision.verdict == "require_approval" and approval == "ask":
        reason = "gait: approval required (" + decision.summary() + ")"
        answer = {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "ask",
                "permissionDecisionReason": reason,
            }
        }
        try:
            sys.stdout.write(dumps(answer) + "\n")
            sys.stdout.flush()
        except BaseException as exc:
            return deny(f"gait blocked this call: could not answer ask: {_describe(exc)}")
        _note(decision.notes)
        return 0
    if decision.verdict == "dry_run":
        lead = "gait did not run this call: the policy only simulates it"
    elif decision.verdict == "require_approval":
        lead = "gait blocked this call: approval required"
    else:
        lead = "gait blocked this call"
    return deny(f"{lead} ({decision.summary()})", decision.notes)


def deny(reason: str, notes: Sequence[str] = ()) -> int:
    _note([reason, *notes])
    return 2


def _note(lines: Sequence[str]) -> None:
    if not lines:
        return
    text = "\n".join(lines) + "\n"
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except BaseException:  # the exit code alone still blocks
        return


def _describe(exc: BaseException) -> str:
    """An error's message when it is one of ours or Gait's (written to hold no raw argument);
    only the type of anything else."""
    if isinstance(exc, UsageError | WireError | TimeoutError):
        return str(exc)
    from gait.errors import GaitError  # the error path only

    if isinstance(exc, GaitError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return "interrupted"
    return f"internal error ({type(exc).__name__})"


def _watchdog(answered: _thread.LockType, seconds: float) -> None:
    time.sleep(seconds)
    if answered.acquire(blocking=False):
        message = f"gait blocked this call: no decision within {seconds:g} s (--timeout)\n"
        try:
            os.write(2, message.encode())
        finally:
            os._exit(2)


def _wait_for_watchdog() -> None:
    """The watchdog has answered and is ending the process."""
    while True:
        time.sleep(60)
