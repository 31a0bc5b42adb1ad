"""The Beads CLI (`bd`) as its contract describes it (../shared/spec/peers.md §1).

- `bd list --all --limit 0 --json` answers an array of issues (closed ones included).
- `bd show <id> --json` answers an array, even for one id; no match exits 1.
- `bd create <title> ... --json` answers one issue object with its `id`.
- With `BD_JSON_ENVELOPE=1` (set here) every answer is `{"schema_version": 1, "data": ...}`;
  answers without the envelope are read too. An empty answer means `{}`.
- Failures exit non-zero with an `{"error": ...}` object on stdout or stderr.

Finding an issue by its external ref: the `bd list` of v1.0.5 filters on labels, titles and
descriptions but not on `external_ref` (later builds add `--external-ref`), so every issue is
listed and the ref is matched here. That also finds an issue that was closed, or whose `gait`
label a triager removed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from gait.errors import Category, DependencyMissingError, GaitError

if TYPE_CHECKING:
    from gait_plugin_beads.summary import TraceSummary

ENV_BD_BIN = "BD_BIN"
LIST_ARGS = ("list", "--all", "--limit", "0", "--json")
DEFAULT_TIMEOUT = 60.0
INSTALL_HINT = "install Beads (npm install -g @beads/bd) or pass --bd PATH"


class BdFailed(GaitError):
    """`bd` ran and failed, timed out, or answered something that is not its contract."""

    category = Category.INTERNAL_FAILURE


def default_bd() -> str:
    """`$BD_BIN`, else `bd` on PATH (the reference's rule)."""
    return os.environ.get(ENV_BD_BIN) or "bd"


def create_args(summary: TraceSummary) -> list[str]:
    """The `bd create` arguments (after the program) for a summary; the same bytes every time."""
    return [
        "create",
        summary.title,
        "--type",
        summary.issue_type,
        "--priority",
        str(summary.priority),
        "--labels",
        ",".join(summary.labels),
        "--external-ref",
        summary.external_ref,
        "--description",
        summary.description,
        "--json",
    ]


def unwrap(value: Any) -> Any:
    """The answer inside the `BD_JSON_ENVELOPE` envelope, or the answer itself."""
    if isinstance(value, dict) and "data" in value and "schema_version" in value:
        return value["data"]
    return value


def _clip(text: str, limit: int = 400) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def error_text(stdout: str, stderr: str) -> str:
    """bd's error message: the `error` of a JSON answer on either stream, else its stderr."""
    for stream in (stdout, stderr):
        try:
            value = unwrap(json.loads(stream))
        except ValueError:
            continue
        error = value.get("error") if isinstance(value, dict) else None
        if isinstance(error, dict):
            error = error.get("message")
        if isinstance(error, str) and error.strip():
            return _clip(error)
    return _clip(stderr) or _clip(stdout) or "no output"


def index_by_external_ref(issues: Iterable[Any]) -> dict[str, str]:
    """external_ref -> issue id; when several issues share a ref, the smallest id wins."""
    index: dict[str, str] = {}
    pairs = [
        (issue["external_ref"], issue["id"])
        for issue in issues
        if isinstance(issue, dict)
        and isinstance(issue.get("external_ref"), str)
        and isinstance(issue.get("id"), str)
        and issue["external_ref"]
        and issue["id"]
    ]
    for ref, issue_id in sorted(pairs):
        index.setdefault(ref, issue_id)
    return index


@attrs.frozen(kw_only=True)
class Filed:
    """The issue a trace maps to, whether this run created it, and anything worth a warning."""

    issue_id: str
    created: bool
    warnings: tuple[str, ...] = ()


class BdClient:
    """Runs `bd` non-interactively: stdin from /dev/null, JSON envelope on, output captured."""

    def __init__(
        self,
        bd: str,
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.bd = bd
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.timeout = timeout
        self._resolved = ""

    def resolve(self) -> str:
        """The bd executable; exit 7 when there is none."""
        if not self._resolved:
            found = shutil.which(self.bd)
            if found is None:
                where = "is not an executable file" if os.sep in self.bd else "is not on PATH"
                raise DependencyMissingError(f"bd not found: {self.bd!r} {where}; {INSTALL_HINT}")
            self._resolved = found
        return self._resolved

    @property
    def available(self) -> bool:
        try:
            self.resolve()
        except DependencyMissingError:
            return False
        return True

    def argv(self, args: Sequence[str]) -> list[str]:
        """The command as shown to users: the bd name as given, not the resolved path."""
        return [self.bd, *args]

    def run(self, args: Sequence[str]) -> Any:
        """Run `bd <args>` and return its JSON answer, unwrapped; BdFailed on any failure."""
        executable = self.resolve()
        env = {**os.environ, **(self.env or {}), "BD_JSON_ENVELOPE": "1", "BD_NON_INTERACTIVE": "1"}
        what = f"bd {args[0]}"
        try:
            done = subprocess.run(
                [executable, *args],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                cwd=self.cwd,
                env=env,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BdFailed(f"{what} timed out after {self.timeout:g}s") from exc
        except OSError as exc:
            raise DependencyMissingError(
                f"bd at {executable} cannot be run: {exc.strerror or exc}; {INSTALL_HINT}"
            ) from exc
        if done.returncode != 0:
            raise BdFailed(
                f"{what} failed (exit {done.returncode}): {error_text(done.stdout, done.stderr)}"
            )
        text = done.stdout.strip()
        if not text:
            return {}
        try:
            return unwrap(json.loads(text))
        except ValueError as exc:
            raise BdFailed(f"{what} did not answer JSON: {_clip(text, 200)}") from exc

    def issues(self) -> list[Any]:
        answer = self.run(LIST_ARGS)
        if not isinstance(answer, list):
            raise BdFailed(f"bd list answered {type(answer).__name__}, not a JSON array")
        return answer

    def external_refs(self) -> dict[str, str]:
        return index_by_external_ref(self.issues())

    def show(self, issue_id: str) -> dict[str, Any] | None:
        answer = self.run(["show", issue_id, "--json"])
        if isinstance(answer, dict) and answer:  # the bundled docs say object; the code: array
            answer = [answer]
        if not isinstance(answer, list):
            raise BdFailed(f"bd show answered {type(answer).__name__}, not a JSON array")
        for issue in answer:
            if isinstance(issue, dict) and issue.get("id") == issue_id:
                return issue
        return None

    def create(self, args: Sequence[str]) -> str:
        answer = self.run(args)
        issue_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(issue_id, str) or not issue_id:
            raise BdFailed(f"bd create answered no issue id: {_clip(json.dumps(answer), 200)}")
        return issue_id

    def file(self, summary: TraceSummary, known: MutableMapping[str, str]) -> Filed:
        """The issue for a summary: the one already carrying its external ref, else a new one.

        `known` maps external refs to issue ids (from `external_refs()`) and learns new ones.
        """
        existing = known.get(summary.external_ref)
        if existing:
            return Filed(issue_id=existing, created=False)
        issue_id = self.create(create_args(summary))
        known[summary.external_ref] = issue_id
        return Filed(issue_id=issue_id, created=True, warnings=self._confirm(issue_id, summary))

    def _confirm(self, issue_id: str, summary: TraceSummary) -> tuple[str, ...]:
        """Read the new issue back: without its external ref, a re-run would file it again."""
        try:
            issue = self.show(issue_id)
        except GaitError as exc:
            return (f"created {issue_id} but could not read it back: {exc}",)
        stored = issue.get("external_ref") if issue is not None else None
        if stored != summary.external_ref:
            return (
                f"bd did not store external_ref {summary.external_ref} on {issue_id} "
                f"(it has {stored!r}); a re-run would file a duplicate",
            )
        return ()
