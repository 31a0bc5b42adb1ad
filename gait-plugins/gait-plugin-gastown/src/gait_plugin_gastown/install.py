"""`gait gastown install` and `uninstall`: the gate's entry in Gas Town's hook overrides.

Gas Town generates every worker's Claude Code settings from `hooks-base.json` and
`hooks-overrides/<target>.json` in its config directory (`gt hooks sync`). Its source
(internal/hooks/config.go, `gtPrimaryDir`) puts that directory at `$GT_HOME/.gt` when `GT_HOME`
names the town, else at `~/.gt`; `--town DIR` stands for `GT_HOME=DIR`.

An override file is the hooks object keyed by event name; each event holds entries
`{matcher, hooks: [{type, command}]}` with unique matchers (gt keeps no other hook field). The
install adds one hook to the PreToolUse entry of its matcher (creating the entry when there is
none) and leaves every other entry, hook and key as it was; the file is written atomically in
gt's own format (Go's indented JSON), and only when it changes, once every file has been read
and edited (a file that cannot be leaves all of them as they were). Uninstall removes the gate's
hooks, then whatever became empty because of that (the entry, the event, the file); a file
that holds no gate hook (`{}`, an empty PreToolUse list) is left byte for byte as it was found.

The hook the install writes is the `gait-gastown-hook` script by its absolute path (worker
shells may have another PATH); hooks of earlier installs (`<...>/gait gastown hook ...`) are
recognised too, so a re-install replaces them and an uninstall removes them.

An override file that is a symbolic link is followed: the link stays, and its target is
replaced atomically (an uninstall that empties it leaves `{}` there rather than remove a file
the link names). Only a link and a target both owned by the user running the install are
followed; any other link (another owner's, a dangling one, a loop) is refused with exit 6,
since following it could write where that user cannot.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from gait.errors import DependencyMissingError, GaitError, InvalidInputError
from gait.fsutil import write_atomic
from gait.regress.gojson import marshal_indent
from gait_cli.output import Report
from gait_plugin_gastown.hook import DEFAULT_OUT_DIR, UsageError, timeout_seconds

EVENT = "PreToolUse"
# gt's HooksConfig field order: a new event key goes where gt would write it
EVENT_ORDER = (
    "PreToolUse",
    "PostToolUse",
    "SessionStart",
    "Stop",
    "PreCompact",
    "UserPromptSubmit",
    "WorktreeCreate",
    "WorktreeRemove",
)
ROLES = ("polecats", "crew", "witness", "refinery", "mayor", "deacon")
ROLE_ALIASES = {"polecat": "polecats"}
DEFAULT_TARGETS = ("polecats", "crew")
DEFAULT_MATCHER = ""  # every tool: the policy decides, reads included
OVERRIDE_MODE = 0o644  # as gt writes them
SYNC_TIMEOUT_S = 120
HOOK_SCRIPT = "gait-gastown-hook"
LEGACY_ARGV = ["gastown", "hook"]  # an earlier install's hook: `<...>/gait gastown hook ...`
GUARD = "|| exit 2"  # a hook that cannot start (exit 127) or crashes (1) must still block


@attrs.frozen(kw_only=True)
class HookSpec:
    """What the installed command runs."""

    program: str  # the gait-gastown-hook script
    policy: str = ""
    serve: str = ""
    auth_token_env: str = ""
    service_uid: str = ""  # with a unix: service
    plain_bearer: bool = False
    out_dir: str = ""
    timeout: str = ""
    approval: str = ""
    bridges: tuple[str, ...] = ()
    signing: tuple[tuple[str, str], ...] = ()  # (flag, value): --profile, --key-mode, keys

    def command(self) -> str:
        argv = [self.program]
        if self.serve:
            argv += ["--serve", self.serve]
            if self.auth_token_env:
                argv += ["--auth-token-env", self.auth_token_env]
            if self.service_uid:
                argv += ["--service-uid", self.service_uid]
            if self.plain_bearer:
                argv += ["--plain-bearer"]
        else:
            argv += ["--policy", self.policy, "--out-dir", self.out_dir]
            for bridge in self.bridges:
                argv += ["--bridge", bridge]
            for flag, value in self.signing:
                argv += [flag, value]
        if self.timeout:
            argv += ["--timeout", self.timeout]
        if self.approval:
            argv += ["--approval", self.approval]
        return " ".join(shlex.quote(arg) for arg in argv) + " " + GUARD


@attrs.frozen(kw_only=True)
class FileChange:
    target: str
    path: Path
    action: str  # added, updated, removed, unchanged

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "path": str(self.path), "action": self.action}


# ---- where gt keeps things ------------------------------------------------------------------


def town_directory(town: str, environ: dict[str, str]) -> Path | None:
    """The town whose config is edited: `--town`, else `$GT_HOME`; None means gt's default
    config directory `~/.gt`."""
    chosen = town.strip() or environ.get("GT_HOME", "").strip()
    return Path(chosen).expanduser().absolute() if chosen else None


def config_directory(town: Path | None) -> Path:
    return town / ".gt" if town is not None else Path.home() / ".gt"


def normalize_target(raw: str) -> str:
    """gt's NormalizeTarget: a role, or `<rig>/<role>` (`<rig>__<role>` as in the file name)."""
    target = raw.strip().replace("__", "/")
    rig, _, role = target.rpartition("/")
    role = ROLE_ALIASES.get(role, role)
    if "/" in target:
        check_rig_name(rig, raw)
    if role not in ROLES or (target.count("/") > 1) or ("/" in target and not rig):
        raise InvalidInputError(
            f"unsupported --target {raw!r} (expected one of {', '.join(ROLES)}, or "
            "<rig>__<role> such as myrig__polecats)"
        )
    return f"{rig}/{role}" if rig else role


