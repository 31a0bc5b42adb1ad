"""`gait openclaw install` and `gait openclaw uninstall`.

Install writes the shipped package (checked against its manifest first) and `gait.config.json`
into the target, each file atomically with the manifest's mode, then registers the directory
with OpenClaw when its CLI is on PATH (`plugins install --link`, `plugins enable`) and checks
that OpenClaw now loads it from there. Re-running writes the same bytes, prints the same output
and registers nothing twice. Uninstall unregisters, then removes exactly the files the installed
manifest names, the config, and the directories that are left empty.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import attrs

from gait.errors import GaitError, InvalidInputError
from gait.fsutil import write_atomic
from gait_cli.plugin_api import Report
from gait_plugin_openclaw import __version__
from gait_plugin_openclaw.package import MANIFEST, PLUGIN_ID, SKILL, PackageFile, verified_package

STATE_DIR_ENV: Final = "OPENCLAW_STATE_DIR"
CONFIG_FILE: Final = "gait.config.json"
OPENCLAW_TIMEOUT_S: Final = 300
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def openclaw_state_dir(environ: Mapping[str, str]) -> Path:
    """OpenClaw's state directory: `$OPENCLAW_STATE_DIR`, else `~/.openclaw`."""
    return Path(environ.get(STATE_DIR_ENV) or Path.home() / ".openclaw")


def default_target(environ: Mapping[str, str]) -> Path:
    return openclaw_state_dir(environ) / "gait" / "openclaw-plugin"


@attrs.frozen(kw_only=True)
class PluginConfig:
    """What the installer writes to gait.config.json (the plugin's defaults; OpenClaw's
    `plugins.entries.gait.config` overrides each key)."""

    mode: str
    serve_url: str
    token_env: str
    policy: str
    timeout_ms: int
    plain_bearer: bool = False

    def checked(self) -> PluginConfig:
        url = urlsplit(self.serve_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise InvalidInputError(f"--serve-url must be an http(s) URL, not {self.serve_url!r}")
        if url.username or url.password:
            raise InvalidInputError("--serve-url must not carry credentials: use --token-env")
        if url.scheme == "http" and not is_loopback(url.hostname):
            raise InvalidInputError(
                f"--serve-url {self.serve_url}: plain http only to loopback (localhost, "
                "127.0.0.0/8, [::1]); use https"
            )
        if self.token_env and not _ENV_NAME.fullmatch(self.token_env):
            raise InvalidInputError(
                f"--token-env must name an environment variable: {self.token_env!r}"
            )
        checked = self
        if self.policy:
            from gait.policy import load_policy_file

            policy = Path(self.policy).absolute()
            load_policy_file(policy)  # refuse a policy that would block every call at run time
            checked = attrs.evolve(self, policy=str(policy))
        if self.mode == "serve" and not self.token_env and not self.plain_bearer:
            raise InvalidInputError(
                "serve mode needs --token-env: without the token the plugin cannot tell the "
                "service from another process on its port (--plain-bearer: the reference's "
                "service, unauthenticated)"
            )
        return checked

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mode": self.mode,
            "serveUrl": self.serve_url,
            "timeoutMs": self.timeout_ms,
        }
        if self.token_env:
            out["tokenEnv"] = self.token_env
        if self.plain_bearer:
            out["plainBearer"] = True
        if self.policy:
            out["policy"] = self.policy
        return out

    def file_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()


def is_loopback(host: str) -> bool:
    """The Gas Town hook's rule (and the plugin's): localhost, 127.0.0.0/8 or ::1."""
    if host.lower() in ("localhost", "::1", "[::1]"):
        return True
    parts = host.split(".")
    return (
        len(parts) == 4
        and parts[0] == "127"
        and all(part.isascii() and part.isdigit() and int(part) < 256 for part in parts)
    )


# ---- files ---------------------------------------------------------------------------------


def _installed_paths(target: Path) -> list[str] | None:
    """The files the manifest of a package installed in `target` names, None when there is no
    manifest."""
    path = target / MANIFEST
    if not path.is_file() or path.is_symlink():
        return None
    from gait.strictjson import loads

    try:
        loaded = loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{path} is not a readable manifest: {exc}") from None
    manifest: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    files = manifest.get("files")
    if (
        manifest.get("plugin_id") != PLUGIN_ID
        or not isinstance(files, list)
        or not all(isinstance(f, dict) and isinstance(f.get("path"), str) for f in files)
    ):
        raise InvalidInputError(f"{path} is not the manifest of the Gait OpenClaw plugin")
    return [entry["path"] for entry in files]


