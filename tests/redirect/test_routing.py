"""Smart links on the real redirect (issue 20): the first route by priority that takes the
visitor, weighted among equals; paused, expired, capped and not-targeted offers skipped;
a visitor keeps its route; routes' own caps never overshoot a burst; changes live within
2 s; the fallback chain (link fallback, instance fallback, 404) and what it records."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
from redis.asyncio import Redis

from tests.redirect.helpers import CHROME, stream_events
from tests.redirect.routing_world import (
    FALLBACK,
    IPHONE,
    host,
    netdbs,
    offer,
    partner,
    smart_link,
    visit,
    within,
)
from tracker.settings import Settings

__all__ = ["netdbs"]
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def _us(i: int) -> str:
    return f"10.1.{i // 250}.{i % 250 + 1}"


def _de(i: int) -> str:
    return f"10.2.{i // 250}.{i % 250 + 1}"


async def test_priority_then_weight_and_the_next_tier_for_the_others(
    netdbs: Settings, service: str, api: httpx.AsyncClient, redis: Redis
) -> None:
    a, b, c = [await offer(api, n) for n in ("ra", "rb", "rc")]
    aff = await partner(api)
    us = {"countries": {"allow": ["US"]}}
    link = await smart_link(api, aff, [
        {"offer_id": a["id"], "priority": 1, "weight": 70, "targeting": us},
        {"offer_id": b["id"], "priority": 1, "weight": 30, "targeting": us},
        {"offer_id": c["id"], "priority": 2},
    ])  # fmt: skip
    assert [r["priority"] for r in link["routes"]] == [1, 1, 2]
    code = link["code"]
    us_hosts = Counter([host(await visit(service, code, _us(i))) for i in range(300)])
    assert set(us_hosts) == {"ra.example", "rb.example"}, us_hosts
    assert 0.6 < us_hosts["ra.example"] / 300 < 0.8, us_hosts  # 70 % ± 10 points
    de_hosts = Counter([host(await visit(service, code, _de(i))) for i in range(20)])
    assert de_hosts == {"rc.example": 20}
    events = await stream_events(redis, netdbs, 320)
    routes = {r["offer_id"]: r["id"] for r in link["routes"]}
    assert all(e["route"] == routes[e["offer_id"]] for e in events)
    assert {e["link_code"] for e in events} == {code} and {e["aff_id"] for e in events} == {aff}
    assert Counter(e["offer_id"] for e in events) == {
        a["id"]: us_hosts["ra.example"],
        b["id"]: us_hosts["rb.example"],
        c["id"]: 20,
    }


async def test_a_visitor_keeps_its_route_and_sticky_hours_zero_does_not(
    netdbs: Settings, service: str, api: httpx.AsyncClient
) -> None:
    a, b = await offer(api, "sa"), await offer(api, "sb")
    aff = await partner(api)
    routes = [{"offer_id": a["id"], "weight": 50}, {"offer_id": b["id"], "weight": 50}]
    sticky = (await smart_link(api, aff, routes))["code"]
    loose = (await smart_link(api, aff, routes, sticky_hours=0))["code"]
    firsts = []
    for i in range(12):  # each visitor, five times: always the same route
        seen = {host(await visit(service, sticky, _de(i), ua)) for ua in [CHROME] * 5}
        assert len(seen) == 1, seen
        firsts.append(seen.pop())
    assert set(firsts) == {"sa.example", "sb.example"}  # different visitors differ
    seen = Counter([host(await visit(service, loose, _de(0))) for _ in range(40)])
    assert set(seen) == {"sa.example", "sb.example"}, seen
    # another agent at the same address is another visitor (as for unique clicks)
    agents = {host(await visit(service, sticky, _de(0), f"{CHROME} v{i}")) for i in range(12)}
    assert agents == {"sa.example", "sb.example"}


async def test_paused_expired_and_not_targeted_offers_are_skipped_live(
    netdbs: Settings, service: str, api: httpx.AsyncClient, redis: Redis
) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    expired = await offer(api, "xe", expires_at=past)
    a, b = await offer(api, "xa"), await offer(api, "xb")
    aff = await partner(api)
    link = await smart_link(api, aff, [
        {"offer_id": expired["id"], "priority": 1},
        {"offer_id": a["id"], "priority": 2, "targeting": {"devices": {"allow": ["mobile"]}}},
        {"offer_id": b["id"], "priority": 3},
    ])  # fmt: skip
    code, ids = link["code"], [r["id"] for r in link["routes"]]
    assert host(await visit(service, code, _de(1), IPHONE)) == "xa.example"
    assert host(await visit(service, code, _de(1), CHROME)) == "xb.example"
    await api.patch(f"/api/v1/offers/{a['id']}", json={"status": "paused"})

    async def skipped() -> bool:
        return host(await visit(service, code, _de(2), IPHONE)) == "xb.example"

    await within(2.0, skipped)
    # a paused route, then an archived one: the last one goes too, then the link's fallback
    r = await api.patch(f"/api/v1/smart-links/{link['id']}/routes/{ids[2]}",
                        json={"status": "paused"})  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "paused", r.text

    async def nothing_left() -> bool:
        return (await visit(service, code, _de(3))).headers.get("location") == FALLBACK

    await within(2.0, nothing_left)
    events = await stream_events(redis, netdbs, 3)
    # the expired offer never took a click, nor is a click with no route left recorded; the
    # mobile-only route took the first iPhone and skipped Chrome
    assert {e["cls"] for e in events} == {"human"}
    assert Counter((e["offer_id"], e["route"]) for e in events)[(a["id"], ids[1])] >= 1
    assert {e["offer_id"] for e in events} == {a["id"], b["id"]}


async def test_no_route_takes_the_visitor_the_fallback_chain_and_what_is_recorded(
    netdbs: Settings, service: str, api: httpx.AsyncClient, redis: Redis
) -> None:
    a = await offer(api, "fa", targeting={"countries": {"allow": ["FR"]}})
    b = await offer(api, "fb")
    aff = await partner(api)
    link = await smart_link(api, aff, [
        {"offer_id": a["id"], "priority": 1},
        {"offer_id": b["id"], "priority": 2, "targeting": {"os": {"allow": ["ios"]}}},
    ])  # fmt: skip
    ra, rb = (r["id"] for r in link["routes"])
    # a German desktop: neither route takes it → the link's fallback, recorded as blocked on
    # the first route that refused it (offer a: its offer's targeting), never paid
    r = await visit(service, link["code"], _de(1))
    assert r.headers["location"] == FALLBACK
    [e] = await stream_events(redis, netdbs, 1)
    assert (e["offer_id"], e["route"], e["cls"], e["rule"]) == (
        a["id"],
        ra,
        "blocked",
        f"route#{ra}:country",
    )
    assert host(await visit(service, link["code"], "10.3.0.1")) == "fa.example"
    assert host(await visit(service, link["code"], _de(2), IPHONE)) == "fb.example"
    # no fallback URL on the link: the instance's, else a 404 page
    plain = await smart_link(api, aff, [{"offer_id": b["id"], "targeting": {
        "os": {"allow": ["ios"]}}}], fallback_url=None)  # fmt: skip
    assert plain["fallback_url"] is None
    r = await visit(service, plain["code"], _de(3))
    assert r.status_code == 404 and "location" not in r.headers
    events = await stream_events(redis, netdbs, 4)
    assert [x["rule"] for x in events if x["link_code"] == plain["code"]] == [
        f"route#{plain['routes'][0]['id']}:os"
    ]
    del rb


async def test_instance_fallback_when_the_link_has_none(
    netdbs: Settings, api: httpx.AsyncClient
) -> None:
    """TRACKER_FALLBACK_URL is the chain's next step (its own service: settings differ)."""
    from service.compose import build_app
    from tests.servers import free_port, run_server

    netdbs.fallback_url = "https://network.example/more?aff={aff_id}"
    b = await offer(api, "ib", status="paused")
    aff = await partner(api)
    link = await smart_link(api, aff, [{"offer_id": b["id"]}], fallback_url=None)
    port = free_port()
    netdbs.port = port
    assert netdbs.database_url and netdbs.redis_url
    app = build_app(netdbs, netdbs.database_url, netdbs.redis_url, with_worker=False)
    async with run_server(app, port) as url:
        r = await visit(url, link["code"], _de(1))
        assert r.headers["location"] == f"https://network.example/more?aff={aff}"


