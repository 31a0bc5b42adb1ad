"""Gas Town's hook overrides and the gate's entry in them.

Gas Town generates every worker's Claude Code settings from `hooks-base.json` and
`hooks-overrides/<target>.json` in its config directory (`gt hooks sync`). Its source
(internal/hooks/config.go, `gtPrimaryDir`) puts that directory at `$GT_HOME/.gt` when `GT_HOME`
names the town, else at `~/.gt`; `--town DIR` stands for `GT_HOME=DIR`.

An override file is the hooks object keyed by event name; each event holds entries
`{matcher, hooks: [{type, command}]}` with unique matchers (gt keeps no other hook field). The
install adds one hook to the PreToolUse entry of its matcher (creating the entry when there is
none) and leaves every other entry, hook and key as it was; a file is written only when it
changes, once every file has been read and edited (a file that cannot be leaves all of them as
they were). Uninstall removes the gate's hooks, then whatever became empty because of that (the
entry, the event, the file); a file that holds no gate hook (`{}`, an empty PreToolUse list) is
left byte for byte as it was found. Reading and writing one file is `override_files`.

The gate's hook is the `gait-gastown-hook` script; hooks of earlier installs
(`<...>/gait gastown hook ...`) are recognised too, so a re-install replaces them and an
uninstall removes them.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from gait.errors import GaitError, InvalidInputError
from gait_plugin_gastown.override_files import (
    link_destination,
    parse_override,
    read_bytes,
    read_override,
    write_override,
)

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
HOOK_SCRIPT = "gait-gastown-hook"
LEGACY_ARGV = ["gastown", "hook"]  # an earlier install's hook: `<...>/gait gastown hook ...`


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


# ---- the gate's entry ----------------------------------------------------------------------


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
        before = read_bytes(destination or path)
        found = {} if before is None else parse_override(path, before)
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
