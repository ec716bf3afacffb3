"""Generated traffic for the ingest benchmark and tests: clicks, agents, a GeoIP file.

Nothing here is real data: addresses are private ranges, the GeoIP database
is written on the spot (MaxMind format, by mmdb-writer) so that enrichment
runs the same code path as with a real GeoLite2 City file.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet

from tracker.domain.ids import uuid7, uuid7_time_ms

_BASE_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) v{v}",
]
# About 800 distinct agents: real traffic repeats a few thousand.
AGENTS = [a.format(v=v, m=m) for a in _BASE_AGENTS for v in range(100, 125) for m in range(4)]

# (network, country, region, city)
PLACES = [
    ("10.1.0.0/16", "US", "CA", "San Francisco"),
    ("10.2.0.0/16", "DE", "BE", "Berlin"),
    ("10.3.0.0/16", "FR", "IDF", "Paris"),
    ("10.4.0.0/16", "BR", "SP", "São Paulo"),
    ("10.5.0.0/16", "IN", "MH", "Mumbai"),
]


def build_geo_db(path: Path) -> Path:
    """A small GeoIP2-City-shaped database covering the PLACES networks."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City",
                        languages=["en"], description="tracker test geo")  # fmt: skip
    for net, country, region, city in PLACES:
        writer.insert_network(
            IPSet([net]),
            {
                "country": {"iso_code": country, "names": {"en": country}},
                "subdivisions": [{"iso_code": region, "names": {"en": region}}],
                "city": {"names": {"en": city}},
            },
        )
    writer.to_db_file(str(path))
    return path


def build_asn_db(path: Path, networks: list[tuple[str, int, str]]) -> Path:
    """A small GeoLite2-ASN-shaped database: (network, AS number, organisation) each."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN",
                        languages=["en"], description="tracker test asn")  # fmt: skip
    for net, asn, org in networks:
        writer.insert_network(IPSet([net]), {"autonomous_system_number": asn,
                                             "autonomous_system_organization": org})  # fmt: skip
    writer.to_db_file(str(path))
    return path


def make_clicks(n: int, offer: int, aff: int, *, seed: int = 7, now_ns: int | None = None,
                impression_every: int = 0) -> list[dict[str, Any]]:  # fmt: skip
    """n clicks as the redirect puts them on the wire (some impressions, some bots)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        cid = uuid7(now_ns)
        impression = impression_every and i % impression_every == 0
        out.append({
            "click_id": str(cid), "ts": uuid7_time_ms(cid) / 1000,
            "kind": "impression" if impression else "click",
            "link_id": 1, "link_code": "bench", "offer_id": offer, "aff_id": aff,
            "subs": [f"s{i % 50}", "camp\tA" if i % 100 == 0 else "campA", None], "source": "newsletter",
            "params": {"gclid": f"g{i}"} if i % 5 == 0 else {},
            "ip": f"10.{rnd.randint(1, 6)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
            "ua": rnd.choice(AGENTS), "referer": "https://news.example/a?b=1",
            "lang": "en-US", "cls": "human",
        })  # fmt: skip
    return out
