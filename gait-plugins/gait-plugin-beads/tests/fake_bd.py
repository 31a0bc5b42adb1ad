"""A stand-in for the Beads CLI, held to the contract of ../shared/spec/peers.md §1.

Installed by the tests as an executable `bd` (first on PATH, or given with --bd). It accepts
only the argument shapes the bridge is meant to use, and answers like bd does:

- `list --all --limit 0 --json` -> an array of issues;
- `show <id> --json` -> an array (even for one id); an unknown id exits 1;
- `create <title> --type T --priority P --labels a,b --external-ref R --description D --json`
  -> one issue object, with `schema_version` injected;
- with `BD_JSON_ENVELOPE=1` every answer is `{"schema_version": 1, "data": ...}`;
- failures exit 1 with `{"error": ...}` (on stdout or stderr, as bd does).

State lives in `$FAKE_BD_STATE` (a JSON array of issues); each call is appended to
`$FAKE_BD_LOG` as one JSON line. `FAKE_BD_FAIL=<command>` makes that command fail,
`FAKE_BD_LEGACY=1` ignores the envelope variable, `FAKE_BD_DROP_REF=1` forgets external refs
(an old bd), `FAKE_BD_DELAY=<seconds>` answers slowly.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

TYPES = {"bug", "feature", "task", "epic", "chore", "decision"}
CREATE_FLAGS = {"--type", "--priority", "--labels", "--external-ref", "--description"}
NOW = "2026-11-21T00:00:00Z"


def fail(message: str, *, stream: str = "stderr") -> NoReturn:
    body = json.dumps({"error": message, "schema_version": 1})
    print(body, file=sys.stdout if stream == "stdout" else sys.stderr)
    raise SystemExit(1)


def answer(value: Any) -> None:
    if os.environ.get("BD_JSON_ENVELOPE") == "1" and os.environ.get("FAKE_BD_LEGACY") != "1":
        value = {"schema_version": 1, "data": value}
    elif isinstance(value, dict):
        value = {**value, "schema_version": 1}
    print(json.dumps(value, indent=2))


def load() -> list[dict[str, Any]]:
    path = Path(os.environ["FAKE_BD_STATE"])
    return json.loads(path.read_text()) if path.exists() else []


def save(issues: list[dict[str, Any]]) -> None:
    Path(os.environ["FAKE_BD_STATE"]).write_text(json.dumps(issues, indent=2))


def create(args: list[str]) -> None:
    if not args or args[0].startswith("-"):
        fail("title required")
    title, rest = args[0], args[1:]
    if rest[-1:] != ["--json"]:
        fail("expected --json last")
    rest = rest[:-1]
    flags: dict[str, str] = {}
    while rest:
        flag, *rest = rest
        if flag not in CREATE_FLAGS:
            print(f"Error: unknown flag: {flag}", file=sys.stderr)
            raise SystemExit(1)
        if flag in flags or not rest:
            fail(f"flag {flag} given twice or without a value")
        flags[flag], *rest = rest
    if set(flags) != CREATE_FLAGS:
        fail(f"missing flags: {sorted(CREATE_FLAGS - set(flags))}")
    if flags["--type"] not in TYPES:
        fail(f"invalid issue type: {flags['--type']}")
    if flags["--priority"] not in {"0", "1", "2", "3", "4"}:
        fail(f"invalid priority: {flags['--priority']}")
    if not flags["--external-ref"].startswith("gait:"):
        fail("external ref is not a gait trace ref")
    issues = load()
    issue = {
        "id": f"gt-{len(issues) + 1:03d}",
        "title": title,
        "description": flags["--description"],
        "status": "open",
        "priority": int(flags["--priority"]),
        "issue_type": flags["--type"],
        "labels": flags["--labels"].split(","),
        "created_at": NOW,
        "updated_at": NOW,
    }
    if os.environ.get("FAKE_BD_DROP_REF") != "1":
        issue["external_ref"] = flags["--external-ref"]
    save([*issues, issue])
    answer(issue)


def main(argv: list[str]) -> None:
    with Path(os.environ["FAKE_BD_LOG"]).open("a") as log:
        log.write(json.dumps({"argv": argv, "stdin": sys.stdin.read()}) + "\n")
    time.sleep(float(os.environ.get("FAKE_BD_DELAY", "0")))
    if not argv:
        fail("no command")
    command, args = argv[0], argv[1:]
    if os.environ.get("FAKE_BD_FAIL") == command:
        fail(f"database is locked ({command})", stream="stdout")
    if command == "list":
        if args != ["--all", "--limit", "0", "--json"]:
            fail(f"unexpected list arguments: {args}")
        answer([{**issue, "dependency_count": 0, "comment_count": 0} for issue in load()])
    elif command == "show":
        if len(args) != 2 or args[1] != "--json":
            fail(f"unexpected show arguments: {args}")
        found = [issue for issue in load() if issue["id"] == args[0]]
        if not found:
            fail(f"no issue found matching {args[0]!r}")
        answer(found)
    elif command == "create":
        create(args)
    else:
        fail(f"unexpected command: {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
