"""Offer and route targeting: compiled once per cached object, judged per click (pure).

A targeting object allows or denies by country, region, device type, OS, browser and
language, takes or refuses hosting networks, and opens on days and hours of a time zone
(schemas.targeting.TargetingIn is its stored form). The redirect asks ``refuses`` with a
``Visitor`` whose facts are computed on first use: a rule set that names only countries
never parses the agent, one that names only devices never looks the address up. A value
that is not known (no GeoIP answer, an agent ua-parser does not know) fails an allow
list and passes a deny list. Nothing here raises for a stored value: a targeting that
cannot be read refuses everyone (the redirect's worst case is the fallback).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from schemas.targeting import WEEKDAYS
from tracker.domain.agents import facts_of

# The fact a check reads (Visitor.fact); the names are the reasons recorded.
_COUNTRY, _REGION, _DEVICE, _OS, _BROWSER, _LANGUAGE = range(6)
DIMENSIONS = {"countries": (_COUNTRY, "country"), "regions": (_REGION, "region"),
              "devices": (_DEVICE, "device"), "os": (_OS, "os"),
              "browsers": (_BROWSER, "browser"), "languages": (_LANGUAGE, "language")}  # fmt: skip
_QUARTER = 900  # every zone's offset is a whole number of quarter hours


@lru_cache(maxsize=8192)
def first_language(accept_language: str) -> str:
    """The primary subtag of the visitor's preferred language (highest q, first among
    equals), lower case; '' when the header names none."""
    best, best_q = "", -1.0
    for part in accept_language.split(",")[:20]:
        tag, _, params = part.partition(";")
        tag = tag.strip().lower()
        if not tag or tag == "*":
            continue
        q = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        if q > best_q:
            best, best_q = tag, q
    primary = best.partition("-")[0]
    return primary if len(primary) == 2 and primary.isascii() and primary.isalpha() else ""


class Visitor:
    """What targeting asks of one hit; each fact is computed on first use, then kept."""

    __slots__ = ("_agent", "_datacenter", "_dc", "_facts", "_lang", "_place", "country", "ip",
                 "region", "ua")  # fmt: skip

    def __init__(self, ip: str, ua: str, lang: str, country: str,
                 place: Callable[[str], Sequence[str]],
                 datacenter: Callable[[str], bool]) -> None:  # fmt: skip
        self.ip, self.ua, self._lang = ip, ua, lang
        self.country = country  # a trusted proxy's header, if any ('' otherwise)
        self.region: str | None = None  # looked up with the country when first asked
        self._place, self._datacenter = place, datacenter
        self._facts: list[str | None] = [None] * 6
        self._agent: tuple[str, str, str] | None = None
        self._dc: bool | None = None

    def fact(self, which: int) -> str:
        v = self._facts[which]
        if v is None:
            v = self._facts[which] = self._compute(which)
        return v

    def _compute(self, which: int) -> str:
        if which <= _REGION:
            if self.region is None:
                place = self._place(self.ip) if self.ip else ("", "")
                country, region = place[0], place[1]
                self.country = self.country or country
                self.region = f"{self.country}-{region}" if region and self.country else ""
            return self.country if which == _COUNTRY else self.region
        if which == _LANGUAGE:
            return first_language(self._lang) if self._lang else ""
        if self._agent is None:
            self._agent = facts_of(self.ua)
        return self._agent[which - _DEVICE]

    def datacenter(self) -> bool:
        if self._dc is None:
            self._dc = bool(self.ip) and self._datacenter(self.ip)
        return self._dc


class Schedule:
    """Open on some weekdays and hours of a zone; the answer is kept for the UTC quarter
    hour it was computed in (a local hour always starts on one)."""

    __slots__ = ("_from", "_open", "_until", "days", "hours", "zone")

    def __init__(self, zone: ZoneInfo, days: frozenset[int] | None,
                 hours: frozenset[int] | None) -> None:  # fmt: skip
        self.zone, self.days, self.hours = zone, days, hours
        self._from = self._until = 0.0
        self._open = False

    def open(self, now: float) -> bool:
        if self._from <= now < self._until:
            return self._open
        local = datetime.fromtimestamp(now, self.zone)
        self._open = (self.days is None or local.weekday() in self.days) and (
            self.hours is None or local.hour in self.hours
        )
        self._from = now - now % _QUARTER
        self._until = self._from + _QUARTER
        return self._open


@dataclass(frozen=True, slots=True)
class Targeting:
    checks: tuple[tuple[str, int, bool, frozenset[str]], ...]  # (reason, fact, allow, values)
    datacenter: str = ""  # "", "deny" or "only"
    schedule: Schedule | None = None
    broken: bool = False  # stored in a form this release cannot read: refuses everyone

    def refuses(self, v: Visitor, now: float) -> str:
        """'' when the visitor is taken, else the first dimension that refuses it."""
        if self.broken:
            return "invalid"
        if self.schedule is not None and not self.schedule.open(now):
            return "schedule"
        facts = v._facts
        for reason, which, allow, values in self.checks:
            fact = facts[which]
            if fact is None:
                fact = v.fact(which)
            if (fact in values) is not allow:
                return reason
        if self.datacenter and v.datacenter() is (self.datacenter == "deny"):
            return "datacenter"
        return ""


BROKEN = Targeting((), broken=True)


def compile_targeting(data: Any) -> Targeting | None:
    """The stored JSON (a dict, or None for no targeting) compiled for the redirect."""
    if not data:
        return None
    try:
        return _compile(data)
    except (TypeError, ValueError, KeyError, AttributeError):
        return BROKEN


def _compile(data: dict[str, Any]) -> Targeting | None:
    checks = []
    for name, (which, reason) in DIMENSIONS.items():
        match = data.get(name)
        if not match:
            continue
        allow = "allow" in match
        values = match["allow" if allow else "deny"]
        if not isinstance(values, list) or not values:
            raise ValueError(name)
        checks.append((reason, which, allow, frozenset(str(v) for v in values)))
    dc = data.get("datacenter") or ""
    if dc not in ("", "deny", "only"):
        raise ValueError("datacenter")
    schedule = None
    if s := data.get("schedule"):
        days = frozenset(WEEKDAYS.index(d) for d in s["days"]) if s.get("days") else None
        hours = frozenset(int(h) for h in s["hours"]) if s.get("hours") else None
        schedule = Schedule(ZoneInfo(s.get("time_zone") or "UTC"), days, hours)
    # cheapest first: a country is one cached lookup, an agent a cached parse
    checks.sort(key=lambda c: c[1])
    if not checks and not dc and schedule is None:
        return None
    return Targeting(tuple(checks), dc, schedule)
