"""The JUnit report of a regress run, byte for byte as the reference's `xml.MarshalIndent` writes
it: one suite `gait.regress.<fixture_set>`, one test case per grader, no timings (time="0"), and
explicit closing tags."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gait.regress.result import RegressResult

XML_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'
FAILURE_TYPE = "regress_failure"

_ESCAPES = {
    '"': "&#34;",
    "'": "&#39;",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "\t": "&#x9;",
    "\n": "&#xA;",
    "\r": "&#xD;",
}
# Characters Go escapes, and characters XML does not allow (Go writes U+FFFD for those).
_NEEDS_ESCAPE = re.compile("[\"'&<>\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape(text: str) -> str:
    return _NEEDS_ESCAPE.sub(lambda match: _ESCAPES.get(match.group(), "\ufffd"), text)


def _attributes(pairs: list[tuple[str, str | int]]) -> str:
    return "".join(f' {name}="{_escape(str(value))}"' for name, value in pairs)


def _split_name(grader_name: str) -> tuple[str, str]:
    """`<fixture>/<grader>` → (classname, name); `regress` is the class of an unqualified name."""
    fixture, slash, grader = grader_name.partition("/")
    return (fixture, grader) if slash else ("regress", grader_name)


def junit_xml(result: RegressResult) -> bytes:
    counts: list[tuple[str, str | int]] = [
        ("tests", len(result.graders)),
        ("failures", len(result.failed_graders)),
        ("errors", 0),
        ("skipped", 0),
        ("time", "0"),
    ]
    suite_name = "gait.regress" + (f".{result.fixture_set}" if result.fixture_set else "")
    lines = [
        f"<testsuites{_attributes(counts)}>",
        f"  <testsuite{_attributes([('name', suite_name), *counts])}>",
    ]
    for grader in result.graders:
        classname, name = _split_name(grader.name)
        case = f"<testcase{_attributes([('name', name), ('classname', classname), ('time', '0')])}>"
        if not grader.failed:
            lines.append(f"    {case}</testcase>")
            continue
        reasons = _escape(",".join(grader.reason_codes) or "failed")
        lines += [
            f"    {case}",
            f'      <failure message="{reasons}" type="{FAILURE_TYPE}">{reasons}</failure>',
            "    </testcase>",
        ]
    lines += ["  </testsuite>", "</testsuites>"]
    return (XML_HEADER + "\n".join(lines) + "\n").encode("utf-8")
