"""Masking passwords in URLs quoted by messages, whatever shape the URL is in.

An error about a URL must say which URL it means, but the URL may hold a password, and the
URL may be exactly what cannot be parsed (a bad port, a missing scheme, a broken IPv6
address). So masking works on the raw text, never on a parse of it: whatever stands between
the user name's `:` and the last `@` is replaced, and so is a `password=` query parameter.
When in doubt more is masked, never less.
"""

from __future__ import annotations

import re

MASK = "***"
MAX_PORT = 65_535

# Every C0 control character and DEL: never part of a URL, and urlsplit silently drops
# some of them (tab, CR, LF), so they are refused rather than risk naming another server.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
# Any `...password...=value` setting, in a URL's query (`?sslpassword=`) or in libpq's
# `key=value` form (`host=h password=x`), quoted or not.
_SETTING_PASSWORD = re.compile(
    r"((?:^|[\s?&;])[\w.-]*pass(?:word|wd)?[\w.-]*\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&;#]*)",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.\-]*://")


def mask_url(text: str) -> str:
    """`text` with the password of a URL replaced by `***`: `postgresql://u:***@h:5432`.

    Works on any text, parseable or not: the user information starts after the scheme's
    `://` (or at the start when the text does not begin with a scheme) and ends at the last
    `@`; when it holds a `:`, everything after that `:` is the password. A `password=` query
    parameter is masked too, and so is any `...password...=` setting (`sslpassword=`,
    libpq's `host=h password=x`).
    """
    masked = _SETTING_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
    at = masked.rfind("@")
    # Only a real scheme counts: `u:a://b@h` has none, and its password holds the `://`.
    scheme = _SCHEME.match(masked)
    start = scheme.end() if scheme is not None and (at < 0 or scheme.end() <= at) else 0
    if at < 0:
        return _mask_odd_port(masked, start)
    colon = masked.find(":", start, at)
    if colon < 0:
        return masked
    return f"{masked[: colon + 1]}{MASK}{masked[at:]}"


def _mask_odd_port(text: str, start: int) -> str:
    """Mask a "port" that is no port: it may be a password whose `@host` was left out
    (`postgresql://user:PW` parses as host `user`, port `PW`). Everything after its `:` is
    masked, since such a password may hold a `/` or a `?` too."""
    end = len(text)
    for stop in "/?#":
        found = text.find(stop, start)
        if found >= 0:
            end = min(end, found)
    colon = text.rfind(":", start, end)
    if colon < 0 or "]" in text[colon:end]:
        return text
    port = text[colon + 1 : end]
    if not port or (port.isascii() and port.isdigit() and int(port) <= MAX_PORT):
        return text
    return f"{text[: colon + 1]}{MASK}"


def quoted_url(text: str) -> str:
    """A URL as a message quotes it: masked, in quotes, with control characters escaped."""
    return repr(mask_url(text))


def without(secret: str | None, text: str) -> str:
    """`text` with every occurrence of `secret` masked (for messages a driver wrote)."""
    if not secret:
        return text
    return text.replace(secret, MASK)


def has_control_character(text: str) -> bool:
    """Whether `text` holds a control character (newline, tab, CR, NUL, ...)."""
    return CONTROL_CHARACTER.search(text) is not None
