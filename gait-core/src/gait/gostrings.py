"""Go's string functions where Python's differ: every normalization digest depends on them.

`strings.TrimSpace` strips Unicode white space (Python's `str.strip()` also strips U+001C..U+001F)
and `strings.ToLower` maps rune by rune (Python applies special casing and the final-sigma rule).
"""

from __future__ import annotations

import re
from typing import Final

_ASCII_SPACE: Final = "\t\n\v\f\r "
# unicode.IsSpace: ASCII space characters, U+0085, U+00A0 and the Z categories (Zs, Zl, Zp).
_GO_SPACE: Final = (
    _ASCII_SPACE
    + "\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    + "\u2028\u2029\u202f\u205f\u3000"
)
# Compiled (by `re`) on first use: only non-ASCII text can hold lone surrogates.
_SURROGATE: Final = "[\ud800-\udfff]"
# What Go's json.Marshal escapes for HTML, and lone surrogates (invalid UTF-8 to Go).
_GO_JSON_ESCAPED: Final = "[<>&\u2028\u2029\ud800-\udfff]"


def go_text(text: str) -> str:
    """A decoded JSON string as Go holds it: a lone UTF-16 surrogate reads as U+FFFD, so the
    result can always be encoded as UTF-8."""
    if text.isascii() or re.search(_SURROGATE, text) is None:
        return text
    return re.sub(_SURROGATE, "\ufffd", text)


def go_trim_space(text: str) -> str:
    """Go `strings.TrimSpace`, on `go_text(text)`."""
    if text.isascii():
        return text.strip(_ASCII_SPACE)
    return go_text(text).strip(_GO_SPACE)


def _go_json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if "\ud800" <= char <= "\udfff":
        return "\\ufffd"
    return f"\\u{ord(char):04x}"


def go_json_text(encoded: str) -> str:
    """JSON text from `json.dumps(..., ensure_ascii=False)` as Go's json.Marshal writes it:
    `<`, `>`, `&`, U+2028 and U+2029 escaped, a lone surrogate as `\\ufffd`. These characters
    can only occur inside JSON strings, so escaping the text escapes every string."""
    return re.sub(_GO_JSON_ESCAPED, _go_json_escape, encoded)


def _lower_rune(char: str) -> str:
    # U+0130 is the only character whose Python lowercase is longer than one character; Go's
    # simple mapping gives plain "i".
    return "i" if char == "\u0130" else char.lower()


def go_lower(text: str) -> str:
    """Go `strings.ToLower`: rune by rune, so no final-sigma rule and no expansions."""
    if text.isascii():
        return text.lower()
    return "".join(map(_lower_rune, text))


def go_trim_lower(text: str) -> str:
    """Trim, then lowercase: the most common normalization."""
    if text.isascii():
        return text.strip(_ASCII_SPACE).lower()
    return go_lower(go_trim_space(text))