def _check_target(target: Path) -> list[str] | None:
    """Refuse a target that is a link, a file, or a non-empty folder holding no package of
    ours; return the files the installed manifest names, if there is one."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise InvalidInputError(f"--target {target} is not a directory")
    if not target.exists():
        return None
    installed = _installed_paths(target)
    if installed is None and any(target.iterdir()):
        raise InvalidInputError(
            f"--target {target} is not empty and holds no Gait OpenClaw plugin; "
            "choose a new or empty directory"
        )
    return installed


def _inside(target: Path, relative: str) -> Path:
    """`target/relative`, refusing a path that leaves the target or passes through a link."""
    path = target / relative
    if ".." in Path(relative).parts or Path(relative).is_absolute():
        raise InvalidInputError(f"refusing the package path {relative!r}")
    for parent in reversed(path.relative_to(target).parents):
        if (target / parent).is_symlink():
            raise InvalidInputError(f"refusing to write through the link {target / parent}")
    return path


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically unless the file already holds exactly these bytes with this mode."""
    unchanged = (
        not path.is_symlink()
        and path.is_file()
        and (path.stat().st_mode & 0o7777) == mode
        and path.read_bytes() == data
    )
    if not unchanged:
        write_atomic(path, data, mode)


def _make_dirs(target: Path, relatives: Sequence[str]) -> None:
    for directory in sorted({target, *(target / r for r in relatives)}):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)


def _remove_files(target: Path, relatives: Sequence[str]) -> list[str]:
    """Remove these files of `target`, then the folders they leave empty; return the files that
    were there."""
    removed: list[str] = []
    for relative in relatives:
        path = _inside(target, relative)
        if path.is_file() or path.is_symlink():
            path.unlink()
            removed.append(relative)
    # `parents` ends with ".": the target itself goes too once it is empty
    directories = {target / parent for r in relatives for parent in Path(r).parents}
    for directory in sorted(directories, key=lambda p: len(p.parts), reverse=True):
        try:
            directory.rmdir()
        except OSError:
            continue  # not empty (something not ours is in it), or gone
    return removed


# ---- OpenClaw CLI --------------------------------------------------------------------------


@attrs.frozen
class OpenClaw:
    program: str

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [self.program, *args],
                capture_output=True,
                text=True,
                timeout=OPENCLAW_TIMEOUT_S,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GaitError(f"openclaw {' '.join(args)} failed: {exc}") from None

    def step(self, *args: str) -> str:
        """Run one command that must succeed; return the command as shown to the user."""
        done = self.run(*args)
        if done.returncode != 0:
            raise GaitError(f"openclaw {' '.join(args)} exited {done.returncode}: {_tail(done)}")
        return "openclaw " + " ".join(args)

    def plugin(self) -> dict[str, Any] | None:
        """OpenClaw's record of the plugin `gait` (`plugins list --json`), None if it has none."""
        done = self.run("plugins", "list", "--json")
        try:
            listed = json.loads(done.stdout)
            plugins = listed["plugins"]
        except (ValueError, KeyError, TypeError):
            raise GaitError(
                f"openclaw plugins list --json gave no plugin list: {_tail(done)}"
            ) from None
        for plugin in plugins:
            if isinstance(plugin, dict) and plugin.get("id") == PLUGIN_ID:
                return plugin
        return None


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    text = " ".join((done.stdout + " " + done.stderr).split())
    return text[-600:] or "no output"


def _find_openclaw(register: bool) -> OpenClaw | None:
    program = shutil.which("openclaw") if register else None
    return OpenClaw(program) if program else None


def _same_dir(a: object, b: Path) -> bool:
    return isinstance(a, str) and bool(a) and Path(a).resolve() == b.resolve()


def _registration(target: Path) -> list[tuple[str, ...]]:
    return [
        ("plugins", "install", "--link", str(target), "--force", "--accept-capabilities"),
        ("plugins", "enable", PLUGIN_ID),
    ]


def manual_steps(target: Path) -> list[str]:
    return [" ".join(("openclaw", *args)) for args in _registration(target)]


def _register(openclaw: OpenClaw, target: Path) -> list[str]:
    # `plugins install` may exit 0 when it refuses (capability consent), and re-enabling is
    # needed after an uninstall left `enabled: false`: so run both, then check the result.
    try:
        steps = [openclaw.step(*args) for args in _registration(target)]
        plugin = openclaw.plugin()
        if plugin is None or not _same_dir(plugin.get("rootDir"), target):
            where = plugin.get("rootDir") if plugin else "nowhere"
            raise GaitError(f"OpenClaw does not load the plugin from {target} but from {where}")
        if plugin.get("enabled") is not True:
            raise GaitError(
                f"OpenClaw linked the plugin but did not enable it ({plugin.get('status')})"
            )
    except GaitError as exc:
        raise GaitError(
            f"{exc}. The plugin's files are installed in {target}; register it with "
            + " && ".join(manual_steps(target))
        ) from None
    return steps


