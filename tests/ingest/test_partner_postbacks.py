"""Outgoing partner postbacks end to end: conversion → outbox → a real local receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx

from ingest.partner_postbacks.deliveries import PostbackSender
from ingest.partner_postbacks.http import HttpClient
from tests.conftest import create_world
from tests.receiver import receiver
from tests.servers import ingest_burst
from tracker.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def _burst(settings: Settings) -> None:
    await ingest_burst(settings, TRACKER_POSTBACK_ALLOW_LOOPBACK="true")


async def _clicks(service: str, world: dict, n: int, prefix: str) -> list[str]:  # type: ignore[type-arg]
    """n clicks through the redirect; returns their click ids."""
    cids: list[str] = []
    async with httpx.AsyncClient(base_url=service, timeout=10) as http:
        sem = asyncio.Semaphore(20)

        async def click(i: int) -> None:
            async with sem:
                r = await http.get(f"/c/{world['link']['code']}", params={"sub1": f"{prefix}-{i}"},
                                   headers={"User-Agent": "Mozilla/5.0"})  # fmt: skip
                cids.append(parse_qs(urlsplit(r.headers["location"]).query)["cid"][0])

        await asyncio.gather(*(click(i) for i in range(n)))
    return cids


async def _postbacks(api: httpx.AsyncClient, world: dict, cids: list[str], prefix: str) -> None:  # type: ignore[type-arg]
    adv = world["advertiser"]
    sem = asyncio.Semaphore(20)

    async def one(i: int, cid: str) -> None:
        async with sem:
            r = await api.get("/postback", params={"advertiser_id": adv["id"], "token": adv["postback_token"],
                                                   "click_id": cid, "txn_id": f"{prefix}-{i}", "amount": "10"})  # fmt: skip
            assert r.status_code == 202, r.text

    await asyncio.gather(*(one(i, c) for i, c in enumerate(cids)))


async def test_thousand_conversions_thousand_deliveries_with_macros(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    settings.postback_allow_loopback = True
    world = await create_world(api)
    async with receiver() as rx:
        tmpl = (f"http://127.0.0.1:{rx.port}/pb?cid={{click_id}}&s1={{sub1}}&payout={{payout}}"
                "&txn={txn_id}&st={status}&g={goal}&o={offer_id}&a={aff_id}&cur={currency}")  # fmt: skip
        r = await api.post("/api/v1/partner-postbacks", json={"affiliate_id": world["affiliate"]["id"],
                                                              "url_template": tmpl})  # fmt: skip
        assert r.status_code == 201, r.text
        cids = await _clicks(service, world, 1000, "k")
        await asyncio.sleep(0.2)
        await _burst(settings)  # clicks in
        await _postbacks(api, world, cids, "t")
        await _burst(settings)  # conversions in, outbox written, sender drains what is due

        assert len(rx.requests) == 1000
        got = {}
        for req in rx.requests:
            q = {k: v[0] for k, v in parse_qs(urlsplit(req.target).query).items()}
            got[q["cid"]] = q
        assert set(got) == set(cids)
        sample = got[cids[17]]
        assert (
            sample["payout"] == "2.5000" and sample["st"] == "approved" and sample["g"] == "default"
        )
        assert sample["o"] == str(world["offer"]["id"]) and sample["a"] == str(
            world["affiliate"]["id"]
        )
        assert sample["s1"].startswith("k-") and sample["cur"] == "USD"
        assert all(req.headers["x-tracker-id"] for req in rx.requests)
    delivered = await pool.fetchval(
        "SELECT count(*) FROM postback_outbox WHERE affiliate_id = $1 AND state = 'delivered'",
        world["affiliate"]["id"],
    )
    assert delivered == 1000


async def _one_delivery(settings: Settings, service: str, api: httpx.AsyncClient, url: str,
                        method: str = "GET") -> tuple[dict, int]:  # type: ignore[type-arg]  # fmt: skip
    world = await create_world(api)
    r = await api.post("/api/v1/partner-postbacks", json={"affiliate_id": world["affiliate"]["id"],
                                                          "url_template": url, "method": method})  # fmt: skip
    assert r.status_code == 201, r.text
    cids = await _clicks(service, world, 1, "one")
    await asyncio.sleep(0.1)
    await _burst_clicks_and_conversions(settings, api, world, cids)
    return world, r.json()


async def _burst_clicks_and_conversions(
    settings: Settings, api: httpx.AsyncClient, world: dict, cids: list[str]
) -> None:  # type: ignore[type-arg]
    from ingest.worker import Worker
    from tracker.redis_client import open_redis
    from tracker.store.db import open_pool

    assert settings.database_url and settings.redis_url
    p = await open_pool(settings, settings.database_url)
    r = open_redis(settings, settings.redis_url, block_ms=settings.ingest_block_ms)
    try:
        await Worker(settings, p, r, consumer="c1").run(burst=True)
        await _postbacks(api, world, cids, "x")
        await Worker(settings, p, r, consumer="c1").run(burst=True)
    finally:
        await r.aclose()
        await p.close()


async def test_fails_three_times_then_delivered_with_attempts_logged(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    settings.postback_allow_loopback = True
    async with receiver() as rx:
        rx.behave = lambda req: (500, b"try later") if len(rx.requests) <= 3 else (200, b"thanks")
        world, setting = await _one_delivery(settings, service, api, f"http://127.0.0.1:{rx.port}/pb?t={{txn_id}}",
                                             method="POST")  # fmt: skip
        clock = Clock()
        sender = PostbackSender(
            pool, HttpClient(timeout_s=2, allow_loopback=True), clock=clock, backoff_base_s=10
        )
        for _ in range(10):
            await sender.run_once()
            clock.now += timedelta(hours=1)  # past any backoff
        assert len(rx.requests) == 4
        # Every POST is signed: HMAC-SHA256 over id.timestamp.body with the setting's secret.
        for req in rx.requests:
            msg = (
                f"{req.headers['x-tracker-id']}.{req.headers['x-tracker-timestamp']}.".encode()
                + req.body
            )
            mac = hmac.new(setting["secret"].encode(), msg, hashlib.sha256).hexdigest()
            assert req.headers["x-tracker-signature"] == "sha256=" + mac
    rows = await pool.fetch(
        "SELECT * FROM postback_outbox WHERE affiliate_id = $1", world["affiliate"]["id"]
    )
    assert len(rows) == 1 and rows[0]["state"] == "delivered" and rows[0]["attempts"] == 4
    d = (await api.get(f"/api/v1/deliveries/{rows[0]['id']}")).json()
    assert [a["status_code"] for a in d["attempt_log"]] == [500, 500, 500, 200]
    assert d["attempt_log"][0]["response"] == "try later" and d["attempt_log"][0]["latency_ms"] >= 0
    assert d["attempt_log"][0]["address"] == "127.0.0.1"


async def test_never_answers_dead_lettered_then_replayed(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    settings.postback_allow_loopback = True
    async with receiver() as rx:
        rx.behave = lambda req: None  # accepts, never answers
        world, _ = await _one_delivery(
            settings, service, api, f"http://127.0.0.1:{rx.port}/pb?c={{click_id}}"
        )
        clock = Clock()
        sender = PostbackSender(pool, HttpClient(timeout_s=0.2, allow_loopback=True), clock=clock)
        for _ in range(40):
            await sender.run_once()
            clock.now += timedelta(hours=2)  # the 24 h window passes within the loop
        row = await pool.fetchrow(
            "SELECT * FROM postback_outbox WHERE affiliate_id = $1", world["affiliate"]["id"]
        )
        assert (
            row["state"] == "dead" and row["attempts"] >= 3 and "TimeoutError" in row["last_error"]
        )
        tried = len(rx.requests)
        for _ in range(3):
            await sender.run_once()
            clock.now += timedelta(hours=2)
        assert len(rx.requests) == tried  # dead stays dead until replayed

        rx.behave = lambda req: (200, b"ok")
        r = await api.post("/api/v1/deliveries/replay", json={"ids": [str(row["id"])]})
        assert r.json() == {"replayed": 1}
        # 13 failures in a row opened the partner's breaker: it lets a trial through after
        # its cooldown (at most an hour), so the replay is slowed, not dropped.
        assert sender.breaker(world["affiliate"]["id"]).is_open
        clock.now += timedelta(hours=2)
        await sender.run_once()
        assert len(rx.requests) == tried + 1
    after = await pool.fetchrow("SELECT * FROM postback_outbox WHERE id = $1", row["id"])
    assert after["state"] == "delivered"


async def test_test_mode_shows_the_request_and_refuses_internal_targets(
    settings: Settings, service: str, api: httpx.AsyncClient
) -> None:
    world = await create_world(api)
    aff = world["affiliate"]["id"]
    bad = await api.post(
        "/api/v1/partner-postbacks",
        json={"affiliate_id": aff, "url_template": "http://169.254.169.254/x"},
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "url_template"
    bad = await api.post(
        "/api/v1/partner-postbacks",
        json={"affiliate_id": aff, "url_template": "http://{sub1}.example/x"},
    )
    assert bad.status_code == 422
    r = await api.post("/api/v1/partner-postbacks", json={
        "affiliate_id": aff, "url_template": "https://partner.example/pb?c={click_id}&p={payout}&s={sub2}",
        "sign_get": True})  # fmt: skip
    assert r.status_code == 201 and r.json()["secret"]
    t = (await api.post(f"/api/v1/partner-postbacks/{r.json()['id']}/test")).json()
    assert t["allowed"] and t["method"] == "GET" and t["body"] is None
    assert t["url"].startswith(
        "https://partner.example/pb?c=00000000-0000-0000-0000-000000000001&p=1.23&s=sub2-value&trk_id="
    )
    assert "trk_sig=" in t["url"] and t["headers"]["X-Tracker-Id"]
    assert (await api.get(f"/api/v1/partner-postbacks/{r.json()['id']}")).json()["secret"] is None


async def test_status_changes_through_the_api_fire_their_events(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    settings.postback_allow_loopback = True
    async with receiver() as rx:
        world = await create_world(api)
        r = await api.post("/api/v1/partner-postbacks", json={
            "affiliate_id": world["affiliate"]["id"], "events": ["approved", "reversed"],
            "url_template": f"http://127.0.0.1:{rx.port}/pb?c={{conversion_id}}&st={{status}}&p={{payout}}"})  # fmt: skip
        assert r.status_code == 201, r.text
        cids = await _clicks(service, world, 1, "st")
        await asyncio.sleep(0.1)
        adv = world["advertiser"]
        from ingest.worker import Worker
        from tracker.redis_client import open_redis
        from tracker.store.db import open_pool

        assert settings.database_url and settings.redis_url
        p = await open_pool(settings, settings.database_url)
        red = open_redis(settings, settings.redis_url, block_ms=settings.ingest_block_ms)
        try:
            await Worker(settings, p, red, consumer="s1").run(burst=True)
            pb = await api.get("/postback", params={"advertiser_id": adv["id"], "token": adv["postback_token"],
                                                    "click_id": cids[0], "txn_id": "st-1", "status": "pending"})  # fmt: skip
            conv_id = pb.json()["conversion_id"]
            await Worker(settings, p, red, consumer="s1").run(burst=True)
        finally:
            await red.aclose()
            await p.close()
        sender = PostbackSender(pool, HttpClient(timeout_s=2, allow_loopback=True))
        await sender.run_once()
        assert (
            rx.requests == []
        )  # created as pending: this partner listens to approvals and reversals only
        for status in ("approved", "reversed"):
            s = await api.post(f"/api/v1/conversions/{conv_id}/status", json={"status": status})
            assert s.status_code == 200, s.text
            await sender.run_once()
        got = [parse_qs(urlsplit(req.target).query) for req in rx.requests]
        assert [(q["c"][0], q["st"][0], q["p"][0]) for q in got] == [
            (conv_id, "approved", "2.5000"), (conv_id, "reversed", "2.5000")]  # fmt: skip
