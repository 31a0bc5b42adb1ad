"""The compiled-policy cache of the Gas Town hook (gait.policy_cache) never changes a decision:
an entry is used only for the exact policy bytes it was made from, only when the user who runs
gait owns the policy and can write it (so a forged entry gives it nothing it could not get by
editing the policy), owns the folder and the entry and nobody else can write them, and only as
data that is validated again; anything else falls back to the policy's YAML."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gait import policy_cache
from gait.policy import PolicyError, load_policy
from gait.policy_cache import json_exact, load_policy_file_cached

BLOCK_ALL = """schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
rules: []
"""
ALLOW_ALL = BLOCK_ALL.replace("default_verdict: block", "default_verdict: allow")
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GAIT_HOME", str(tmp_path / "gait-home"))
    return tmp_path / "gait-home" / "cache" / "policies"


@pytest.fixture
def strict(tmp_path: Path) -> Path:
    path = tmp_path / "strict.yaml"
    path.write_text(BLOCK_ALL)
    return path


def no_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(data: Any) -> Any:
        raise AssertionError("the YAML was parsed")

    monkeypatch.setattr(policy_cache, "parse_policy_document", refuse)


def forge(home: Path, strict: Path, tmp_path: Path) -> Path:
    """An entry under the strict policy's key holding the allow-all policy's document."""
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(ALLOW_ALL)
    load_policy_file_cached(lenient)
    [made] = home.iterdir()
    stored = json.loads(made.read_text())
    made.unlink()
    stored["key"] = policy_cache.cache_key(strict.read_bytes())
    entry = home / f"{stored['key']}.json"
    entry.write_text(json.dumps(stored))
    entry.chmod(0o600)
    return entry


def test_a_hit_gives_what_the_yaml_gives_without_parsing_it(
    home: Path, strict: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missed = load_policy_file_cached(strict)
    [entry] = home.iterdir()
    assert entry.stat().st_mode & 0o777 == 0o600
    assert home.stat().st_mode & 0o777 == 0o700
    no_yaml(monkeypatch)
    hit = load_policy_file_cached(strict)
    assert hit.digest == missed.digest == load_policy(BLOCK_ALL).digest
    assert hit.policy == missed.policy


def test_an_edited_policy_is_parsed_again(home: Path, strict: Path) -> None:
    load_policy_file_cached(strict)
    strict.write_text(ALLOW_ALL)
    assert load_policy_file_cached(strict).digest == load_policy(ALLOW_ALL).digest
    assert len(list(home.iterdir())) == 2


def test_an_entry_under_another_key_is_not_used(home: Path, strict: Path, tmp_path: Path) -> None:
    """An entry renamed (or linked) to the strict policy's key still names its own key."""
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(ALLOW_ALL)
    load_policy_file_cached(lenient)
    [made] = home.iterdir()
    made.rename(home / f"{policy_cache.cache_key(strict.read_bytes())}.json")
    assert load_policy_file_cached(strict).digest == load_policy(BLOCK_ALL).digest


def test_a_trusted_entry_is_used_as_data_and_validated_again(
    home: Path, strict: Path, tmp_path: Path
) -> None:
    """An entry of the policy's owner is trusted as the policy itself is (its owner could edit
    either); what it holds is validated again, and a document that is no valid policy falls
    back to the YAML."""
    entry = forge(home, strict, tmp_path)
    assert load_policy_file_cached(strict).digest == load_policy(ALLOW_ALL).digest
    stored = json.loads(entry.read_text())
    stored["document"]["default_verdict"] = "maybe"
    entry.write_text(json.dumps(stored))
    assert load_policy_file_cached(strict).digest == load_policy(BLOCK_ALL).digest


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda entry, home: entry.chmod(0o620), id="entry-group-writable"),
        pytest.param(lambda entry, home: entry.chmod(0o602), id="entry-world-writable"),
        pytest.param(lambda entry, home: home.chmod(0o770), id="folder-group-writable"),
        pytest.param(
            lambda entry, home: (
                entry.rename(entry.with_suffix(".real")),
                entry.symlink_to(entry.with_suffix(".real")),
            ),
            id="entry-a-link",
        ),
        pytest.param(
            lambda entry, home: (
                home.rename(home.with_name("elsewhere")),
                home.symlink_to(home.with_name("elsewhere")),
            ),
            id="folder-a-link",
        ),
        pytest.param(lambda entry, home: entry.write_text("{not json"), id="entry-not-json"),
        pytest.param(
            lambda entry, home: entry.write_text(entry.read_text().replace('"allow"', "NaN", 1)),
            id="entry-with-nan",
        ),
    ],
)
def test_an_entry_others_could_have_written_is_not_used(
    home: Path, strict: Path, tmp_path: Path, spoil: Any
) -> None:
    entry = forge(home, strict, tmp_path)
    spoil(entry, home)
    assert load_policy_file_cached(strict).digest == load_policy(BLOCK_ALL).digest


