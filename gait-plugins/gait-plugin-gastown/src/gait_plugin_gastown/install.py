"""`gait gastown install` and `uninstall`: the gate's entry in Gas Town's hook overrides.

The hook the install writes is the `gait-gastown-hook` script by its absolute path (worker
shells may have another PATH), guarded so that a hook that cannot start still blocks. What
the install refuses, it refuses before touching any file: an unusable policy, signing options
or sink, timeout or service URL the hook would refuse on every call. Then it edits the override
files (`overrides`: gt's layout and the gate's entry; `override_files`: reading and writing one
file, symbolic links included) and runs `gt hooks sync` when asked.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs

from gait.errors import DependencyMissingError, GaitError, InvalidInputError
from gait_cli.plugin_api import Report
from gait_plugin_gastown.hook import DEFAULT_OUT_DIR, UsageError, timeout_seconds
from gait_plugin_gastown.override_files import read_override
from gait_plugin_gastown.overrides import (
    DEFAULT_TARGETS,
    HOOK_SCRIPT,
    FileChange,
    config_directory,
    edit_overrides,
    is_gate_hook,
    normalize_target,
    override_path,
    shadowing_warnings,
    town_directory,
    with_gate,
    without_gate,
)

# is_gate_hook and read_override are defined in overrides and override_files; still importable
# from here.
__all__ = [
    "DEFAULT_MATCHER",
    "GUARD",
    "HookSpec",
    "check_policy",
    "check_signing",
    "check_sinks",
    "hook_executable",
    "is_gate_hook",
    "read_override",
    "run_install",
    "run_sync",
    "run_uninstall",
    "sync_command",
]

DEFAULT_MATCHER = ""  # every tool: the policy decides, reads included
SYNC_TIMEOUT_S = 120
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
