"""`gait policy fmt|init|simulate` through the installed CLI."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from gait.policy import parse_policy
from gait.policy_templates import TEMPLATE_ALIASES, TEMPLATE_NAMES, template_text
from tests.conftest import REPO, RunGait

QUICKSTART = REPO / "examples" / "quickstart"

MESSY_POLICY = """\
# Team policy: reads are fine, writes need a look.

default_action: BLOCK
rules:
  - name: read
    priority: 30
    action: allow
    match: {tool_name: Tool.Read}
  - name: write
    priority: 20
    effect: require_approval
    match:
      tool_names: [tool.write]   # inline comments are not kept
    reason_codes: [b, a, a]
"""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    for path in QUICKSTART.iterdir():
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "messy.yaml").write_text(MESSY_POLICY)
    return tmp_path


# --------------------------------------------------------------------------------------------
# fmt
# --------------------------------------------------------------------------------------------


def test_fmt_prints_the_normalized_policy(gait: RunGait, work: Path) -> None:
    out = gait("policy", "fmt", "messy.yaml")
    assert out.code == 0
    assert out.stdout == (
        """\
# Team policy: reads are fine, writes need a look.
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
rules:
  - name: write
    priority: 20
    effect: require_approval
    match:
      tool_names: [tool.write]
    reason_codes: [a, b]
  - name: read
    priority: 30
    effect: allow
    match:
      tool_names: [tool.read]
