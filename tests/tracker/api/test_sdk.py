"""The SDK script and the browser-conversion intake against the real served app (issue 18):
cache headers and size, CORS, and every refusal answered 4xx, counted, storing nothing."""

from __future__ import annotations

import gzip
import uuid
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from tests.browser_world import browser_world, click, queued, stored
from tracker.api import sdk_script
from tracker.settings import Settings

SHOP = "http://shop.localhost:8080"


def _count(outcome: str) -> float:
    value = REGISTRY.get_sample_value("tracker_browser_conversions_total", {"outcome": outcome})
    return value or 0.0


async def test_sdk_script_is_small_and_cached_by_version(service: str) -> None:
    async with httpx.AsyncClient(base_url=service, timeout=10) as http:
        r = await http.get("/sdk.js", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/javascript; charset=utf-8"
        assert r.headers["content-encoding"] == "gzip"
        assert r.num_bytes_downloaded <= 5 * 1024, r.num_bytes_downloaded  # the budget
        assert r.content == sdk_script.SOURCE and gzip.decompress(sdk_script.GZIPPED) == r.content
        assert r.headers["cache-control"] == "public, max-age=300"
        assert b"fetch" in r.content and b"keepalive: true" in r.content

        v = await http.get(sdk_script.PATH, headers={"Accept-Encoding": "identity"})
        assert v.status_code == 200 and v.content == sdk_script.SOURCE
        assert "content-encoding" not in v.headers
        assert v.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert v.headers["etag"] == f'"{sdk_script.VERSION}"'
        # A page that names an older version keeps working, without the year-long cache.
        old = await http.get("/sdk/000000000000.js")
        assert old.status_code == 200 and old.headers["cache-control"] == "public, max-age=300"
        same = await http.get(sdk_script.PATH, headers={"If-None-Match": v.headers["etag"]})
        assert same.status_code == 304 and same.content == b""
        bad = await http.get("/sdk/latest.js")
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "version"


async def test_preflight_passes_only_for_the_offers_origins(
    service: str, api: httpx.AsyncClient
) -> None:
    w = await browser_world(api, [SHOP, "https://shop.example:443"])
    url = f"{service}/sdk/offers/{w['offer']['id']}/conversions"
    ask = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    async with httpx.AsyncClient(timeout=10) as http:
        for origin in (SHOP, "https://shop.example"):  # the default port is not part of it
            ok = await http.options(url, headers={**ask, "Origin": origin})
            assert ok.status_code == 204, ok.text
            assert ok.headers["access-control-allow-origin"] == origin
            assert ok.headers["access-control-allow-methods"] == "POST"
            assert ok.headers["access-control-allow-headers"] == "Content-Type"
        before = _count("preflight_refused")
        for headers in (
            {**ask, "Origin": "http://evil.localhost:8080"},
            {**ask, "Origin": "http://shop.localhost:8081"},  # another port: another origin
            {**ask},  # no Origin
            {**ask, "Origin": SHOP, "Access-Control-Request-Method": "PUT"},
            {**ask, "Origin": SHOP, "Access-Control-Request-Headers": "content-type, x-token"},
        ):
            r = await http.options(url, headers=headers)
            assert r.status_code == 403, (headers, r.text)
            assert "access-control-allow-origin" not in r.headers
            assert r.json()["error"] == {"code": "origin_not_allowed", "field": "origin",
                                         "message": r.json()["error"]["message"]}  # fmt: skip
        assert _count("preflight_refused") == before + 5
        missing = await http.options(f"{service}/sdk/offers/999999999/conversions",
                                     headers={**ask, "Origin": SHOP})  # fmt: skip
        assert missing.status_code == 404


Case = tuple[str, dict[str, str], bytes, int, str, str | None]


def _cases(cid_unknown: str) -> list[Case]:
    js = {"Origin": SHOP, "Content-Type": "application/json"}

    def body(**kw: Any) -> bytes:
        return orjson.dumps({"order_id": "bad-1", "amount": "10.00", **kw})

    return [
        # (what, headers, body, status, code, field)
        ("no origin", {"Content-Type": "application/json"}, body(), 403, "origin_not_allowed", "origin"),
        ("other origin", {**js, "Origin": "http://evil.localhost:8080"}, body(), 403,
         "origin_not_allowed", "origin"),
        ("oversized", js, body(order_id="x" * 5000), 413, "too_large", "body"),
        ("malformed", js, b'{"order_id": "bad-1", ', 422, "malformed_json", "body"),
        ("not an object", js, b'["bad-1"]', 422, "malformed_json", "body"),
        ("html", {**js, "Content-Type": "text/html"}, body(), 415, "unsupported_media_type",
         "Content-Type"),
        ("negative", js, body(amount="-1"), 422, "invalid", "amount"),
        ("float", js, body(amount=19.999999), 422, "invalid", "amount"),
        ("nan", js, body(amount="NaN"), 422, "invalid", "amount"),
        ("huge", js, body(amount="1e400"), 422, "invalid", "amount"),
        ("absurd", js, body(amount="2000000"), 422, "amount_too_large", "amount"),
        ("no order", js, orjson.dumps({"amount": "1"}), 422, "invalid", "order_id"),
        ("unknown field", js, body(payout="100"), 422, "invalid", "payout"),
        ("bad currency", js, body(currency="euro"), 422, "invalid", "currency"),
        ("unknown click", js, body(click_id=cid_unknown), 422, "unknown_click", "click_id"),
        ("not a click id", js, body(click_id="nope"), 422, "invalid", "click_id"),
    ]  # fmt: skip


async def test_bad_browser_conversions_are_refused_counted_and_store_nothing(
    service: str, api: httpx.AsyncClient, redis: Redis, settings: Settings, pool: asyncpg.Pool
) -> None:
    w = await browser_world(api, [SHOP], browser_max_amount="1000000")
    url = f"{service}/sdk/offers/{w['offer']['id']}/conversions"
    unknown = str(uuid.uuid4())  # never a click id of this tracker (they are UUIDv7)
    async with httpx.AsyncClient(timeout=10) as http:
        for what, headers, content, status, code, field in _cases(unknown):
            before = _count(code)
            r = await http.post(url, headers=headers, content=content)
            assert r.status_code == status, (what, r.status_code, r.text)
            err = r.json()["error"]
            assert (err["code"], err["field"]) == (code, field), (what, r.json())
            assert _count(code) == before + 1, what
            # Past the origin check the page may read why (CORS); before it, it may not.
            allowed = "access-control-allow-origin" in r.headers
            assert allowed == (code != "origin_not_allowed"), what
        missing = await http.post(f"{service}/sdk/offers/999999999/conversions",
                                  headers={"Origin": SHOP}, content=b"{}")  # fmt: skip
        assert missing.status_code == 404
    assert await queued(redis, settings) == 0
    assert await stored(pool, w["advertiser"]["id"], "bad-1") == []


async def test_a_browser_conversion_is_queued_once(
    service: str, api: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    w = await browser_world(api, [SHOP])
    cid = await click(service, w["link"]["code"])  # still on its way to Postgres: accepted
    url = f"{service}/sdk/offers/{w['offer']['id']}/conversions"
    payload = orjson.dumps(
        {"order_id": "A-1", "amount": "49.90", "currency": "EUR", "click_id": cid}
    )
    async with httpx.AsyncClient(timeout=10) as http:
        first = await http.post(url, content=payload,
                                headers={"Origin": SHOP, "Content-Type": "application/json"})  # fmt: skip
        assert first.status_code == 202, first.text
        assert first.headers["access-control-allow-origin"] == SHOP
        answer = first.json()
        assert answer["status"] == "accepted" and answer["duplicate"] is False
        # The same order again (a reloaded thank-you page), sent without a preflight.
        again = await http.post(url, content=payload,
                                headers={"Origin": SHOP, "Content-Type": "text/plain"})  # fmt: skip
        assert again.status_code == 200, again.text
        assert again.json() == {"id": answer["id"], "status": "accepted", "duplicate": True}
    assert await queued(redis, settings) == 1
    entries = await redis.xrange(await _stream(redis, settings))
    ev = orjson.loads(entries[0][1][b"conversion"])
    assert (ev["via"], ev["status"], ev["txn_id"], ev["amount"], ev["origin"]) == (
        "browser", "pending", "A-1", "49.90", SHOP)  # fmt: skip
    assert ev["click_id"] == cid and ev["advertiser_id"] == w["advertiser"]["id"]


async def _stream(redis: Redis, settings: Settings) -> str:
    from tracker import redis_keys

    for s in redis_keys.of(settings).conversion_streams():
        if await redis.xlen(s):
            return s
    pytest.fail("no conversion stream has an entry")