def check_rig_name(rig: str, raw: str) -> None:
    """Refuse a rig name that could name another file or read as an option: the name becomes
    part of the override's file name and of the arguments of the commands gt runs."""
    bad = (
        not rig
        or rig.startswith(("-", "."))
        or ".." in rig
        or any(c in rig for c in "/\\")
        or any(ord(c) < 32 or ord(c) == 127 or c.isspace() for c in rig)
    )
    if bad:
        raise InvalidInputError(
            f"unsupported rig name {rig!r} in --target {raw!r} (not empty, no '..', '/' or "
            "'\\', no leading '-' or '.', no spaces or control characters)"
        )


def override_path(config_dir: Path, target: str) -> Path:
    return config_dir / "hooks-overrides" / (target.replace("/", "__") + ".json")


# ---- gt's file format (written as gt does: `marshal_indent`, Go's json.MarshalIndent) -------


def _read_bytes(path: Path) -> bytes | None:
    """The file's bytes; None when there is no file. A FIFO, socket, device or folder is
    refused at once (exit 6), never waited on."""
    from gait.fsutil import FileReadError, NotRegularFileError, read_regular_file
    from gait.limits import MAX_RECORD_BYTES

    try:
        return read_regular_file(path, MAX_RECORD_BYTES, what="hooks override")
    except NotRegularFileError:
        raise
    except FileReadError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            return None
        raise GaitError(f"read {path}: {exc.reason}") from None


def read_override(path: Path) -> dict[str, Any]:
    data = _read_bytes(path)
    return {} if data is None else _parse_override(path, data)


def _parse_override(path: Path, data: bytes) -> dict[str, Any]:
    from gait.strictjson import JSONReadError, loads

    try:  # one reading: rewriting a file with two copies of a key would silently drop one
        config = loads(data)
    except JSONReadError as exc:
        raise InvalidInputError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise InvalidInputError(f"{path} must hold a JSON object (gt's hooks config)")
    return config


def _entries(config: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    entries = config.get(EVENT) or []
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("hooks", []), list) for e in entries
    ):
        raise InvalidInputError(f"{path}: {EVENT} must be a list of {{matcher, hooks}} entries")
    return entries


def is_gate_hook(hook: Any) -> bool:
    """Whether a hook is one this command installs: `<...>/gait-gastown-hook ...`, or an
    earlier install's `<...>/gait gastown hook ...`."""
    if not isinstance(hook, dict) or not isinstance(hook.get("command"), str):
        return False
    try:
        argv = shlex.split(hook["command"])
    except ValueError:
        return False
    program = os.path.basename(argv[0]) if argv else ""
    return program == HOOK_SCRIPT or (program == "gait" and argv[1:3] == LEGACY_ARGV)