@AS_ROOT
def test_an_entry_of_another_user_is_not_used(home: Path, strict: Path, tmp_path: Path) -> None:
    entry = forge(home, strict, tmp_path)
    os.chown(entry, 65534, 65534)
    assert load_policy_file_cached(strict).digest == load_policy(BLOCK_ALL).digest


@AS_ROOT
def test_a_policy_of_another_user_never_goes_through_the_cache(
    home: Path, strict: Path, tmp_path: Path
) -> None:
    """A worker that runs as another user than the policy's owner could forge an entry in its
    own cache for a policy it cannot write: such a hook neither reads nor writes the cache."""
    forge(home, strict, tmp_path)
    before = sorted(home.iterdir())
    os.chown(strict, 65534, 65534)
    assert load_policy_file_cached(strict).digest == load_policy(BLOCK_ALL).digest
    assert sorted(home.iterdir()) == before


def test_an_invalid_policy_is_refused_as_without_the_cache(home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BLOCK_ALL.replace("block", "maybe"))
    with pytest.raises(PolicyError) as cached:
        load_policy_file_cached(broken)
    with pytest.raises(PolicyError) as plain:
        load_policy(broken.read_bytes())
    assert str(cached.value) == str(plain.value)
    assert not home.exists() or not list(home.iterdir())


def test_only_what_json_gives_back_exactly_is_cached() -> None:
    assert json_exact({"a": [1, 2.5, "x", None, True, {"b": -0.0}]})
    assert not json_exact({"a": math.inf})
    assert not json_exact({"a": math.nan})
    assert not json_exact({1: "x"})
    assert not json_exact({"a": (1, 2)})
    assert not json_exact({"a": b"x"})


