"""Issue 18 in real browsers with third-party cookies blocked: Chromium (Playwright) and
Firefox ESR (WebDriver BiDi), each the same cases (tests/e2e/browsers.py).

The merchant is http://shop.localhost:<port> (tests/e2e/shop.py), the tracker the real
served app at http://127.0.0.1:<port>: two sites. Its tracking domain on the merchant's
site is track.shop.localhost, the same site as the shop. Names under .localhost because
the tracker's click cookie is ``Secure; SameSite=None`` and browsers keep Secure cookies
over plain HTTP only on localhost names (so no TLS set-up is needed here); the public
suffix rule makes shop.localhost a registrable domain of its own, like shop.example.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from tests.browser_world import browser_world, queued, stored
from tests.conversions.conftest import burst
from tests.e2e.browsers import ENGINES, Browser, launch
from tests.e2e.shop import Shop
from tests.servers import free_port, run_server
from tracker.settings import Settings

WINDOW_DAYS = 45
MARK = {"chromium": "HeadlessChrome/", "firefox": "Firefox/"}  # in each engine's user agent


@pytest.fixture(params=ENGINES)
async def browser(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Browser]:
    async with launch(request.param, tmp_path / "profile") as b:
        yield b


@pytest.fixture
async def no_domains(pool: asyncpg.Pool) -> AsyncIterator[None]:
    await pool.execute("DELETE FROM tracking_domains")
    yield
    await pool.execute("DELETE FROM tracking_domains")


class Site:
    """The shop, its world in the tracker, and the addresses of both."""

    def __init__(self, w: dict[str, Any], shop: Shop, port: int, service: str) -> None:
        self.w, self.shop, self.port, self.service = w, shop, port, service
        self.origin = f"http://shop.localhost:{port}"
        self.tracker_port = urlsplit(service).port

    @property
    def offer(self) -> int:
        return int(self.w["offer"]["id"])

    @property
    def adv(self) -> int:
        return int(self.w["advertiser"]["id"])


@pytest.fixture
async def site(service: str, api: httpx.AsyncClient) -> AsyncIterator[Site]:
    port = free_port()
    w = await browser_world(api, [f"http://shop.localhost:{port}"],
                            landing=f"http://shop.localhost:{port}/landing?click_id={{click_id}}",
                            attribution_window_days=WINDOW_DAYS)  # fmt: skip
    shop = Shop(service, w["advertiser"])
    sdk = (await api.get(f"/api/v1/offers/{w['offer']['id']}/sdk")).json()
    shop.snippet = sdk["snippet"]  # what the API hands out, pasted into the shop's pages
    async with run_server(shop.app, port):
        yield Site(w, shop, port, service)


async def _land(b: Browser, url: str) -> str:
    """Click the tracking link; the click id the landing page got."""
    await b.goto(url)
    search = await b.js("location.search")
    return parse_qs(search.lstrip("?"))["click_id"][0]


async def _lookup(api: httpx.AsyncClient, adv: int, txn: str) -> dict[str, Any]:
    r = await api.get("/api/v1/conversions/lookup", params={"advertiser_id": adv, "txn_id": txn})
    assert r.status_code == 200, r.text
    return dict(r.json()["items"][0])


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_sdk_stores_the_click_and_its_conversion_is_attributed_pending(
    browser: Browser, site: Site, settings: Settings, api: httpx.AsyncClient
) -> None:
    cid = await _land(browser, f"{site.service}/c/{site.w['link']['code']}")
    assert await browser.js("window.tracker.clickId()") == cid
    [cookie] = [c for c in await browser.cookies() if c["name"] == "trk_click_id"]
    assert (cookie["value"], cookie["domain"], cookie["path"], cookie["same_site"]) == (
        cid, "shop.localhost", "/", "lax")  # fmt: skip
    assert abs(cookie["expires"] - (time.time() + WINDOW_DAYS * 86400)) < 3600  # the window

    await browser.goto(f"{site.origin}/thanks?order=W-1")  # another page: from the cookie
    answer = await browser.js(
        "window.tracker.conversion({amount: 49.9, order_id: 'W-1', currency: 'usd'})"
    )
    assert answer["status"] == "accepted" and answer["duplicate"] is False
    await asyncio.sleep(0.05)
    await burst(settings)
    c = await _lookup(api, site.adv, "W-1")
    assert c["conversion_id"] == answer["id"]
    assert (c["status"], c["affiliate_id"], c["click_id"], c["method"]) == (
        "pending", site.w["affiliate"]["id"], cid, "sdk")  # fmt: skip
    assert (c["amount"], c["currency"], c["payout"]) == ("49.9000", "USD", "2.5000")
    assert c["decision"]["browser"]["origin"] == site.origin
    assert MARK[browser.name] in c["decision"]["browser"]["user_agent"]


async def test_the_merchants_server_reads_the_first_party_cookie_for_its_postback(
    browser: Browser, site: Site, settings: Settings, api: httpx.AsyncClient
) -> None:
    cid = await _land(browser, f"{site.service}/c/{site.w['link']['code']}")
    await browser.goto(f"{site.origin}/checkout?order=W-2")
    sent = await browser.js("JSON.parse(document.body.innerText)")
    assert sent == {"click_id": cid, "postback": 202}
    await asyncio.sleep(0.05)
    await burst(settings)
    c = await _lookup(api, site.adv, "W-2")
    assert (c["status"], c["affiliate_id"], c["click_id"], c["method"], c["amount"]) == (
        "approved", site.w["affiliate"]["id"], cid, "click_id", "30.0000")  # fmt: skip


async def test_a_page_of_an_unlisted_origin_is_refused_and_stores_nothing(
    browser: Browser, site: Site, settings: Settings, redis: Redis, pool: asyncpg.Pool
) -> None:
    await _land(browser, f"{site.service}/c/{site.w['link']['code']}")
    evil = f"http://evil.localhost:{site.port}"  # the same pages, another site
    await browser.goto(f"{evil}/thanks?order=E-1")
    before = {k: _count("tracker_browser_conversions_total", outcome=k)
              for k in ("preflight_refused", "origin_not_allowed")}  # fmt: skip
    refused = await browser.js(
        "window.tracker.conversion({amount: 5, order_id: 'E-1'})"
        ".then(r => ({answer: r}), e => ({refused: String(e)}))"
    )
    assert "refused" in refused, refused  # the CORS preflight failed
    url = f"{site.service}/sdk/offers/{site.offer}/conversions"
    kind = await browser.js(  # no preflight at all: a "simple" request reaches the server
        f"fetch('{url}', {{method: 'POST', mode: 'no-cors', headers: {{'Content-Type': "
        "'text/plain'}, body: JSON.stringify({order_id: 'E-2', amount: '5'})}).then(r => r.type)"
    )
    assert kind == "opaque"
    assert _count("tracker_browser_conversions_total", outcome="preflight_refused") == (
        before["preflight_refused"] + 1)  # fmt: skip
    assert _count("tracker_browser_conversions_total", outcome="origin_not_allowed") == (
        before["origin_not_allowed"] + 1)  # fmt: skip
    assert await queued(redis, settings) == 0
    await burst(settings)
    assert await stored(pool, site.adv, "E-1") == [] and await stored(pool, site.adv, "E-2") == []


async def test_with_consent_required_nothing_is_stored_before_consent(
    browser: Browser, site: Site
) -> None:
    site.shop.snippet = site.shop.snippet.replace(" async>", ' data-consent="required" async>')
    cid = await _land(browser, f"{site.service}/c/{site.w['link']['code']}")
    state = "({id: window.tracker.clickId(), cookie: document.cookie, local: localStorage.length, session: sessionStorage.length})"
    assert await browser.js(state) == {"id": None, "cookie": "", "local": 0, "session": 0}
    assert [c for c in await browser.cookies() if c["domain"] == "shop.localhost"] == []
    await browser.js("window.tracker.consent(true)")
    assert await browser.js("window.tracker.clickId()") == cid
    assert [c["value"] for c in await browser.cookies() if c["name"] == "trk_click_id"] == [cid]
    await browser.js("window.tracker.consent(false)")
    assert await browser.js(state) == {"id": None, "cookie": "", "local": 0, "session": 0}
    assert [c for c in await browser.cookies() if c["name"] == "trk_click_id"] == []


async def test_a_tracking_domain_on_the_merchants_site_makes_the_cookie_pixel_work(
    browser: Browser, site: Site, settings: Settings, api: httpx.AsyncClient,
    pool: asyncpg.Pool, no_domains: None,
) -> None:  # fmt: skip
    r = await api.put(f"/api/v1/advertisers/{site.adv}/postback-auth", json={"allow_pixel": True})
    assert r.status_code == 200, r.text
    code = site.w["link"]["code"]
    # Without it: the tracker on its own site. Its cookie is set at the click (a top-level
    # visit), but the pixel on the shop's page is a third-party request: the cookie is
    # not sent and the conversion is not attributed (the "0 times out of 1").
    await _land(browser, f"{site.service}/c/{code}")
    await asyncio.sleep(0.05)
    await burst(settings)  # the pixel takes only clicks recorded already (docs/adr/0087)
    assert [c["domain"] for c in await browser.cookies() if c["name"] == "trk_cid"] == ["127.0.0.1"]
    site.shop.pixel = f"{site.service}/pixel?advertiser_id={site.adv}"
    refused = _count("tracker_postbacks_refused_total", reason="pixel_no_click")
    await browser.goto(f"{site.origin}/thanks?order=P-0")
    assert _count("tracker_postbacks_refused_total", reason="pixel_no_click") == refused + 1

    r = await api.post("/api/v1/tracking-domains", json={
        "scope": "advertiser", "hostname": "track.shop.localhost", "advertiser_id": site.adv})  # fmt: skip
    assert r.status_code == 201, r.text
    link = (await api.get(f"/api/v1/links/{site.w['link']['id']}")).json()
    on = f"http://track.shop.localhost:{site.tracker_port}"
    assert link["url"] == f"{on}/c/{code}"  # handed out on the merchant's subdomain
    sdk = (await api.get(f"/api/v1/offers/{site.offer}/sdk")).json()
    assert sdk["pixel_url"].startswith(f"{on}/pixel?advertiser_id={site.adv}&")
    site.shop.pixel = sdk["pixel_url"].split("&txn_id=")[0]
    cid = await _land(browser, link["url"])
    await asyncio.sleep(0.05)
    await burst(settings)
    await browser.goto(f"{site.origin}/thanks?order=P-1")
    await asyncio.sleep(0.05)
    await burst(settings)
    assert await stored(pool, site.adv, "P-0") == []
    c = await _lookup(api, site.adv, "P-1")
    assert (c["status"], c["affiliate_id"], c["click_id"], c["method"]) == (
        "pending", site.w["affiliate"]["id"], cid, "cookie")  # pixel_status: pending  # fmt: skip


async def test_a_host_that_is_not_registered_is_refused(
    browser: Browser, site: Site, api: httpx.AsyncClient, no_domains: None
) -> None:
    r = await api.post("/api/v1/tracking-domains", json={
        "scope": "advertiser", "hostname": "track.shop.localhost", "advertiser_id": site.adv})  # fmt: skip
    assert r.status_code == 201, r.text
    code = site.w["link"]["code"]
    other = f"http://elsewhere.localhost:{site.tracker_port}/c/{code}"
    for _ in range(100):  # every process applies it within link_refresh_s
        async with httpx.AsyncClient(timeout=10) as http:
            probe = await http.get(
                f"{site.service}/c/{code}", headers={"Host": urlsplit(other).netloc}
            )
        if probe.status_code == 421:
            break
        await asyncio.sleep(0.05)
    await browser.goto(other)
    page = await browser.js("({host: location.host, text: document.body.innerText})")
    assert page["host"] == urlsplit(other).netloc  # not redirected to the shop
    assert '"code":"unknown_host"' in page["text"].replace(" ", ""), page
    cid = await _land(browser, f"http://track.shop.localhost:{site.tracker_port}/c/{code}")
    assert cid  # the registered one answers