def with_gate(config: dict[str, Any], path: Path, matcher: str, command: str) -> dict[str, Any]:
    """The config with the gate's hook in the entry of `matcher`. A gate hook already there is
    replaced in place, and one under another matcher removed, so a re-install with other flags
    updates the file instead of adding a second gate."""
    entries = _entries(config, path)
    hook = {"type": "command", "command": command}
    new_entries = []
    placed = False
    for entry in entries:
        if entry.get("matcher", "") != matcher:
            stripped = _strip_gate(entry)
            if stripped is not None:
                new_entries.append(stripped)
            continue
        hooks = entry.get("hooks") or []
        if not hooks:
            raise InvalidInputError(
                f"{path}: the {EVENT} matcher {matcher!r} has an empty hooks list, which turns "
                "that matcher off in gt; remove it or install with another --matcher"
            )
        kept = [h for h in hooks if not is_gate_hook(h)]
        at = next((i for i, h in enumerate(hooks) if is_gate_hook(h)), len(kept))
        new_entries.append({**entry, "hooks": [*kept[:at], hook, *kept[at:]]})
        placed = True
    if not placed:
        new_entries.append({"matcher": matcher, "hooks": [hook]})
    return _with_event(config, new_entries)


def without_gate(config: dict[str, Any], path: Path) -> dict[str, Any]:
    entries = _entries(config, path)
    if not any(is_gate_hook(h) for entry in entries for h in entry.get("hooks") or []):
        return config  # nothing of ours: not even an empty PreToolUse list is tidied away
    return _with_event(config, [e for e in map(_strip_gate, entries) if e is not None])


