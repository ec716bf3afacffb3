"""The distribution benchmark's two in-process parts: the redirect front driven directly
(no server, no I/O), with GeoIP and ASN databases built for the run and 127.0.0.1 as the
trusted proxy, so that each call says which visitor it stands for (``X-Forwarded-For``).

- Weights: many distinct visitors click a smart link of three routes weighted 50/30/20;
  the share each route got against its weight, then the same visitors again (stickiness).
- Targeting: a table of visitors (place, agent, language) x rules (each rule kind, allow
  and deny, and a combination), each rule once as a smart-link route's targeting (taken:
  its route; refused: the next route) and once as an offer's (taken: the offer; refused:
  its fallback). The expected answer comes from the facts written beside each visitor
  below, not from the tracker's code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from loadtests.ingest.data import build_asn_db, build_geo_db
from redirect.caps import ClickCaps
from redirect.catalog import CachedLink, CachedOffer, CachedRoute, SmartSpec
from redirect.front import RedirectFront
from redirect.links import LinkCache
from redirect.sink import ClickSink
from schemas.targeting import WEEKDAYS, TargetingIn, targeting_json
from tracker import redis_keys
from tracker.domain.macros import compile_template
from tracker.domain.targeting import compile_targeting
from tracker.settings import Settings

FALLBACK = "https://fallback.example/"
AFF = 7
WEIGHTS = (50, 30, 20)

# (address, country, region, datacenter): the networks of loadtests.ingest.data.PLACES,
# 10.1/16 announced by AWS (a datacenter), and an address no database knows.
PLACES = [("10.1.0.9", "US", "US-CA", True), ("10.2.0.9", "DE", "DE-BE", False),
          ("10.3.0.9", "FR", "FR-IDF", False), ("10.4.0.9", "BR", "BR-SP", False),
          ("10.5.0.9", "IN", "IN-MH", False), ("192.0.2.1", "", "", False)]  # fmt: skip
# (user agent, device, os, browser)
AGENTS = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/130.0.0.0 Safari/537.36", "desktop", "windows", "chrome"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
     "like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", "mobile", "ios", "safari"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/130.0.0.0 Mobile Safari/537.36", "mobile", "android", "chrome"),
    ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.0 Mobile/15E148 Safari/604.1", "tablet", "ios", "safari"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", "desktop",
     "linux", "firefox"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.0 Safari/605.1.15", "desktop", "macos", "safari"),
]  # fmt: skip
# (Accept-Language, the language targeting reads)
LANGUAGES = [("de-DE,de;q=0.9,en;q=0.8", "de"), ("en-US,en", "en"),
             ("fr;q=0.4, es;q=0.8", "es"), ("", "")]  # fmt: skip

Visitor = dict[str, Any]


def visitors() -> list[Visitor]:
    return [{"ip": ip, "country": c, "region": r, "dc": dc, "ua": ua, "device": d, "os": o,
             "browser": b, "lang": header, "language": lang}
            for ip, c, r, dc in PLACES for ua, d, o, b in AGENTS for header, lang in LANGUAGES]  # fmt: skip


def rules(now: datetime) -> list[tuple[dict[str, Any], Callable[[Visitor], bool]]]:
    """(targeting as the API takes it, whether a visitor matches it)."""
    ny = now.astimezone(ZoneInfo("America/New_York"))
    tokyo_day = WEEKDAYS[now.astimezone(ZoneInfo("Asia/Tokyo")).weekday()]
    other_days = [d for d in WEEKDAYS if d != tokyo_day]

    def allow(field: str, values: set[str]) -> Callable[[Visitor], bool]:
        return lambda v: v[field] in values  # an unknown value ('') is in no list

    def deny(field: str, values: set[str]) -> Callable[[Visitor], bool]:
        return lambda v: v[field] not in values

    return [
        ({"countries": {"allow": ["US"]}}, allow("country", {"US"})),
        ({"countries": {"allow": ["DE", "FR"]}}, allow("country", {"DE", "FR"})),
        ({"countries": {"deny": ["US", "IN"]}}, deny("country", {"US", "IN"})),
        ({"regions": {"allow": ["US-CA", "BR-SP"]}}, allow("region", {"US-CA", "BR-SP"})),
        ({"regions": {"deny": ["DE-BE"]}}, deny("region", {"DE-BE"})),
        ({"devices": {"allow": ["mobile"]}}, allow("device", {"mobile"})),
        ({"devices": {"allow": ["tablet", "desktop"]}}, allow("device", {"tablet", "desktop"})),
        ({"devices": {"deny": ["desktop"]}}, deny("device", {"desktop"})),
        ({"os": {"allow": ["ios"]}}, allow("os", {"ios"})),
        ({"os": {"allow": ["android", "linux"]}}, allow("os", {"android", "linux"})),
        ({"os": {"deny": ["windows", "macos"]}}, deny("os", {"windows", "macos"})),
        ({"browsers": {"allow": ["safari"]}}, allow("browser", {"safari"})),
        ({"browsers": {"deny": ["chrome"]}}, deny("browser", {"chrome"})),
        ({"languages": {"allow": ["de"]}}, allow("language", {"de"})),
        ({"languages": {"allow": ["es", "en"]}}, allow("language", {"es", "en"})),
        ({"languages": {"deny": ["en"]}}, deny("language", {"en"})),
        ({"datacenter": "deny"}, lambda v: not v["dc"]),
        ({"datacenter": "only"}, lambda v: v["dc"]),
        ({"schedule": {"time_zone": "Asia/Tokyo", "days": [tokyo_day]}}, lambda v: True),
        ({"schedule": {"time_zone": "Asia/Tokyo", "days": other_days}}, lambda v: False),
        ({"schedule": {"time_zone": "America/New_York", "hours": [ny.hour]}}, lambda v: True),
        ({"schedule": {"time_zone": "America/New_York",
                       "hours": [h for h in range(24) if h != ny.hour]}}, lambda v: False),
        ({"countries": {"allow": ["US", "DE"]}, "devices": {"allow": ["desktop"]},
          "languages": {"deny": ["en"]}},
         lambda v: v["country"] in {"US", "DE"} and v["device"] == "desktop"
         and v["language"] != "en"),
    ]  # fmt: skip


def cached_offer(offer_id: int, targeting: dict[str, Any] | None = None) -> CachedOffer:
    compiled = compile_targeting(targeting_json(TargetingIn.model_validate(targeting))
                                 if targeting else None)  # fmt: skip
    return CachedOffer(offer_id, compile_template(f"https://o{offer_id}.example/l?cid={{click_id}}"),
                       compile_template(FALLBACK), "active", None, (), 30 * 86_400, False, None,
                       None, True, compiled)  # fmt: skip


def cached_route(route_id: int, offer_id: int, priority: int, weight: int,
           targeting: dict[str, Any] | None = None) -> CachedRoute:  # fmt: skip
    compiled = compile_targeting(targeting_json(TargetingIn.model_validate(targeting))
                                 if targeting else None)  # fmt: skip
    return CachedRoute(route_id, offer_id, None, priority, weight, compiled, None, None)


class Front:
    """The redirect front with its caches filled by hand (no Postgres, no Redis)."""

    def __init__(self, work: Path) -> None:
        settings = Settings.model_construct(
            geoip_db=build_geo_db(work / "geo.mmdb"),
            asn_db=build_asn_db(work / "asn.mmdb", [("10.1.0.0/16", 16509, "AMAZON-02"),
                                                    ("10.2.0.0/16", 3320, "DTAG")]),
            trusted_proxies=["127.0.0.1/32"],
        )  # fmt: skip
        self.links = LinkCache(1.0)
        self.links.affiliate_map[AFF] = True
        self.sink = ClickSink(["s"], 500, 20, 10**9)
        caps = ClickCaps(redis_keys.of(settings), 0.25)
        self.front = RedirectFront(None, self.links, self.sink, None, caps, settings)
        self.calls = 0
        self._next = 1000

    def ident(self) -> int:
        self._next += 1
        return self._next

    def add_offer(self, offer: CachedOffer) -> None:
        self.links.offer_map[offer.offer_id] = offer

    def add_link(self, code: str, offer_id: int, routes: tuple[CachedRoute, ...] = (),
                 sticky_s: int = 86_400) -> None:  # fmt: skip
        smart = SmartSpec(routes, compile_template(FALLBACK), sticky_s) if routes else None
        self.links.link_map[code] = CachedLink(self.ident(), code, 0 if smart else offer_id,
                                               AFF, (), True, smart)  # fmt: skip

    async def where(self, code: str, ip: str, ua: str, lang: str = "") -> str:
        """The host a visitor is sent to ('fallback.example' or 'o<offer>.example')."""
        headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", ua.encode()),
                   (b"x-forwarded-for", ip.encode())]  # fmt: skip
        if lang:
            headers.append((b"accept-language", lang.encode()))
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5555), "scheme": "http",
                 "method": "GET", "root_path": "", "path": f"/c/{code}",
                 "raw_path": f"/c/{code}".encode(), "query_string": b"", "headers": headers,
                 "state": {}}  # fmt: skip
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.front(scope, None, send)
        self.calls += 1
        if self.calls % 200 == 0:
            while self.sink._buffered:  # the flusher's part: the batch leaves the process
                self.sink._take()
        start = sent[0]
        assert start["status"] == 302, start
        location: str = dict(start["headers"])[b"location"].decode()
        return location.split("/", 3)[2]


async def weights(front: Front, clicks: int, again: int) -> dict[str, Any]:
    """Shares of a 50/30/20 smart link over ``clicks`` distinct visitors; then the first
    ``again`` visitors once more: how many were sent elsewhere the second time."""
    offers = [front.ident() for _ in WEIGHTS]
    for o in offers:
        front.add_offer(cached_offer(o))
    front.add_link("w3", 0, tuple(cached_route(front.ident(), o, 1, w)
                                  for o, w in zip(offers, WEIGHTS, strict=True)))  # fmt: skip
    ua = AGENTS[0][0]
    first: list[str] = []
    got: Counter[str] = Counter()
    for i in range(clicks):
        host = await front.where("w3", f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", ua)
        got[host] += 1
        if i < again:
            first.append(host)
    moved = 0
    for i in range(again):
        moved += await front.where("w3", f"10.0.{(i >> 8) & 255}.{i & 255}", ua) != first[i]
    total = sum(WEIGHTS)
    shares = {f"o{o}": got[f"o{o}.example"] / clicks for o in offers}
    errors = [abs(got[f"o{o}.example"] / clicks - w / total)
              for o, w in zip(offers, WEIGHTS, strict=True)]  # fmt: skip
    return {"weights": list(WEIGHTS), "shares": list(shares.values()), "clicks": clicks,
            "max_abs_error": max(errors), "elsewhere": sum(got.values()) - sum(
                got[f"o{o}.example"] for o in offers), "sticky_checked": again,
            "sticky_moved": moved}  # fmt: skip


async def targeting_table(front: Front) -> dict[str, Any]:
    """Every visitor x every rule, as a route's and as an offer's targeting."""
    people = visitors()
    table = rules(datetime.now(ZoneInfo("UTC")))
    mismatches: list[str] = []
    cases = 0
    for n, (rule, matches) in enumerate(table):
        taken, rest = front.ident(), front.ident()
        front.add_offer(cached_offer(taken))
        front.add_offer(cached_offer(rest))
        front.add_link(f"r{n}", 0, (cached_route(front.ident(), taken, 1, 1, rule),
                                    cached_route(front.ident(), rest, 2, 1)))  # fmt: skip
        targeted = front.ident()
        front.add_offer(cached_offer(targeted, rule))
        front.add_link(f"p{n}", targeted)
        for v in people:
            expect = matches(v)
            route = await front.where(f"r{n}", v["ip"], v["ua"], v["lang"])
            plain = await front.where(f"p{n}", v["ip"], v["ua"], v["lang"])
            cases += 2
            if route != (f"o{taken}.example" if expect else f"o{rest}.example"):
                mismatches.append(f"route {rule} {v['ip']} {v['device']} {v['lang']!r}: {route}")
            if plain != (f"o{targeted}.example" if expect else "fallback.example"):
                mismatches.append(f"offer {rule} {v['ip']} {v['device']} {v['lang']!r}: {plain}")
    return {"visitors": len(people), "rules": len(table), "cases": cases,
            "mismatches": len(mismatches), "examples": mismatches[:5]}  # fmt: skip
