"""Go `url.Parse(...).Hostname()`, as the reference infers a target's endpoint domain."""

from __future__ import annotations

from typing import Final

# --------------------------------------------------------------------------------------------
# Go url.Parse(...).Hostname()
# --------------------------------------------------------------------------------------------


class URLError(Exception):
    pass


_HOST_OK: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$&'()*+,;=:[]<>\"-_.~"
)
_USERINFO_OK: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:~!$&'()*+,;=%@"
)
_HEXDIGITS: Final = frozenset("0123456789abcdefABCDEF")
_SCHEME_LETTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SCHEME_OTHER: Final = frozenset("0123456789+-.")


def _go_utf8_decode(data: bytes) -> str:
    """Decode like Go's range over a string: each invalid byte becomes one U+FFFD."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    out: list[str] = []
    index = 0
    while index < len(data):
        lead = data[index]
        if lead < 0x80:
            size = 1
        elif 0xC2 <= lead <= 0xDF:
            size = 2
        elif 0xE0 <= lead <= 0xEF:
            size = 3
        elif 0xF0 <= lead <= 0xF4:
            size = 4
        else:
            out.append("\ufffd")
            index += 1
            continue
        try:
            out.append(data[index : index + size].decode("utf-8"))
            index += size
        except UnicodeDecodeError:
            out.append("\ufffd")
            index += 1
    return "".join(out)


def _url_unescape(text: str, mode: str) -> str:
    """Go `url.unescape` for the modes "host", "zone" and "other" (path, fragment, userinfo)."""
    if "%" not in text and mode == "other":
        return text
    out = bytearray()
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == "%":
            if (
                index + 2 >= length
                or text[index + 1] not in _HEXDIGITS
                or text[index + 2] not in _HEXDIGITS
            ):
                raise URLError("invalid URL escape")
            value = int(text[index + 1 : index + 3], 16)
            escape = text[index : index + 3]
            if mode == "host" and value < 0x80 and escape != "%25":
                raise URLError("invalid URL escape")
            if mode == "zone" and escape != "%25" and value != 0x20 and chr(value) not in _HOST_OK:
                raise URLError("invalid URL escape")
            out.append(value)
            index += 3
            continue
        if mode != "other" and char < "\x80" and char not in _HOST_OK:
            raise URLError("invalid character in host name")
        out += char.encode("utf-8", "surrogatepass")
        index += 1
    return _go_utf8_decode(bytes(out))


def _valid_optional_port(port: str) -> bool:
    if port == "":
        return True
    return port[0] == ":" and all("0" <= char <= "9" for char in port[1:])


def _url_parse_host(host: str) -> str:
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            raise URLError("missing ']' in host")
        if not _valid_optional_port(host[end + 1 :]):
            raise URLError("invalid port after host")
        zone = host.find("%25", 0, end)
        if zone >= 0:
            return (
                _url_unescape(host[:zone], "host")
                + _url_unescape(host[zone:end], "zone")
                + _url_unescape(host[end:], "host")
            )
    else:
        colon = host.rfind(":")
        if colon != -1 and not _valid_optional_port(host[colon:]):
            raise URLError("invalid port after host")
    return _url_unescape(host, "host")


def _url_parse_authority(authority: str) -> str:
    at = authority.rfind("@")
    if at < 0:
        return _url_parse_host(authority)
    host = _url_parse_host(authority[at + 1 :])
    userinfo = authority[:at]
    if any(char not in _USERINFO_OK for char in userinfo):
        raise URLError("invalid userinfo")
    username, _, password = userinfo.partition(":")
    _url_unescape(username, "other")
    _url_unescape(password, "other")
    return host


def url_hostname(raw: str) -> str:
    """Go `url.Parse(raw).Hostname()`; raises `URLError` where `url.Parse` fails."""
    text, has_fragment, fragment = raw.partition("#")
    if any(char < " " or char == "\x7f" for char in text):
        raise URLError("invalid control character in URL")
    host = ""
    if text != "*":
        scheme = ""
        rest = text
        for index, char in enumerate(text):
            if char in _SCHEME_LETTERS:
                continue
            if char in _SCHEME_OTHER:
                if index == 0:
                    break
                continue
            if char == ":":
                if index == 0:
                    raise URLError("missing protocol scheme")
                scheme, rest = text[:index], text[index + 1 :]
            break
        rest = rest.partition("?")[0]
        opaque = False
        if not rest.startswith("/"):
            if scheme:
                opaque = True
            elif ":" in rest.partition("/")[0]:
                raise URLError("first path segment in URL cannot contain colon")
        if not opaque:
            if (scheme or not rest.startswith("///")) and rest.startswith("//"):
                authority, slash, path = rest[2:].partition("/")
                host = _url_parse_authority(authority)
                rest = slash + path
            _url_unescape(rest, "other")
    if has_fragment:
        _url_unescape(fragment, "other")
    colon = host.rfind(":")
    if colon != -1 and _valid_optional_port(host[colon:]):
        host = host[:colon]
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host
