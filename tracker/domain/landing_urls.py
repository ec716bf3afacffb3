"""Admin-set destination templates (offer landing and fallback URLs, TRACKER_FALLBACK_URL),
checked as a browser reads the Location built from them (issue 17, docs/adr/0086).

A template is checked after ``compile_template`` (the code that builds every Location)
and after filling its macros with hostile values, with a WHATWG URL parser (ada, the
parser of Node.js): the host that is validated is the host that is sent. Macros may only
stand in the path, query and fragment; the text before them names the scheme and the
host, without userinfo; no control character, tab, CR/LF or backslash anywhere (a
browser drops tabs and newlines and reads a backslash as a slash, so what a lenient
check validates is not where the visitor goes).
"""

from __future__ import annotations

import functools
import re

import ada_url

from tracker.domain.macros import compile_template

# The text form the API states in its OpenAPI document (UrlTemplate's pattern).
PATTERN = r"^https?://[^/?#{}@\\\x00-\x1f\x7f]+([/?#][^\\\x00-\x1f\x7f]*)?$"
_BAD_CHAR = re.compile(r"[\x00-\x1f\x7f\\]")
_SPLIT = re.compile(r"(https?)://([^/?#]*)(.*)", re.S)

# Macro values a visitor could send, each tried in every macro of the template.
PROBES = ("", "evil.example", "@evil.example", "//evil.example/x", "\\\\evil.example",
          "%2f%2fevil.example", ".evil.example", ":443@evil.example", "\r\nX: y", "é日")  # fmt: skip


class _Same:
    def __init__(self, value: str) -> None:
        self.value = value

    def get(self, name: str, /) -> str | None:
        return self.value


def _parse(url: str) -> dict[str, str] | None:
    try:
        parsed: dict[str, str] = ada_url.parse_url(url)  # type: ignore[assignment]
    except ValueError:
        return None
    return parsed


def host_of(template: str) -> str | None:
    """The host (and port) a browser goes to for this template, None when it is unusable."""
    m = _SPLIT.fullmatch(template)
    if m is None:
        return None
    parsed = _parse(f"{m.group(1)}://{m.group(2)}/")
    return parsed["host"] if parsed and parsed["hostname"] else None


@functools.lru_cache(maxsize=65_536)
def problem(template: str) -> str | None:
    """Why an admin-set URL template is refused, or None when any macro values give a
    Location to the host it names. About 0.3 ms; remembered, since the redirect's offer
    cache asks again whenever an offer changes."""
    if _BAD_CHAR.search(template):
        return "no control characters (tabs, CR, LF), DEL or backslashes"
    m = _SPLIT.fullmatch(template)
    if m is None:
        return "must start with http:// or https://"
    scheme, authority = m.group(1), m.group(2)
    if "{" in authority or "}" in authority:
        return "macros only in the path, query and fragment, never in the host"
    if "@" in authority:
        return "no user name or password (userinfo) before the host"
    host = host_of(template)
    if host is None:
        return f"{authority!r} is not a valid host"
    compiled = compile_template(template)
    for value in PROBES:
        sent = _parse(compiled.fill(_Same(value)))
        if sent is None:
            return "the URL does not parse once its macros are filled in"
        if sent["protocol"] != f"{scheme}:" or sent["host"] != host:
            return "a macro value could change the host"
        if sent["username"] or sent["password"]:
            return "no user name or password (userinfo) before the host"
    return None
