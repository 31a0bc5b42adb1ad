"""The Go `path.Match` port against Go's own test table (src/path/match_test.go)."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gait.globmatch import BadPatternError, path_match

BAD = BadPatternError

# (pattern, name, matched, error) exactly as in Go's matchTests.
GO_MATCH_TESTS = [
    ("abc", "abc", True, None),
    ("*", "abc", True, None),
    ("*c", "abc", True, None),
    ("a*", "a", True, None),
    ("a*", "abc", True, None),
    ("a*", "ab/c", False, None),
    ("a*/b", "abc/b", True, None),
    ("a*/b", "a/c/b", False, None),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True, None),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True, None),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False, None),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False, None),
    ("a*b?c*x", "abxbbxdbxebxczzx", True, None),
    ("a*b?c*x", "abxbbxdbxebxczzy", False, None),
    ("ab[c]", "abc", True, None),
    ("ab[b-d]", "abc", True, None),
    ("ab[e-g]", "abc", False, None),
    ("ab[^c]", "abc", False, None),
    ("ab[^b-d]", "abc", False, None),
    ("ab[^e-g]", "abc", True, None),
    ("a\\*b", "a*b", True, None),
    ("a\\*b", "ab", False, None),
    ("a?b", "a☺b", True, None),
    ("a[^a]b", "a☺b", True, None),
    ("a???b", "a☺b", False, None),
    ("a[^a][^a][^a]b", "a☺b", False, None),
    ("[a-ζ]*", "α", True, None),  # noqa: RUF001 - Go's own test data
    ("*[a-ζ]", "A", False, None),
    ("a?b", "a/b", False, None),
    ("a*b", "a/b", False, None),
    ("[\\]a]", "]", True, None),
    ("[\\-]", "-", True, None),
    ("[x\\-]", "x", True, None),
    ("[x\\-]", "-", True, None),
    ("[x\\-]", "z", False, None),
    ("[\\-x]", "x", True, None),
    ("[\\-x]", "-", True, None),
    ("[\\-x]", "a", False, None),
    ("[]a]", "]", False, BAD),
    ("[-]", "-", False, BAD),
    ("[x-]", "x", False, BAD),
    ("[x-]", "-", False, BAD),
    ("[x-]", "z", False, BAD),
    ("[-x]", "x", False, BAD),
    ("[-x]", "-", False, BAD),
    ("[-x]", "a", False, BAD),
    ("\\", "a", False, BAD),
    ("[a-b-c]", "a", False, BAD),
    ("[", "a", False, BAD),
    ("[^", "a", False, BAD),
    ("[^bc", "a", False, BAD),
    ("a[", "a", False, BAD),
    ("a[", "ab", False, BAD),
    ("a[", "x", False, BAD),
    ("a/b[", "x", False, BAD),
    ("*x", "xxx", True, None),
]


@pytest.mark.parametrize(("pattern", "name", "matched", "error"), GO_MATCH_TESTS)
def test_go_match_table(pattern: str, name: str, matched: bool, error: type | None) -> None:
    if error is None:
        assert path_match(pattern, name) is matched
    else:
        with pytest.raises(error):
            path_match(pattern, name)


@pytest.mark.parametrize(
    ("pattern", "name", "matched"),
    [
        ("/etc/*", "/etc/passwd", True),
        ("/etc/*", "/etc/ssl/certs", False),  # fnmatch says True: * crosses / there
        ("/tmp/[!a]", "/tmp/b", False),  # Go has no `!` negation; `!` is a literal
        ("/tmp/[!a]", "/tmp/!", True),
        ("/tmp/[^a]", "/tmp/b", True),
        ("*.example.com", "api.example.com", True),
        ("*.example.com", "a.b/example.com", False),
        ("", "", True),
        ("", "x", False),
        ("?", "", False),
        ("a\\", "a", False),
    ],
)
def test_go_semantics_differ_from_fnmatch(pattern: str, name: str, matched: bool) -> None:
    try:
        assert path_match(pattern, name) is matched
    except BadPatternError:
        assert pattern.endswith("\\")


def test_star_skips_bytes_not_characters() -> None:
    # Go's star loop advances byte by byte, so `??` can match the two trailing bytes of the
    # three-byte "€" (each decoding as U+FFFD). A character-level matcher would say no.
    assert path_match("*??", "€") is True
    assert fnmatch.fnmatchcase("€", "*??") is False


def test_bad_pattern_reported_even_without_match() -> None:
    with pytest.raises(BadPatternError):
        path_match("x*[", "abc")
    with pytest.raises(BadPatternError):
        path_match("a*b[", "zzz")


_SEGMENT = st.text(alphabet="ab/.-☺", max_size=8)


@given(_SEGMENT)
def test_literal_patterns_match_only_themselves(name: str) -> None:
    assert path_match(name, name) is True
    assert path_match(name, name + "x") is False


@given(_SEGMENT, _SEGMENT)
def test_star_never_crosses_slash(prefix: str, rest: str) -> None:
    literal = prefix.replace("/", "")
    name = literal + rest
    assert path_match(_escape(literal) + "*", name) is ("/" not in rest)


@given(st.text(max_size=12), st.text(max_size=12))
def test_never_raises_anything_but_bad_pattern(pattern: str, name: str) -> None:
    try:
        result = path_match(pattern, name)
    except BadPatternError:
        return
    assert isinstance(result, bool)


def _escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[\\" else char for char in text)