def test_the_hook_decides_by_the_yaml_over_a_forged_entry(tmp_path: Path) -> None:
    """End to end: the installed hook with a group-writable forged entry still blocks."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(BLOCK_ALL)
    home = tmp_path / "gait-home"
    env = {**os.environ, "GAIT_HOME": str(home), "GAIT_PLUGINS": "gastown"}
    hook = Path(sys.executable).parent / "gait-gastown-hook"
    event = json.dumps(
        {"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": "ls"}}
    ).encode()

    def decide() -> int:
        done = subprocess.run(
            [str(hook), "--policy", str(policy)],
            input=event,
            env=env,
            cwd=tmp_path,
            capture_output=True,
            check=False,
        )
        return done.returncode

    assert decide() == 2
    [entry] = (home / "cache" / "policies").iterdir()
    stored = json.loads(entry.read_text())
    stored["document"]["default_verdict"] = "allow"
    entry.write_text(json.dumps(stored))
    entry.chmod(0o660)
    assert decide() == 2


def hook_event() -> bytes:
    return json.dumps(
        {"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": "ls"}}
    ).encode()


# In a user and mount namespace of the test's own: bind-mount the folder $1 on $2, remount the
# bind read-only, and run the command (with all capabilities dropped, as an agent would run).
_READ_ONLY_BIND = r"""
set -e
mount --bind "$1" "$2"
mount -o remount,bind,ro "$2"
shift 2
exec "$@"
"""


def read_only_bind_unavailable() -> str:
    """Why a read-only bind mount cannot be made here ('' when it can)."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = [
        "unshare", "--user", "--map-root-user", "--mount",
        "sh", "-c", "mount --bind /tmp /mnt && mount -o remount,bind,ro /mnt",
    ]  # fmt: skip
    done = subprocess.run(probe, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"{' '.join(probe)} is not permitted here: {done.stderr.strip()}"
    return ""


def test_a_policy_on_a_read_only_mount_never_goes_through_the_cache(
    home: Path, tmp_path: Path
) -> None:
    """The review's attack (H1): the policy is the user's own file, bind-mounted read-only so
    that an agent running as that user cannot edit it; the agent forges an entry in the user's
    cache. The hook must decide by the policy (block, exit 2), and honour the same entry only
    when the same file is reached through a path the user can write (the cache is in use)."""
    reason = read_only_bind_unavailable()
    if reason:
        pytest.skip(f"cannot bind-mount a folder read-only: {reason}")
    src = tmp_path / "src"
    mounted = tmp_path / "ro"
    src.mkdir()
    mounted.mkdir()
    strict = src / "policy.yaml"
    strict.write_text(BLOCK_ALL)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "GAIT_HOME": str(home.parent.parent), "GAIT_PLUGINS": "gastown"}
    hook = Path(sys.executable).parent / "gait-gastown-hook"
    agent = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    if shutil.which("setpriv") is None:
        agent = []

    def decide(policy: Path) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [
                "unshare", "--user", "--map-root-user", "--mount",
                "sh", "-c", _READ_ONLY_BIND, "sh", str(src), str(mounted),
                *agent, str(hook), "--policy", str(policy),
            ],
            input=hook_event(), env=env, cwd=work, capture_output=True, timeout=120,
            check=False,
        )  # fmt: skip

    # Honest call: the policy blocks, and the cache is neither read nor written.
    done = decide(mounted / "policy.yaml")
    assert done.returncode == 2, done.stderr
    assert not home.exists()
    # The agent forges an entry (owner-only, under the policy's own key) that allows.
    entry = forge(home, strict, tmp_path)
    forged = entry.read_bytes()
    done = decide(mounted / "policy.yaml")
    assert done.returncode == 2, done.stderr
    assert sorted(home.iterdir()) == [entry]
    assert entry.read_bytes() == forged
    # The same file through the writable path: the user could edit the policy there, the cache
    # is used, and the entry (honoured only here) is what proves it.
    done = decide(strict)
    assert done.returncode == 0, done.stderr


def test_a_policy_replaced_after_it_was_read_does_not_go_through_the_cache(
    home: Path, strict: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write check opens the policy again by its path: it counts only when it opens the very
    file that was read (same device and inode), and the owner is taken from the descriptor read
    (not from a second look at the path)."""
    forge(home, strict, tmp_path)
    before = {path: path.read_bytes() for path in home.iterdir()}
    read_policy = policy_cache._read_policy

    def read_then_replace(path: str | Path) -> Any:
        read = read_policy(path)
        spare = tmp_path / "spare.yaml"
        spare.write_text(BLOCK_ALL)
        spare.replace(strict)  # the same bytes, another file
        return read

    monkeypatch.setattr(policy_cache, "_read_policy", read_then_replace)
    assert load_policy_file_cached(strict).digest == load_policy(BLOCK_ALL).digest
    assert {path: path.read_bytes() for path in home.iterdir()} == before


def test_a_policy_reached_through_a_link_goes_through_the_cache(
    home: Path, strict: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link to a policy the user can write is that policy: the write check follows it and
    opens the file that was read."""
    link = tmp_path / "link.yaml"
    link.symlink_to(strict)
    missed = load_policy_file_cached(link)
    no_yaml(monkeypatch)
    assert load_policy_file_cached(link).digest == missed.digest == load_policy(BLOCK_ALL).digest


def test_a_policy_that_cannot_be_read_is_refused_as_without_the_cache(
    home: Path, tmp_path: Path
) -> None:
    """The cache's own reading falls back to read_regular_file, whose messages the hook gives."""
    missing = tmp_path / "missing.yaml"
    with pytest.raises(PolicyError, match=r"read policy: cannot read policy .*missing\.yaml"):
        load_policy_file_cached(missing)
    with pytest.raises(PolicyError, match="not a regular file"):
        load_policy_file_cached(tmp_path)
    assert not home.exists()


def test_the_key_covers_the_module_that_parses_yaml() -> None:
    """An edit of the YAML parser (an editable install) must change every key: the key stats the
    file that defines the parse the cache stores."""
    import inspect

    from gait import policy_yaml

    parser_file = Path(inspect.getfile(policy_yaml.parse_policy_document))
    assert Path(policy_cache.__file__).with_name("policy_yaml.py") == parser_file