def _strip_gate(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The entry without gate hooks; None when only gate hooks made it up."""
    hooks = entry.get("hooks") or []
    kept = [h for h in hooks if not is_gate_hook(h)]
    if len(kept) == len(hooks):
        return entry
    return {**entry, "hooks": kept} if kept else None


def _with_event(config: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    if not entries:
        return {key: value for key, value in config.items() if key != EVENT}
    if EVENT in config:
        return {key: entries if key == EVENT else value for key, value in config.items()}
    return {EVENT: entries, **config}  # gt writes PreToolUse first


def edit_overrides(
    paths: list[tuple[str, Path]], edit: Callable[[dict[str, Any], Path], dict[str, Any]]
) -> list[FileChange]:
    """Apply `edit(config, path)` to each (target, file), reading each file once. Every file is
    read and edited before the first is written, so one that cannot be read or edited leaves
    all of them as they were. An edit that changes nothing leaves the file as it was found."""
    edited = []
    for target, path in paths:
        destination = link_destination(path)
        before = _read_bytes(destination or path)
        found = {} if before is None else _parse_override(path, before)
        config = edit(found, path)
        edited.append((target, path, destination, before, config if config != found else None))
    return [
        FileChange(
            target=target,
            path=path,
            action="unchanged"
            if config is None
            else write_override(destination or path, before, config, linked=bool(destination)),
        )
        for target, path, destination, before, config in edited
    ]


MAX_LINK_HOPS = 8


def link_destination(path: Path) -> Path | None:
    """The file a symbolic link at `path` names, when it may be written through; None when
    `path` is no link. The chain is followed one link at a time (at most MAX_LINK_HOPS), and
    every link in it and the file it ends at must belong to the user running the install: a
    link of another user anywhere in the chain (one in a shared sticky folder, say) could send
    the write to a file of their choosing. A dangling link or a loop is refused too."""
    try:
        link = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise GaitError(f"read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISLNK(link.st_mode):
        return None
    uid = os.geteuid()
    hop, info = path, link
    for _ in range(MAX_LINK_HOPS):
        if info.st_uid != uid:
            raise InvalidInputError(
                f"{path} is a symbolic link whose chain passes {hop}, a link that is not yours "
                f"(uid {info.st_uid}); refusing to write through it"
            )
        try:
            hop = hop.parent / os.readlink(hop)
            _check_folders(path, hop, uid)
            info = hop.lstat()
        except OSError as exc:
            raise InvalidInputError(
                f"{path} is a symbolic link to {hop}, which cannot be read "
                f"({exc.strerror or exc}); make it a file or point it at one"
            ) from None
        if stat.S_ISLNK(info.st_mode):
            continue
        if info.st_uid != uid:
            raise InvalidInputError(
                f"{path} is a symbolic link to {hop}, a file that is not yours "
                f"(uid {info.st_uid}); refusing to write through it"
            )
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInputError(
                f"{path} is a symbolic link to {hop}, which is not a regular file; make it a "
                "file or point it at one"
            )
        return Path(os.path.realpath(hop))
    raise InvalidInputError(
        f"{path} is a symbolic link that still names a link after {MAX_LINK_HOPS} links (a loop?); "
        "point it at a file"
    )


def _check_folders(path: Path, hop: Path, uid: int) -> None:
    """Refuse a link target reached through a folder link of another user (anyone but `uid`
    or root): that user could point it at any folder."""
    parts = hop.parent.parts
    for index in range(1, len(parts) + 1):
        folder = Path(*parts[:index])
        info = folder.lstat()
        if stat.S_ISLNK(info.st_mode) and info.st_uid not in (uid, 0):
            raise InvalidInputError(
                f"{path} is a symbolic link to {hop}, reached through {folder}, a link that is "
                f"not yours (uid {info.st_uid}); refusing to write through it"
            )


def write_override(
    path: Path, before: bytes | None, config: dict[str, Any], *, linked: bool = False
) -> str:
    """Write `config` over the file read as `before` (None: there was none), or remove the file
    when the config is empty (a link's target gets `{}` instead: the link still names it); the
    action taken."""
    if not config and not linked:
        if before is None:
            return "unchanged"
        path.unlink()
        return "removed"
    data = marshal_indent(config)
    if data == before:
        return "unchanged"
    mode = OVERRIDE_MODE if before is None else path.stat().st_mode & 0o777
    write_atomic(path, data, mode)
    return "added" if before is None else "updated"


# ---- gt hooks sync --------------------------------------------------------------------------


def sync_command(town: Path | None) -> str:
    """`gt hooks sync` as a user would type it for this town."""
    argv = ([f"GT_HOME={town}"] if town is not None else []) + ["gt", "hooks", "sync"]
    return " ".join(shlex.quote(part) for part in argv)


def run_sync(town: Path | None) -> dict[str, Any]:
    """`gt hooks sync` when gt is on PATH; otherwise the command to run."""
    shown = sync_command(town)
    gt = shutil.which("gt")
    if gt is None:
        return {"synced": False, "sync_command": shown}
    env = dict(os.environ)
    if town is not None:
        env["GT_HOME"] = str(town)
    try:
        done = subprocess.run(
            [gt, "hooks", "sync"],
            cwd=town if town is not None and town.is_dir() else None,
            env=env,
            capture_output=True,
            text=True,
            timeout=SYNC_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GaitError(f"{shown} failed: {exc}; run it by hand") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-500:]
        raise GaitError(f"{shown} exited {done.returncode}: {detail}; run it by hand")
    return {"synced": True, "sync_command": shown}


# ---- checks ---------------------------------------------------------------------------------


def hook_executable() -> str:
    """The absolute path of the `gait-gastown-hook` script installed with this plugin: worker
    shells may have another PATH, and a hook whose program is missing lets the tool run (the
    `|| exit 2` guard blocks then)."""
    beside = Path(sys.executable).parent / HOOK_SCRIPT
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(HOOK_SCRIPT)
    if found is None:
        raise DependencyMissingError(
            f"cannot find the {HOOK_SCRIPT} script to put in the hook (reinstall "
            "gait-plugin-gastown)"
        )
    return str(Path(found).absolute())


def check_policy(policy: str) -> str:
    from gait.gate import Gate

    path = Path(policy).expanduser().absolute()
    Gate.load(path)  # an unusable policy would deny every call: refuse it now
    return str(path)


def check_signing(profile: str, key_mode: str, private_key: str) -> None:
    """What the hook would refuse on every call, refused once now."""
    from gait.keys import KeySource
    from gait.mcp.boundary import check_profile
    from gait.signers import KEY_MODES

    if profile:
        check_profile(profile)
    if key_mode and key_mode not in KEY_MODES:
        raise InvalidInputError(f"unsupported --key-mode {key_mode!r} (use dev or prod)")
    if private_key:
        KeySource(path=private_key).private_key()


def check_sinks(names: tuple[str, ...]) -> None:
    if not names:
        return
    from gait_plugin_gastown.local import plugin_host, sinks_for

    sinks_for(plugin_host(), list(names))


def shadowing_warnings(config_dir: Path, targets: list[str], matcher: str) -> list[str]:
    """Entries that would replace the gate's for some workers: gt merges base, then role, then
    rig+role, and an entry with the same matcher replaces the one before it."""
    warnings = []
    base_has_matcher = _has_other_entry(config_dir / "hooks-base.json", matcher)
    for target in targets:
        if base_has_matcher:
            warnings.append(
                f"hooks-base.json has a {EVENT} entry for matcher {matcher!r}: for "
                f"{target} the gate's entry replaces it (gt merges by matcher)"
            )
        if "/" in target:
            continue
        try:
            rig_overrides = sorted((config_dir / "hooks-overrides").glob(f"*__{target}.json"))
        except OSError:
            continue
        for path in rig_overrides:
            if _has_other_entry(path, matcher):
                warnings.append(
                    f"hooks-overrides/{path.name} replaces matcher {matcher!r} for its rig: the "
                    f"gate does not run there; also install --target {path.stem}"
                )
    return warnings


def _has_other_entry(path: Path, matcher: str) -> bool:
    """Whether the file holds a PreToolUse entry for `matcher` without the gate (a file that is
    missing or unreadable holds none)."""
    if not path.is_file():
        return False
    try:
        entries = _entries(read_override(path), path)
    except GaitError:
        return False
    return any(
        entry.get("matcher", "") == matcher
        and not any(is_gate_hook(h) for h in entry.get("hooks") or [])
        for entry in entries
    )


# ---- the commands ---------------------------------------------------------------------------


def _check_timeout(timeout: str) -> str:
    if not timeout:
        return ""
    try:
        return f"{timeout_seconds(timeout):g}"
    except UsageError as exc:
        raise InvalidInputError(str(exc)) from None


def _check_service(serve: str, token_env: str, service_uid: str, plain_bearer: bool) -> str:
    """What the hook would refuse on every call, refused now; the --service-uid it gets (for a
    unix: service: the one given, else the installing user's)."""
    from gait_plugin_gastown.wire import WireError, split_service_url, split_unix_url

    try:
        if serve.startswith("unix:"):
            split_unix_url(serve)
        else:
            split_service_url(serve)
    except WireError as exc:
        raise InvalidInputError(str(exc)) from None
    if not serve.startswith("unix:"):
        if service_uid:
            raise InvalidInputError("--service-uid goes with --serve unix:PATH")
        if not token_env and not plain_bearer:
            raise InvalidInputError(
                f"--serve {serve}: over TCP the hook cannot tell the service from another "
                "process on its port without the token: use --serve unix:PATH or give "
                "--auth-token-env"
            )
        return ""
    if not service_uid:
        return str(os.getuid())
    if not service_uid.isascii() or not service_uid.isdigit() or len(service_uid) > 10:
        raise InvalidInputError("--service-uid must be a user id (a whole number)")
    return str(int(service_uid))


def run_install(
    *,
    town: str,
    targets: tuple[str, ...],
    policy: str,
    serve: str,
    auth_token_env: str,
    matcher: str,
    out_dir: str,
    timeout: str,
    approval: str,
    bridges: tuple[str, ...],
    profile: str,
    key_mode: str,
    private_key: str,
    private_key_env: str,
    sync: bool,
    service_uid: str = "",
    plain_bearer: bool = False,
) -> Report:
    if bool(policy.strip()) == bool(serve.strip()):
        raise InvalidInputError("give either --policy PATH or --serve URL")
    signing = tuple(
        (flag, value.strip())
        for flag, value in (
            ("--profile", profile),
            ("--key-mode", key_mode),
            (
                "--private-key",
                str(Path(private_key).expanduser().absolute()) if private_key else "",
            ),
            ("--private-key-env", private_key_env),
        )
        if value.strip()
    )
    if serve.strip() and (bridges or out_dir.strip() or signing):
        raise InvalidInputError(
            "--bridge, --out-dir, --profile and the key flags go with --policy; with --serve, "
            "give them to gait mcp serve"
        )
    if (auth_token_env.strip() or service_uid.strip() or plain_bearer) and not serve.strip():
        raise InvalidInputError(
            "--auth-token-env, --service-uid and --plain-bearer go with --serve"
        )
    if any(ord(c) < 32 for c in matcher):
        raise InvalidInputError("--matcher must not hold control characters")
    timeout = _check_timeout(timeout.strip())
    home = town_directory(town, dict(os.environ))
    config_dir = config_directory(home)
    names = list(dict.fromkeys(normalize_target(t) for t in (targets or DEFAULT_TARGETS)))
    if serve.strip():
        spec = HookSpec(
            program=hook_executable(),
            serve=serve.strip().rstrip("/"),
            auth_token_env=auth_token_env.strip(),
            service_uid=_check_service(
                serve.strip(), auth_token_env.strip(), service_uid.strip(), plain_bearer
            ),
            plain_bearer=plain_bearer,
            timeout=timeout,
            approval=approval,
        )
    else:
        check_sinks(bridges)
        check_signing(profile.strip(), key_mode.strip(), dict(signing).get("--private-key", ""))
        default_out = (home or Path.home() / "gt") / DEFAULT_OUT_DIR
        spec = HookSpec(
            program=hook_executable(),
            policy=check_policy(policy.strip()),
            out_dir=str(
                Path(out_dir.strip()).expanduser().absolute() if out_dir.strip() else default_out
            ),
            timeout=timeout,
            approval=approval,
            bridges=tuple(dict.fromkeys(b.strip() for b in bridges if b.strip())),
            signing=signing,
        )
    command = spec.command()
    changes = edit_overrides(
        [(target, override_path(config_dir, target)) for target in names],
        lambda config, path: with_gate(config, path, matcher, command),
    )
    warnings = shadowing_warnings(config_dir, names, matcher)
    return _report(
        "install", home, config_dir, changes, warnings, sync, command=command, matcher=matcher
    )


def run_uninstall(*, town: str, targets: tuple[str, ...], sync: bool) -> Report:
    home = town_directory(town, dict(os.environ))
    config_dir = config_directory(home)
    if targets:
        names = list(dict.fromkeys(normalize_target(t) for t in targets))
        paths = [(name, override_path(config_dir, name)) for name in names]
    else:  # wherever an install put the gate
        directory = config_dir / "hooks-overrides"
        found = sorted(directory.glob("*.json")) if directory.is_dir() else []
        paths = [(p.stem.replace("__", "/"), p) for p in found]
    changes = edit_overrides(paths, without_gate)
    return _report("uninstall", home, config_dir, changes, [], sync)


def _report(
    verb: str,
    town: Path | None,
    config_dir: Path,
    changes: list[FileChange],
    warnings: list[str],
    sync: bool,
    **extra: str,
) -> Report:
    synced = run_sync(town) if sync else {"synced": False, "sync_command": sync_command(town)}
    text = [f"gastown {verb}: {c.target}: {c.action} ({c.path})" for c in changes]
    if not changes:
        text.append(f"gastown {verb}: no override files in {config_dir / 'hooks-overrides'}")
    if synced["synced"]:
        text.append(f"synced: {synced['sync_command']}")
    else:
        text.append(f"next: {synced['sync_command']}")
    text += [f"warning: {w}" for w in warnings]
    payload = {
        "town": str(town) if town is not None else "",
        "config_dir": str(config_dir),
        "files": [c.to_json() for c in changes],
        "changed": any(c.action != "unchanged" for c in changes),
        "warnings": warnings,
        **synced,
        **extra,
    }
    return Report(payload=payload, text=text)