async def test_route_caps_hold_under_a_burst_and_count_only_paid_clicks(
    netdbs: Settings, service: str, api: httpx.AsyncClient, redis: Redis
) -> None:
    a, b = await offer(api, "ca"), await offer(api, "cb")
    aff = await partner(api)
    link = await smart_link(api, aff, [
        {"offer_id": a["id"], "priority": 1, "daily_click_cap": 3},
        {"offer_id": b["id"], "priority": 2},
    ])  # fmt: skip
    code = link["code"]
    for i in range(3):  # bots take no place
        assert host(await visit(service, code, _de(100 + i), GOOGLEBOT)) == "ca.example"
    burst = await asyncio.gather(*(visit(service, code, _de(i)) for i in range(12)))
    hosts = Counter(host(r) for r in burst)
    assert hosts == {"ca.example": 3, "cb.example": 9}, hosts
    # the route is full: a bot now follows its last known state, without a reservation
    assert host(await visit(service, code, _de(200), GOOGLEBOT)) == "cb.example"
    # raising the cap opens the route again (live)
    r = await api.patch(f"/api/v1/smart-links/{link['id']}/routes/{link['routes'][0]['id']}",
                        json={"daily_click_cap": 5})  # fmt: skip
    assert r.status_code == 200 and r.json()["daily_click_cap"] == 5

    async def reopened() -> bool:
        return host(await visit(service, code, _de(300))) == "ca.example"

    await within(2.0, reopened)
    for _ in range(40):  # the last click may still be in the sink's batch
        events = await stream_events(redis, netdbs, 17)
        paid_a = [e for e in events if e["offer_id"] == a["id"] and e["cls"] == "human"]
        if len(paid_a) >= 4:
            break
        await asyncio.sleep(0.05)
    assert len(paid_a) == 4


