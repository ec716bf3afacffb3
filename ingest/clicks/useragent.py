"""User agent → device type, OS, browser, and whether it is a known crawler.

ua-parser (with its native matcher when installed) costs about 0.1 ms per
new string; real traffic repeats a few thousand agents, so results are kept
in a bounded LRU cache and the common case is a dictionary hit.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from ua_parser import parse

_TABLET = ("ipad", "tablet", "kindle", "silk", "playbook", "nexus 7", "nexus 9", "sm-t")
_MOBILE_OS = {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS"}


class Agent(NamedTuple):
    device: str  # desktop, mobile, tablet, bot or '' (unknown)
    os: str
    browser: str
    crawler: bool  # ua-parser knows it as a spider


def _family(value: object) -> str:
    family = getattr(value, "family", "") or ""
    return "" if family == "Other" else str(family)[:64]


@lru_cache(maxsize=20_000)
def parse_agent(ua: str) -> Agent:
    if not ua:
        return Agent("", "", "", False)
    result = parse(ua)
    os_name = _family(result.os)
    browser = _family(result.user_agent)
    device_family = getattr(result.device, "family", "") or ""
    if device_family == "Spider":
        return Agent("bot", os_name, browser, True)
    lowered = ua.lower()
    if any(t in lowered for t in _TABLET) or (os_name == "Android" and "mobile" not in lowered):
        device = "tablet"
    elif os_name in _MOBILE_OS or "mobile" in lowered:
        device = "mobile"
    elif os_name:
        device = "desktop"
    else:
        device = ""
    return Agent(device, os_name, browser, False)
