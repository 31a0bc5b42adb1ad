"""A faithful port of Go's `path.Match` (shell-style globbing over slash-separated paths).

Go matches byte by byte, decoding one UTF-8 rune only for `?` and for `[...]` classes, so this
port works on the UTF-8 bytes of both arguments too. The differences from Python's `fnmatch`:
`*` and `?` never match `/`, a class is negated with `^` (not `!`), `\\` escapes the next
character, and a malformed pattern is an error (`BadPatternError`), reported even when the name
does not match, as Go does.
"""

from __future__ import annotations

__all__ = ["BadPatternError", "match", "path_match"]

_SLASH = 0x2F
_BACKSLASH = 0x5C
_STAR = 0x2A
_QUESTION = 0x3F
_LBRACKET = 0x5B
_RBRACKET = 0x5D
_CARET = 0x5E
_DASH = 0x2D
_RUNE_ERROR = 0xFFFD


class BadPatternError(ValueError):
    """Go's `path.ErrBadPattern`: "syntax error in pattern"."""

    def __init__(self) -> None:
        super().__init__("syntax error in pattern")


def _decode_rune(data: bytes, start: int) -> tuple[int, int]:
    """Go's utf8.DecodeRune: (rune, width); (RuneError, 1) on an invalid or truncated sequence."""
    lead = data[start]
    if lead < 0x80:
        return lead, 1
    if 0xC2 <= lead <= 0xDF:
        width = 2
    elif 0xE0 <= lead <= 0xEF:
        width = 3
    elif 0xF0 <= lead <= 0xF4:
        width = 4
    else:
        return _RUNE_ERROR, 1
    try:
        text = data[start : start + width].decode("utf-8")
    except UnicodeDecodeError:
        return _RUNE_ERROR, 1
    return ord(text), width


def _scan_chunk(pattern: bytes) -> tuple[bool, bytes, bytes]:
    star = False
    while pattern and pattern[0] == _STAR:
        pattern = pattern[1:]
        star = True
    in_range = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == _BACKSLASH:
            if i + 1 < len(pattern):
                i += 1
        elif char == _LBRACKET:
            in_range = True
        elif char == _RBRACKET:
            in_range = False
        elif char == _STAR and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _get_esc(chunk: bytes) -> tuple[int, bytes]:
    if not chunk or chunk[0] in (_DASH, _RBRACKET):
        raise BadPatternError
    if chunk[0] == _BACKSLASH:
        chunk = chunk[1:]
        if not chunk:
            raise BadPatternError
    rune, width = _decode_rune(chunk, 0)
    if rune == _RUNE_ERROR and width == 1:
        raise BadPatternError
    rest = chunk[width:]
    if not rest:
        raise BadPatternError
    return rune, rest


def _match_chunk(chunk: bytes, name: bytes) -> tuple[bytes, bool]:
    """Match `chunk` at the start of `name`: (rest of name, matched). Raises on a bad pattern."""
    failed = False
    while chunk:
        if not failed and not name:
            failed = True
        head = chunk[0]
        if head == _LBRACKET:
            rune = 0
            if not failed:
                rune, width = _decode_rune(name, 0)
                name = name[width:]
            chunk = chunk[1:]
            negated = False
            if chunk and chunk[0] == _CARET:
                negated = True
                chunk = chunk[1:]
            matched = False
            ranges = 0
            while True:
                if chunk and chunk[0] == _RBRACKET and ranges > 0:
                    chunk = chunk[1:]
                    break
                low, chunk = _get_esc(chunk)
                high = low
                if chunk[0] == _DASH:
                    high, chunk = _get_esc(chunk[1:])
                if low <= rune <= high:
                    matched = True
                ranges += 1
            if matched == negated:
                failed = True
        elif head == _QUESTION:
            if not failed:
                if name[0] == _SLASH:
                    failed = True
                _, width = _decode_rune(name, 0)
                name = name[width:]
            chunk = chunk[1:]
        else:
            if head == _BACKSLASH:
                chunk = chunk[1:]
                if not chunk:
                    raise BadPatternError
            if not failed:
                if chunk[0] != name[0]:
                    failed = True
                name = name[1:]
            chunk = chunk[1:]
    if failed:
        return b"", False
    return name, True


def match(pattern: bytes, name: bytes) -> bool:
    """Go `path.Match` over bytes. Raises BadPatternError for a malformed pattern."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            # A trailing * matches the rest of the name unless it holds a slash.
            return _SLASH not in name
        rest, ok = _match_chunk(chunk, name)
        if ok and (not rest or pattern):
            name = rest
            continue
        if star:
            advanced = False
            i = 0
            while i < len(name) and name[i] != _SLASH:
                rest, ok = _match_chunk(chunk, name[i + 1 :])
                if ok:
                    if not pattern and rest:
                        i += 1
                        continue
                    name = rest
                    advanced = True
                    break
                i += 1
            if advanced:
                continue
        # Before answering "no match", check that the rest of the pattern is well formed.
        while pattern:
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, b"")
        return False
    return not name


def path_match(pattern: str, name: str) -> bool:
    """Go `path.Match(pattern, name)`; BadPatternError for a malformed pattern."""
    return match(
        pattern.encode("utf-8", "surrogatepass"),
        name.encode("utf-8", "surrogatepass"),
    )