async def test_a_route_to_another_smart_link_and_the_outer_link_is_the_click(
    netdbs: Settings, service: str, api: httpx.AsyncClient, redis: Redis
) -> None:
    a, b = await offer(api, "na"), await offer(api, "nb")
    aff = await partner(api)
    inner = await smart_link(api, aff, [
        {"offer_id": a["id"], "targeting": {"countries": {"allow": ["DE"]}}},
    ])  # fmt: skip
    outer = await smart_link(api, aff, [
        {"smart_link_id": inner["id"], "priority": 1},
        {"offer_id": b["id"], "priority": 2},
    ])  # fmt: skip
    assert host(await visit(service, outer["code"], _de(1))) == "na.example"
    assert host(await visit(service, outer["code"], "10.3.0.9")) == "nb.example"
    events = sorted(await stream_events(redis, netdbs, 2), key=lambda e: e["offer_id"])
    assert [(e["link_code"], e["route"]) for e in events] == [
        (outer["code"], inner["routes"][0]["id"]),
        (outer["code"], outer["routes"][1]["id"]),
    ]
    # an impression of the smart link counts for the visitor's route
    r = await visit(service, outer["code"], _de(1), path="i")
    assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
    events = await stream_events(redis, netdbs, 3)
    [imp] = [e for e in events if e["kind"] == "impression"]
    assert (imp["offer_id"], imp["route"]) == (a["id"], inner["routes"][0]["id"])


async def test_archived_or_paused_smart_link_answers_like_a_link(
    netdbs: Settings, service: str, api: httpx.AsyncClient, redis: Redis
) -> None:
    a = await offer(api, "pa")
    link = await smart_link(api, await partner(api), [{"offer_id": a["id"]}])
    assert host(await visit(service, link["code"], _de(1))) == "pa.example"
    r = await api.patch(f"/api/v1/smart-links/{link['id']}", json={"status": "paused"})
    assert r.status_code == 200, r.text

    async def off() -> bool:
        return (await visit(service, link["code"], _de(1))).headers.get("location") == FALLBACK

    await within(2.0, off)
    await asyncio.sleep(0.1)  # the batch of the probes' clicks before the pause applied
    before = len(await stream_events(redis, netdbs, 1))
    for i in range(3):
        r = await visit(service, link["code"], _de(10 + i))
        assert r.headers["location"] == FALLBACK
    await asyncio.sleep(0.1)
    assert len(await stream_events(redis, netdbs, 1)) == before  # a paused link records none
