"""Deep links: a visitor-chosen destination, allowed only to configured hosts.

The check is strict and works on the text the browser would follow: only
printable ASCII, an explicit ``http``/``https`` scheme followed by ``//``,
no userinfo, a host made of letters, digits, dots and hyphens that equals an
allowed domain or ends with ``.`` + an allowed domain, an optional numeric
port, and a path that starts with ``/``. Everything after the host is
re-encoded so that the ``Location`` header stays well formed. Anything that
does not pass is refused: the caller falls back to the offer's landing URL.
"""

from __future__ import annotations

import re
from urllib.parse import quote

_SAFE_REST = ":/?#[]@!$&'()*+,;=%~-._"
_AUTHORITY = re.compile(r"^([a-z0-9.-]+)(?::([0-9]{1,5}))?$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    if not host or len(host) > 253 or host.endswith(".") or ".." in host:
        return False
    if not all(_LABEL.match(label) for label in host.split(".")):
        return False
    return any(host == d or host.endswith("." + d) for d in allowed)


def check_deep_link(url: str, allowed: tuple[str, ...]) -> str | None:
    """The deep link made header-safe, or None when it is not allowed."""
    if not allowed or len(url) > 2048:
        return None
    if any(not 0x21 <= ord(ch) < 0x7F for ch in url) or "\\" in url:
        return None  # spaces, tabs, CR/LF, NUL, non-ASCII, backslashes: browsers disagree on them
    lower = url.lower()
    if lower.startswith("https://"):
        scheme, rest = "https", url[8:]
    elif lower.startswith("http://"):
        scheme, rest = "http", url[7:]
    else:
        return None  # javascript:, data:, //host, https:host, relative paths...
    end = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if i != -1 and i < end:
            end = i
    authority, tail = rest[:end].lower(), rest[end:]
    if "@" in authority or "%" in authority:
        return None
    m = _AUTHORITY.match(authority)
    if m is None or not _host_allowed(m.group(1), allowed):
        return None
    if m.group(2) is not None and not 0 < int(m.group(2)) < 65536:
        return None
    if tail and not tail.startswith("/"):
        tail = "/" + tail
    if tail.startswith("//"):
        return None
    return f"{scheme}://{authority}{quote(tail, safe=_SAFE_REST)}"
