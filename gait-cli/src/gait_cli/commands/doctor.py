"""`gait doctor`: is this machine ready to gate tool calls?"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from gait.errors import ExitCode, GaitError
from gait.keys import KeySource, load_signing_key
from gait.plugins import PluginHost
from gait_cli.app import cli
from gait_cli.context import plugin_host
from gait_cli.output import Report, gait_command


def _check(name: str, status: str, detail: str) -> dict[str, Any]:
    return {"name": name, "status": status, "detail": detail}


def _writable(directory: Path) -> dict[str, Any]:
    probe_dir = directory
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        probe_dir = probe_dir.parent
    try:
        with tempfile.TemporaryFile(dir=probe_dir):
            pass
    except OSError as exc:
        return _check("output_dir", "fail", f"{directory} is not writable: {exc.strerror or exc}")
    return _check("output_dir", "ok", f"{directory} is writable")


_STATUSES = ("ok", "warn", "fail")


def _export_checks(host: PluginHost) -> list[dict[str, Any]]:
    """What each exporter says about its deliveries (gait-plugin-otel: decisions dropped)."""
    checks = []
    for name, exporter in sorted(host.exporters().items()):
        if exporter.health is None:
            continue
        try:
            health = dict(exporter.health())
        except Exception as exc:  # a broken health check is a finding, not a crash
            health = {"status": "warn", "detail": f"health check failed: {exc}"}
        status = health.get("status", "warn")
        checks.append(
            _check(
                f"export.{name}",
                status if status in _STATUSES else "warn",
                str(health.get("detail", "")),
            )
        )
    return checks


@gait_command(
    cli,
    "doctor",
    exit_codes=(0, 1),
    help="Check Python, plugins, signing keys and the output directory. Exit 1 if a check fails.",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("gait-out"),
    show_default=True,
    help="Where gait writes artifacts.",
)
@click.option("--private-key", default="", help="Signing key file to check.")
@click.option("--private-key-env", default="", help="Environment variable with the signing key.")
def doctor(out_dir: Path, private_key: str, private_key_env: str) -> Report:
    checks = []
    version_ok = sys.version_info >= (3, 11)
    checks.append(
        _check("python", "ok" if version_ok else "fail", f"Python {sys.version.split()[0]}")
    )
    host = plugin_host(click.get_current_context())
    failed = [r for r in host.records if r.status == "failed"]
    loaded = [r for r in host.records if r.status in ("loaded", "builtin")]
    detail = f"{len(loaded)} loaded, {len(failed)} failed"
    if failed:
        detail += ": " + "; ".join(f"{r.name}: {r.error}" for r in failed)
    checks.append(_check("plugins", "warn" if failed else "ok", detail))
    checks.extend(_export_checks(host))
    source = KeySource(path=private_key, env=private_key_env)
    if source.configured:
        try:
            key = load_signing_key(source)
            checks.append(_check("signing_key", "ok", f"{source.describe()} key_id={key.key_id}"))
        except GaitError as exc:
            checks.append(_check("signing_key", "fail", str(exc)))
    else:
        checks.append(
            _check(
                "signing_key",
                "warn",
                "no signing key given (--private-key or --private-key-env); dev mode signs with "
                "a local key",
            )
        )
    checks.append(_writable(out_dir))
    ok = all(check["status"] != "fail" for check in checks)
    text = [f"{c['status']:<5} {c['name']}: {c['detail']}" for c in checks]
    return Report(
        payload={"checks": checks, "cwd": os.getcwd()},
        text=text,
        ok=ok,
        exit_code=ExitCode.OK if ok else ExitCode.INTERNAL,
    )
