"""The foundation commands through the installed `gait`: version, help, plugins, keys, doctor."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gait.keys import KeySource, load_signing_key

from . import plugin_fixtures as fx
from .conftest import INTEROP, RunGait

ENVELOPE_KEYS = {
    "ok",
    "error",
    "error_code",
    "error_category",
    "retryable",
    "hint",
    "correlation_id",
}


def test_version_text_and_json(gait: RunGait) -> None:
    assert gait("version").stdout.startswith("gait ")
    out = gait("version", "--json")
    assert out.code == 0
    assert out.json["ok"] is True
    assert list(out.json) == sorted(out.json)


def test_help_lists_commands_and_exit_codes(gait: RunGait) -> None:
    out = gait("--help")
    assert out.code == 0
    for name in ("version", "doctor", "keys", "plugins", "Exit codes:"):
        assert name in out.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ("version",),
        ("doctor",),
        ("plugins", "list"),
        ("keys", "init"),
        ("keys", "rotate"),
        ("keys", "verify"),
    ],
)
def test_every_command_has_help_with_json_and_exit_codes(
    gait: RunGait, argv: tuple[str, ...]
) -> None:
    out = gait(*argv, "--help")
    assert out.code == 0, out.stderr
    assert "--json" in out.stdout
    assert "Exit codes:" in out.stdout


def test_failing_plugin_is_listed_and_version_still_works(gait: RunGait, tmp_path: Path) -> None:
    site = tmp_path / "site"
    fx.make_plugin(site, "gait-plugin-good", "gait_plugin_good_e2e", fx.GOOD)
    fx.make_plugin(site, "gait-plugin-broken", "gait_plugin_broken_e2e", fx.BROKEN_IMPORT)
    fx.make_plugin(site, "gait-plugin-wrapper", "gait_plugin_wrapper_e2e", fx.WRAPPER)
    out = gait("plugins", "list", "--json", plugins=None, pythonpath=site)
    assert out.code == 0, out.stderr
    listed = {p["name"]: p for p in out.json["plugins"]}
    assert listed["broken"]["status"] == "failed"
    assert "this plugin is broken" in listed["broken"]["error"]
    assert listed["wrapper"]["status"] == "failed"
    assert "hook wrapper on gait_evaluate is not allowed" in listed["wrapper"]["error"]
    assert listed["good"]["status"] == "loaded"
    for argv in (("version",), ("version", "--json"), ("--help",), ("doctor",)):
        assert gait(*argv, plugins=None, pythonpath=site).code == 0
    assert gait("hello", "--json", plugins=None, pythonpath=site).json == {
        "ok": True,
        "hello": "plugin",
    }
    doctor = gait("doctor", "--json", plugins=None, pythonpath=site).json
    plugin_check = next(c for c in doctor["checks"] if c["name"] == "plugins")
    assert plugin_check["status"] == "warn" and "broken" in plugin_check["detail"]


def test_empty_allowlist_and_no_plugins_flag_load_none(gait: RunGait, tmp_path: Path) -> None:
    site = tmp_path / "site"
    fx.make_plugin(site, "gait-plugin-good", "gait_plugin_good_e2e2", fx.GOOD)
    for extra, plugins in (((), ""), (("--no-plugins",), None)):
        out = gait(*extra, "plugins", "list", "--json", plugins=plugins, pythonpath=site)
        assert [p["name"] for p in out.json["plugins"]] == [
            "gait.adapters",
            "gait.ed25519",
            "gait.exporters",
        ]
    assert gait("hello", plugins="", pythonpath=site).code == 6


def test_keys_init_writes_reference_format_and_refuses_overwrite(
    gait: RunGait, tmp_path: Path
) -> None:
    out = gait("keys", "init", "--out-dir", "keys", "--json")
    assert out.code == 0, out.stderr
    data = out.json
    assert set(data) == {
        "ok",
        "prefix",
        "key_id",
        "public_key_path",
        "private_key_path",
        "correlation_id",
    }
    private = tmp_path / data["private_key_path"]
    assert len(base64.b64decode(private.read_text())) == 64
    key = load_signing_key(
        KeySource(path=str(private)), KeySource(path=str(tmp_path / data["public_key_path"]))
    )
    assert key.key_id == data["key_id"]
    again = gait("keys", "init", "--out-dir", "keys", "--json")
    assert again.code == 6 and set(again.json) == ENVELOPE_KEYS
    assert private.read_text() == key.encode()
    assert (
        gait("keys", "init", "--out-dir", "keys", "--force", "--json").json["key_id"] != key.key_id
    )
    rotated = gait("keys", "rotate", "--out-dir", "keys", "--json").json
    assert rotated["prefix"].startswith("gait_") and rotated["prefix"].endswith("Z")
    verified = gait("keys", "verify", "--private-key", data["private_key_path"], "--json")
    assert verified.code == 0


def test_keys_verify_with_reference_public_key_mismatch_is_invalid(gait: RunGait) -> None:
    gait("keys", "init", "--out-dir", "k")
    out = gait(
        "keys",
        "verify",
        "--private-key",
        "k/gait_private.key",
        "--public-key",
        str(INTEROP / "reference_public.key"),
        "--json",
    )
    assert out.code == 6 and "does not match" in out.json["error"]


@pytest.mark.parametrize(
    "content",
    ["corrupt!!\n", base64.b64encode(b"k" * 32).decode() + "\n"],
    ids=["corrupt", "wrong-length"],
)
def test_bad_key_files_exit_6_with_envelope(gait: RunGait, tmp_path: Path, content: str) -> None:
    (tmp_path / "bad.key").write_text(content)
    out = gait("keys", "verify", "--private-key", "bad.key", "--json")
    assert out.code == 6
    assert set(out.json) == ENVELOPE_KEYS
    assert out.json["error_code"] == "invalid_input"
    assert "bad.key" in out.json["error"]
    assert content.strip() not in out.stdout  # the key material never reaches the output


def test_unreadable_key_path_exit_6(gait: RunGait, tmp_path: Path) -> None:
    out = gait("keys", "verify", "--private-key", str(tmp_path), "--json")
    assert out.code == 6 and out.json["error_category"] == "invalid_input"
    text = gait("keys", "verify", "--private-key", "missing.key")
    assert text.code == 6 and "keys verify error: cannot read key file" in text.stderr


def test_usage_errors_are_exit_6(gait: RunGait) -> None:
    out = gait("keys", "init", "--bogus", "--json")
    assert out.code == 6
    assert json.loads(out.stdout)["error_code"] == "invalid_input"
    assert gait("no-such-command").code == 6


def test_doctor_reports_checks(gait: RunGait, tmp_path: Path) -> None:
    gait("keys", "init", "--out-dir", "k")
    out = gait("doctor", "--private-key", "k/gait_private.key", "--json")
    assert out.code == 0, out.stdout
    names = {c["name"]: c["status"] for c in out.json["checks"]}
    assert names == {
        "python": "ok",
        "plugins": "ok",
        "signing_key": "ok",
        "output_dir": "ok",
    }
    bad = gait("doctor", "--private-key", "missing.key", "--json")
    assert bad.code == 1 and bad.json["ok"] is False
