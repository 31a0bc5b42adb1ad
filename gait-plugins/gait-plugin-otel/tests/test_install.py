"""The plugin costs nothing until `--export otel` is used: `gait version` (and a decision without
`--export otel`) never imports the OpenTelemetry SDK. Without the plugin installed, asking for it
exits 7 with the pip hint. A one-shot command whose collector is down still decides, and
`gait doctor` reports the drop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO, Work, down_endpoint

UV = REPO / ".tools" / "bin" / "uv"
REPORT = """
import sys
from gait_cli.main import main

sys.argv = ["gait", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
finally:
    loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
    sys.stderr.write("OTEL_MODULES=" + ",".join(loaded) + "\\n")
"""


def otel_modules(work: Work, *argv: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", REPORT, *argv],
        cwd=work.root,
        env={**os.environ, "GAIT_HOME": str(work.home), "GAIT_PLUGINS": "otel"},
        capture_output=True,
        text=True,
        check=False,
    )
    line = [x for x in done.stderr.splitlines() if x.startswith("OTEL_MODULES=")][-1]
    return [m for m in line.removeprefix("OTEL_MODULES=").split(",") if m]


@pytest.mark.parametrize(
    "argv",
    [
        ("version",),
        ("--help",),
        ("plugins", "list", "--json"),
        ("doctor", "--json"),
        ("gate", "eval", "--policy", "policy.yaml", "--intent", "intent_read.json"),
    ],
    ids=["version", "help", "plugins-list", "doctor", "gate-eval-without-export"],
)
def test_the_sdk_is_not_imported_unless_exporting(work: Work, argv: tuple[str, ...]) -> None:
    assert otel_modules(work, *argv) == []


def test_the_sdk_is_imported_when_exporting(work: Work) -> None:
    argv = ("gate", "eval", "--policy", "policy.yaml", "--intent", "intent_read.json")
    assert "opentelemetry.sdk" in otel_modules(work, *argv, "--export", "otel")


def test_the_plugin_is_listed_with_its_exporter_hook(otel: Any) -> None:
    listed = otel("plugins", "list", "--json")
    assert listed.code == 0
    (plugin,) = [p for p in listed.json["plugins"] if p["name"] == "otel"]
    assert plugin["status"] == "loaded" and plugin["hooks"] == ["gait_register"]
    assert plugin["provides"] == ["exporter:otel"]


def test_a_collector_that_is_down_leaves_the_decision_and_counts_the_drop(
    otel: Any, work: Work
) -> None:
    argv = ("gate", "eval", "--policy", "policy.yaml", "--intent", "intent_write.json", "--json")
    off = otel(*argv)
    on = otel(*argv, "--export", "otel", endpoint=down_endpoint())
    assert off.code == on.code == 4
    assert on.json["verdict"] == off.json["verdict"] == "require_approval"
    assert on.stderr == ""  # the SDK's complaints go to the ledger, not to the hook's stderr
    doctor = otel("doctor", "--json")
    (check,) = [c for c in doctor.json["checks"] if c["name"] == "export.otel"]
    assert check["status"] == "warn"
    assert "1 decision(s) not delivered" in check["detail"]
    assert doctor.code == 0  # a warning, not a failed check


def test_without_the_plugin_installed_export_otel_exits_7(tmp_path: Path, work: Work) -> None:
    """Only gait-core and gait-cli, installed into a fresh environment as a user would."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    packages = [str(REPO / "gait-core"), str(REPO / "gait-cli")]
    install = [str(UV), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    if subprocess.run([*install, "--offline", *packages], check=False).returncode != 0:
        subprocess.run([*install, *packages], check=True)
    done = subprocess.run(
        [
            str(venv / "bin" / "gait"), "gate", "eval", "--policy", "policy.yaml",
            "--intent", "intent_read.json", "--export", "otel", "--json",
        ],
        cwd=work.root,
        env={**{k: v for k, v in os.environ.items() if k != "GAIT_PLUGINS"},
             "GAIT_HOME": str(work.home)},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 7, done.stdout + done.stderr
    assert '"hint": "pip install gait-plugin-otel"' in done.stdout
    assert not list(work.root.glob("trace_*.json"))