"""
    )
    assert (work / "messy.yaml").read_text() == MESSY_POLICY


def test_fmt_json_reports_without_writing(gait: RunGait, work: Path) -> None:
    out = gait("policy", "fmt", "messy.yaml", "--json")
    assert out.code == 0
    report = out.json
    digest = gait("policy", "validate", "messy.yaml", "--json").json["policy_digest"]
    assert report["ok"] is True
    assert report["path"] == "messy.yaml"
    assert (report["changed"], report["written"]) == (True, False)
    assert report["policy_digest"] == digest
    assert (report["default_verdict"], report["rule_count"]) == ("block", 2)
    assert parse_policy(report["formatted"]).digest == digest
    assert list(report) == sorted(report)
    assert (work / "messy.yaml").read_text() == MESSY_POLICY


def test_fmt_write_rewrites_only_when_changed(gait: RunGait, work: Path) -> None:
    policy = work / "messy.yaml"
    policy.chmod(0o640)
    before = gait("policy", "fmt", "messy.yaml", "--json").json
    first = gait("policy", "fmt", "messy.yaml", "--write", "--json")
    assert first.code == 0
    assert (first.json["changed"], first.json["written"]) == (True, True)
    assert policy.read_text() == before["formatted"]
    assert stat.S_IMODE(policy.stat().st_mode) == 0o640
    assert first.json["policy_digest"] == before["policy_digest"]
    mtime = policy.stat().st_mtime_ns
    second = gait("policy", "fmt", "messy.yaml", "--write")
    assert second.code == 0
    assert second.stdout == "policy fmt ok: path=messy.yaml changed=false written=false rules=2\n"
    assert policy.stat().st_mtime_ns == mtime
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == []


def test_fmt_write_through_a_symlink_keeps_the_link(gait: RunGait, work: Path) -> None:
    (work / "link.yaml").symlink_to("messy.yaml")
    assert gait("policy", "fmt", "link.yaml", "--write").code == 0
    assert (work / "link.yaml").is_symlink()
    assert gait("policy", "fmt", "messy.yaml", "--json").json["changed"] is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("rules: [{name: r}]\n", "rule effect is required for r"),
        ("rules:\n  - name: r\n    effect: allow\n    sandbox: {enabled: true}\n", "sandbox"),
        ("version: 1\n", "legacy policy proposal fields"),
    ],
)
def test_fmt_refuses_an_invalid_policy(
    gait: RunGait, work: Path, content: str, message: str
) -> None:
    (work / "bad.yaml").write_text(content)
    out = gait("policy", "fmt", "bad.yaml", "--write", "--json")
    assert out.code == 6
    assert out.json["ok"] is False and out.json["error_code"] == "invalid_input"
    assert message in out.json["error"]
    assert (work / "bad.yaml").read_text() == content


def test_fmt_missing_file_is_invalid_input(gait: RunGait, work: Path) -> None:
    assert gait("policy", "fmt", "nope.yaml", "--json").code == 6
    assert gait("policy", "fmt", " ", "--json").json["error"] == "policy path must not be empty"


def test_fmt_of_a_formatted_template_changes_nothing(gait: RunGait, work: Path) -> None:
    for name in TEMPLATE_NAMES:
        assert gait("policy", "init", name, "--out", f"{name}.yaml").code == 0
        out = gait("policy", "fmt", f"{name}.yaml", "--json")
        assert out.json["changed"] is False, name


# --------------------------------------------------------------------------------------------
# init
# --------------------------------------------------------------------------------------------

ALL_SPELLINGS = sorted(TEMPLATE_ALIASES)

# The quickstart intents are risk_class high: reads are allowed only by the low-risk template.
QUICKSTART_EXIT_CODES = {
    "baseline-lowrisk": {"read": 0, "write": 4, "delete": 3},
    "baseline-mediumrisk": {"read": 4, "write": 4, "delete": 3},
    "baseline-highrisk": {"read": 3, "write": 4, "delete": 3},
}


@pytest.mark.parametrize("spelling", ALL_SPELLINGS)
def test_init_writes_every_template_under_every_name(
    gait: RunGait, work: Path, spelling: str
) -> None:
    out = gait("policy", "init", spelling, "--out", "policies/new.yaml", "--json")
    assert out.code == 0, out.stdout
    resolved = TEMPLATE_ALIASES[spelling]
    assert out.json["template"] == resolved
    assert out.json["policy_path"] == "policies/new.yaml"
    assert out.json["next_commands"][0] == "gait policy validate policies/new.yaml --json"
    written = work / "policies" / "new.yaml"
    assert written.read_text() == template_text(resolved)
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    assert gait("policy", "validate", "policies/new.yaml").code == 0


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_each_template_decides_the_quickstart_intents(
    gait: RunGait, work: Path, template: str
) -> None:
    assert gait("policy", "init", template).code == 0
    for tool, expected in QUICKSTART_EXIT_CODES[template].items():
        tested = gait("policy", "test", "gait.policy.yaml", f"intent_{tool}.json", "--json")
        assert tested.code == expected, (template, tool, tested.stdout)
        evaluated = gait(
            "gate",
            "eval",
            "--policy",
            "gait.policy.yaml",
            "--intent",
            f"intent_{tool}.json",
            "--json",
            env={"GAIT_HOME": str(work / "home")},
        )
        assert evaluated.code == expected, (template, tool, evaluated.stdout)


def test_init_default_output_and_text(gait: RunGait, work: Path) -> None:
    out = gait("policy", "init", "low")
    assert out.code == 0
    assert out.stdout.splitlines()[0] == (
        "policy init ok: template=baseline-lowrisk output=gait.policy.yaml"
    )
    assert (work / "gait.policy.yaml").read_text() == template_text("low")


def test_init_refuses_to_overwrite_without_force(gait: RunGait, work: Path) -> None:
    target = work / "gait.policy.yaml"
    target.write_text("mine\n")
    out = gait("policy", "init", "high", "--json")
    assert out.code == 6
    assert out.json["error"] == (
        "output path already exists (use --force to overwrite): gait.policy.yaml"
    )
    assert target.read_text() == "mine\n"
    assert gait("policy", "init", "high", "--force").code == 0
    assert target.read_text() == template_text("high")


def test_init_refuses_a_dangling_symlink_too(gait: RunGait, work: Path) -> None:
    (work / "gait.policy.yaml").symlink_to("elsewhere.yaml")
    assert gait("policy", "init", "low").code == 6
    assert not (work / "elsewhere.yaml").exists()


def test_init_unknown_template_lists_the_valid_names(gait: RunGait, work: Path) -> None:
    out = gait("policy", "init", "extreme", "--json")
    assert out.code == 6
    for name in (*TEMPLATE_NAMES, "low", "baseline_high_risk"):
        assert name in out.json["error"]
    assert not (work / "gait.policy.yaml").exists()


def test_init_into_a_directory_path_is_invalid_input(gait: RunGait, work: Path) -> None:
    (work / "dir").mkdir()
    assert gait("policy", "init", "low", "--out", "dir", "--force", "--json").code == 6


# --------------------------------------------------------------------------------------------
# simulate
# --------------------------------------------------------------------------------------------


def _policy(default: str, *rules: str) -> str:
    return f"default_verdict: {default}\nrules:\n" + "".join(rules)


WRITE_NEEDS_APPROVAL = (
    "  - name: approve-write\n    effect: require_approval\n"
    "    match: {tool_names: [tool.write]}\n    reason_codes: [needs_review]\n"
)
WRITE_NEEDS_APPROVAL_RENAMED_REASON = WRITE_NEEDS_APPROVAL.replace("needs_review", "reviewed")


def simulate(gait: RunGait, candidate: str, baseline: str, fixtures: str) -> dict[str, object]:
    out = gait(
        "policy",
        "simulate",
        "--policy",
        candidate,
        "--baseline",
        baseline,
        "--fixtures",
        fixtures,
        "--json",
    )
    assert out.code == 0, out.stdout + out.stderr
    return out.json


def test_simulate_unchanged_policy_recommends_enforce(gait: RunGait, work: Path) -> None:
    report = simulate(gait, "policy.yaml", "policy.yaml", ".")
    assert report["recommendation"] == "enforce"
    assert (report["fixtures_total"], report["changed_fixtures"]) == (3, 0)
    assert report["changed"] == [] and report["invalid_fixtures"] == []
    assert (
        report["baseline_verdicts"]
        == report["candidate_verdicts"]
        == [
            {"verdict": "allow", "count": 1},
            {"verdict": "block", "count": 1},
            {"verdict": "require_approval", "count": 1},
        ]
    )
    assert report["summary"] == "policy simulate fixtures=3 changed=0 recommendation=enforce"


def test_simulate_a_fixture_moving_to_allow_recommends_observe(gait: RunGait, work: Path) -> None:
    (work / "baseline.yaml").write_text(_policy("block"))
    (work / "candidate.yaml").write_text(_policy("allow"))
    report = simulate(gait, "candidate.yaml", "baseline.yaml", "intent_read.json")
    assert report["recommendation"] == "observe"
    changed = report["changed"]
    assert isinstance(changed, list)
    (diff,) = changed
    assert diff == {
        "fixture_path": "intent_read.json",
        "intent_digest": gait("policy", "test", "policy.yaml", "intent_read.json", "--json").json[
            "intent_digest"
        ],
        "changed": True,
        "baseline_verdict": "block",
        "candidate_verdict": "allow",
        "baseline_reason_codes": ["default_block"],
        "candidate_reason_codes": ["default_allow"],
        "baseline_violations": [],
        "candidate_violations": [],
        "baseline_matched_rule": "",
        "candidate_matched_rule": "",
    }


def test_simulate_a_fixture_becoming_block_recommends_require_approval(
    gait: RunGait, work: Path
) -> None:
    (work / "baseline.yaml").write_text(_policy("allow", WRITE_NEEDS_APPROVAL))
    (work / "candidate.yaml").write_text(_policy("block", WRITE_NEEDS_APPROVAL))
    report = simulate(gait, "candidate.yaml", "baseline.yaml", ".")
    # read and delete go from allow to block; write is decided by the same rule in both.
    assert report["recommendation"] == "require_approval"
    assert [d["fixture_path"] for d in report["changed"]] == [  # type: ignore[attr-defined]
        "intent_delete.json",
        "intent_read.json",
    ]


def test_simulate_relaxation_wins_over_new_blocks(gait: RunGait, work: Path) -> None:
    (work / "baseline.yaml").write_text(_policy("block", WRITE_NEEDS_APPROVAL))
    (work / "candidate.yaml").write_text(
        "default_verdict: allow\nrules:\n"
        "  - name: block-write\n    effect: block\n    match: {tool_names: [tool.write]}\n"
    )
    report = simulate(gait, "candidate.yaml", "baseline.yaml", ".")
    assert report["recommendation"] == "observe"


def test_simulate_other_changes_recommend_enforce(gait: RunGait, work: Path) -> None:
    (work / "baseline.yaml").write_text(_policy("block", WRITE_NEEDS_APPROVAL))
    (work / "candidate.yaml").write_text(_policy("block", WRITE_NEEDS_APPROVAL_RENAMED_REASON))
    report = simulate(gait, "candidate.yaml", "baseline.yaml", ".")
    assert report["changed_fixtures"] == 1
    assert report["changed"][0]["candidate_reason_codes"] == ["reviewed"]  # type: ignore[index]
    assert report["recommendation"] == "enforce"


def test_simulate_fixture_discovery(gait: RunGait, work: Path) -> None:
    nested = work / "more" / "deeper"
    nested.mkdir(parents=True)
    shutil.copy(work / "intent_read.json", nested / "B.JSON")
    shutil.copy(work / "intent_read.json", work / "more" / "a.json")
    (work / "more" / "notes.txt").write_text("not a fixture")
    (work / "baseline.yaml").write_text(_policy("block"))
    (work / "candidate.yaml").write_text(_policy("allow"))
    report = simulate(
        gait, "candidate.yaml", "baseline.yaml", " more , intent_write.json,./more/a.json,"
    )
    assert report["fixtures_total"] == 3
    assert [d["fixture_path"] for d in report["changed"]] == [  # type: ignore[attr-defined]
        "intent_write.json",
        "more/a.json",
        "more/deeper/B.JSON",
    ]


def test_simulate_reports_invalid_fixtures_and_goes_on(gait: RunGait, work: Path) -> None:
    fixtures = work / "fixtures"
    fixtures.mkdir()
    (fixtures / "a_broken.json").write_text("{not json")
    (fixtures / "b_not_an_intent.json").write_text(json.dumps({"tool_name": ""}))
    shutil.copy(work / "intent_read.json", fixtures / "c_read.json")
    (work / "baseline.yaml").write_text(_policy("block"))
    (work / "candidate.yaml").write_text(_policy("allow"))
    report = simulate(gait, "candidate.yaml", "baseline.yaml", "fixtures")
    assert report["fixtures_total"] == 3 and report["changed_fixtures"] == 1
    invalid = report["invalid_fixtures"]
    assert [entry["fixture_path"] for entry in invalid] == [  # type: ignore[attr-defined]
        "fixtures/a_broken.json",
        "fixtures/b_not_an_intent.json",
    ]
    assert all(entry["error"] for entry in invalid)  # type: ignore[attr-defined]
    assert report["summary"].endswith("recommendation=observe invalid=2")  # type: ignore[attr-defined]
    text = gait(
        "policy",
        "simulate",
        "--policy",
        "candidate.yaml",
        "--baseline",
        "baseline.yaml",
        "--fixtures",
        "fixtures",
    )
    assert text.code == 0
    lines = text.stdout.splitlines()
    assert lines[0] == report["summary"]
    assert lines[1] == "changed: fixtures/c_read.json verdict block -> allow, rule none -> none"
    assert lines[2].startswith("invalid: fixtures/a_broken.json: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", "policy.yaml", "--fixtures", "."], "missing required --policy"),
        (["--policy", "policy.yaml", "--fixtures", "."], "missing required --baseline"),
        (["--policy", "policy.yaml", "--baseline", "policy.yaml"], "missing required --fixtures"),
        (["--policy", "policy.yaml", "--baseline", "policy.yaml", "--fixtures", " , "], "missing"),
        (["--policy", "policy.yaml", "--baseline", "policy.yaml", "--fixtures", "nope"], "nope"),
        (
            ["--policy", "policy.yaml", "--baseline", "policy.yaml", "--fixtures", "policy.yaml"],
            "fixture file must be .json: policy.yaml",
        ),
        (
            ["--policy", "policy.yaml", "--baseline", "policy.yaml", "--fixtures", "empty"],
            "no intent fixtures discovered",
        ),
        (
            ["--policy", "bad.yaml", "--baseline", "policy.yaml", "--fixtures", "."],
            "candidate policy bad.yaml: ",
        ),
        (
            ["--policy", "policy.yaml", "--baseline", "missing.yaml", "--fixtures", "."],
            "baseline policy missing.yaml: ",
        ),
    ],
)
def test_simulate_bad_input_exits_6(
    gait: RunGait, work: Path, args: list[str], message: str
) -> None:
    (work / "empty").mkdir()
    (work / "bad.yaml").write_text("rules: 3\n")
    out = gait("policy", "simulate", *args, "--json")
    assert out.code == 6, out.stdout
    assert message in out.json["error"]
    assert out.json["error_code"] == "invalid_input"


# --------------------------------------------------------------------------------------------
# help
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["fmt", "init", "simulate"])
def test_help_ends_with_the_exit_codes(gait: RunGait, command: str) -> None:
    out = gait("policy", command, "--help")
    assert out.code == 0
    assert "--json" in out.stdout
    assert out.stdout.rstrip().endswith("6  invalid input or usage")
    assert "Exit codes:" in out.stdout


def test_files_written_by_init_are_not_world_writable(gait: RunGait, work: Path) -> None:
    old = os.umask(0)
    try:
        assert gait("policy", "init", "medium").code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((work / "gait.policy.yaml").stat().st_mode) == 0o644


def test_fmt_write_leaves_a_read_only_policy_alone(gait: RunGait, work: Path) -> None:
    policy = work / "messy.yaml"
    policy.chmod(0o444)
    # root may write a 0444 file; an immutable one is read-only even for root.
    immutable = os.access(policy, os.W_OK)
    if immutable:
        subprocess.run(["chattr", "+i", str(policy)], check=True)
    try:
        assert not os.access(policy, os.W_OK)
        out = gait("policy", "fmt", "messy.yaml", "--write", "--json")
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(policy)], check=True)
    assert out.code == 6 and "Permission denied" in out.json["error"]
    assert policy.read_text() == MESSY_POLICY
