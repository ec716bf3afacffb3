"""Helpers of the issue-20 tests: offers, smart links and visitors through the real service.

The service runs with GeoIP and ASN databases built here and 127.0.0.1 as its trusted
proxy, so each request says which visitor it stands for (``X-Forwarded-For``): 10.1/16 is
an AWS network in San Francisco (US-CA), 10.2/16 Deutsche Telekom in Berlin (DE-BE),
10.3/16 Paris (FR-IDF), 10.4/16 São Paulo (BR-SP), 10.5/16 Mumbai (IN-MH).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadtests.ingest.data import build_asn_db, build_geo_db
from tests.redirect.helpers import CHROME
from tracker.settings import Settings

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
FALLBACK = "https://fallback.example/"


@pytest.fixture
def netdbs(settings: Settings, tmp_path: Path) -> Settings:
    """GeoIP and ASN databases, and the loopback as the proxy in front (before `service`)."""
    settings.geoip_db = build_geo_db(tmp_path / "geo.mmdb")
    settings.asn_db = build_asn_db(tmp_path / "asn.mmdb", [
        ("10.1.0.0/16", 16509, "AMAZON-02"), ("10.2.0.0/16", 3320, "Deutsche Telekom AG"),
    ])  # fmt: skip
    settings.trusted_proxies = ["127.0.0.1/32"]
    return settings


async def visit(service: str, code: str, ip: str, ua: str = CHROME, *, lang: str = "",
                method: str = "GET", path: str = "c") -> httpx.Response:  # fmt: skip
    headers = {"User-Agent": ua, "X-Forwarded-For": ip}
    if lang:
        headers["Accept-Language"] = lang
    async with httpx.AsyncClient(base_url=service, headers=headers) as http:
        return await http.request(method, f"/{path}/{code}")


def host(r: httpx.Response) -> str:
    """Where a redirect went: the Location's host (the offers' hosts name them)."""
    assert r.status_code == 302, (r.status_code, r.text[:200])
    return httpx.URL(r.headers["location"]).host


async def offer(api: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    """An offer whose landing URL's host is ``<name>.example``."""
    adv = (await api.post("/api/v1/advertisers", json={"name": f"adv {name}"})).json()
    body = {"advertiser_id": adv["id"], "name": name, "default_payout": "1.00",
            "landing_url": f"https://{name}.example/l?cid={{click_id}}",
            "fallback_url": FALLBACK, **fields}  # fmt: skip
    r = await api.post("/api/v1/offers", json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def partner(api: httpx.AsyncClient) -> int:
    r = await api.post("/api/v1/affiliates", json={"name": "smart partner"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def smart_link(api: httpx.AsyncClient, aff: int, routes: list[dict[str, Any]],
                     **fields: Any) -> dict[str, Any]:  # fmt: skip
    r = await api.post("/api/v1/smart-links", json={"affiliate_id": aff, "routes": routes,
                                                    "fallback_url": FALLBACK, **fields})  # fmt: skip
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def within(seconds: float, probe: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until ``probe`` is true (fails after ``seconds``)."""
    t0 = time.monotonic()
    while True:
        if await probe():
            return time.monotonic() - t0
        assert time.monotonic() - t0 < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.05)