# ---- commands ------------------------------------------------------------------------------


def install(
    *,
    target: str,
    config: PluginConfig,
    register: bool,
    environ: Mapping[str, str] = os.environ,
) -> Report:
    config = config.checked()
    root = Path(target).absolute() if target else default_target(environ)
    files, manifest = verified_package()
    _write_package(root, files, manifest, config)
    openclaw = _find_openclaw(register)
    steps = _register(openclaw, root) if openclaw else []
    text = [
        f"openclaw install: {root} (gait plugin {__version__}, {len(files)} files, skill {SKILL})",
        f"  config: {CONFIG_FILE} mode={config.mode}"
        + (f" serve_url={config.serve_url}" if config.mode == "serve" else "")
        + (f" policy={config.policy}" if config.policy else ""),
    ]
    if openclaw:
        text += [f"  ran: {step}" for step in steps]
        text.append(f"  OpenClaw loads plugin {PLUGIN_ID} from {root}, enabled")
    else:
        reason = "--no-register" if not register else "the openclaw CLI is not on PATH"
        text.append(f"  not registered with OpenClaw ({reason}); to register:")
        text += [f"    {step}" for step in manual_steps(root)]
    return Report(
        payload={
            "target": str(root),
            "plugin_id": PLUGIN_ID,
            "skill": SKILL,
            "version": __version__,
            "files": [f.to_json() for f in files],
            "config": config.to_json(),
            "openclaw": {
                "cli": openclaw.program if openclaw else "",
                "registered": bool(openclaw),
                "ran": steps,
            },
        },
        text=text,
    )


def _write_package(
    root: Path, files: Sequence[PackageFile], manifest: bytes, config: PluginConfig
) -> None:
    """The package, its config and its manifest in `root`; files a previous version shipped and
    this one does not are removed."""
    wanted = {f.path for f in files}
    stale = [p for p in _check_target(root) or [] if p not in wanted]
    _remove_files(root, stale)
    _make_dirs(root, [str(Path(f.path).parent) for f in files])
    for file in files:
        _write(_inside(root, file.path), file.data, file.mode)
    _write(root / CONFIG_FILE, config.file_bytes(), 0o644)
    # the manifest last: a target holding it holds the whole package
    _write(root / MANIFEST, manifest, 0o644)


def uninstall(*, target: str, register: bool, environ: Mapping[str, str] = os.environ) -> Report:
    root = Path(target).absolute() if target else default_target(environ)
    installed = _check_target(root)
    openclaw = _find_openclaw(register)
    steps: list[str] = []
    if openclaw:
        plugin = openclaw.plugin()
        if plugin is not None and _same_dir(plugin.get("rootDir"), root):
            steps.append(openclaw.step("plugins", "uninstall", PLUGIN_ID, "--force"))
            after = openclaw.plugin()
            if after is not None and _same_dir(after.get("rootDir"), root):
                raise GaitError(f"OpenClaw still loads the plugin from {root} after uninstall")

    removed: list[str] = []
    links: list[str] = []
    if installed is not None:
        removed = _remove_files(root, [*installed, CONFIG_FILE, MANIFEST])
        links = _remove_skill_links(openclaw_state_dir(environ), root)
    if not target:
        with contextlib.suppress(OSError):  # <state>/gait, unless proxy-mode traces live there
            root.parent.rmdir()
    left = root.exists()
    summary = f"openclaw uninstall: {root}: removed {len(removed)} files"
    if installed is None:
        summary += " (no Gait OpenClaw plugin was installed there)"
    elif left:
        summary += "; the directory stays: it holds files that are not ours"
    text = [summary, *(f"  ran: {step}" for step in steps)]
    text += [f"  removed the skill link {link}" for link in links]
    return Report(
        payload={
            "target": str(root),
            "removed": removed,
            "removed_links": links,
            "left_directory": left,
            "openclaw": {"cli": openclaw.program if openclaw else "", "ran": steps},
        },
        text=text,
    )


def _remove_skill_links(state_dir: Path, root: Path) -> list[str]:
    """OpenClaw links a plugin's skills into `<state>/plugin-skills/`; a link into the package
    just removed would dangle until OpenClaw's next skill scan, so it goes too."""
    folder = state_dir / "plugin-skills"
    removed: list[str] = []
    if not folder.is_dir():
        return removed
    root = Path(os.path.realpath(root))
    for link in sorted(folder.iterdir()):
        if link.is_symlink():
            pointed = Path(os.path.realpath(link))
            if pointed == root or root in pointed.parents:
                link.unlink()
                removed.append(str(link))
    return removed
