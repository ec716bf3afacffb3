"""User agent → device type, OS, browser, and whether it is a known crawler (the worker
stores them; offer and route targeting reads them through ``facts_of``).

ua-parser (with its native matcher when installed) costs about 0.1 ms per
new string; real traffic repeats a few thousand agents, so results are kept
in a bounded LRU cache and the common case is a dictionary hit.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple, get_args

from ua_parser import parse

from schemas.targeting import Browser, Device, OsFamily

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


# -- the closed sets offer and route targeting names (issue 20, tracker.domain.targeting) --
DEVICES: tuple[str, ...] = get_args(Device)
OS_FAMILIES: tuple[str, ...] = get_args(OsFamily)
BROWSERS: tuple[str, ...] = get_args(Browser)
# ua-parser's family names (lower case) → the set above; a family not listed is "other".
_OS = {"windows": "windows", "mac os x": "macos", "macos": "macos", "ios": "ios",
       "ipados": "ios", "android": "android", "chrome os": "chromeos", "chromeos": "chromeos",
       "linux": "linux", "ubuntu": "linux", "debian": "linux", "fedora": "linux",
       "red hat": "linux", "suse": "linux", "opensuse": "linux", "linux mint": "linux",
       "arch linux": "linux", "gentoo": "linux", "centos": "linux", "kubuntu": "linux",
       "slackware": "linux", "mandriva": "linux"}  # fmt: skip
_BROWSER = {"chrome": "chrome", "chrome mobile": "chrome", "chrome mobile ios": "chrome",
            "chrome mobile webview": "chrome", "chromium": "chrome", "safari": "safari",
            "mobile safari": "safari", "mobile safari ui/wkwebview": "safari",
            "firefox": "firefox", "firefox mobile": "firefox", "firefox ios": "firefox",
            "edge": "edge", "edge mobile": "edge", "opera": "opera", "opera mobile": "opera",
            "opera mini": "opera", "opera touch": "opera", "samsung internet": "samsung",
            "ie": "ie", "ie mobile": "ie", "yandex browser": "yandex", "uc browser": "uc"}  # fmt: skip


class Facts(NamedTuple):
    """What targeting reads of an agent: one of DEVICES, OS_FAMILIES and BROWSERS each."""

    device: str
    os: str
    browser: str


@lru_cache(maxsize=65_536)
def facts_of(ua: str) -> Facts:
    """The agent as targeting sees it (the same parse as the stored device/os/browser;
    cached per agent string: a returning agent is one dictionary hit)."""
    agent = parse_agent(ua)
    device = agent.device if agent.device in ("desktop", "mobile", "tablet") else "other"
    os_name = _OS.get(agent.os.lower(), "other")
    return Facts(device, os_name, _BROWSER.get(agent.browser.lower(), "other"))
