"""Offer targeting on the real redirect (issue 20): each rule kind takes the visitors it
names and sends the others to the offer's fallback, recorded as a ``blocked`` click with
the reason (never paid); a change applies live within 2 s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from redis.asyncio import Redis

from tests.redirect.helpers import CHROME, make_link, stream_events
from tests.redirect.routing_world import (
    FALLBACK,
    FIREFOX_LINUX,
    IPHONE,
    host,
    netdbs,
    offer,
    visit,
    within,
)
from tracker.settings import Settings

__all__ = ["netdbs"]

# (name, targeting, (ip, agent, language) taken, (ip, agent, language) refused, reason)
Visit = tuple[str, str, str]
DE, FR, US_DC, NOWHERE = "10.2.0.1", "10.3.0.1", "10.1.0.1", "10.9.9.9"
CASES: list[tuple[str, dict[str, Any], Visit, Visit, str]] = [
    ("country allow", {"countries": {"allow": ["DE", "IN"]}}, (DE, CHROME, ""),
     (FR, CHROME, ""), "country"),
    ("country deny", {"countries": {"deny": ["FR"]}}, (DE, CHROME, ""), (FR, CHROME, ""),
     "country"),
    ("unknown country fails an allow list", {"countries": {"allow": ["DE"]}},
     (DE, CHROME, ""), (NOWHERE, CHROME, ""), "country"),
    ("region", {"regions": {"allow": ["US-CA", "FR-IDF"]}}, (FR, CHROME, ""),
     (DE, CHROME, ""), "region"),
    ("device", {"devices": {"allow": ["mobile", "tablet"]}}, (DE, IPHONE, ""),
     (DE, CHROME, ""), "device"),
    ("os", {"os": {"allow": ["ios", "android"]}}, (DE, IPHONE, ""), (DE, FIREFOX_LINUX, ""),
     "os"),
    ("browser", {"browsers": {"deny": ["firefox"]}}, (DE, CHROME, ""),
     (DE, FIREFOX_LINUX, ""), "browser"),
    ("language", {"languages": {"allow": ["de"]}}, (FR, CHROME, "de-CH,de;q=0.9,en;q=0.5"),
     (DE, CHROME, "en-US,en;q=0.9,de;q=0.8"), "language"),
    ("datacenter deny", {"datacenter": "deny"}, (DE, CHROME, ""), (US_DC, CHROME, ""),
     "datacenter"),
    ("datacenter only", {"datacenter": "only"}, (US_DC, CHROME, ""), (DE, CHROME, ""),
     "datacenter"),
    ("two dimensions", {"countries": {"allow": ["DE"]}, "devices": {"allow": ["desktop"]}},
     (DE, CHROME, ""), (DE, IPHONE, ""), "device"),
]  # fmt: skip


def _schedule(open_now: bool) -> dict[str, Any]:
    """Open in the current and next local hour of Kolkata (a +05:30 zone), or in every
    other hour: either way the answer cannot change while the test runs."""
    now = datetime.now(UTC).astimezone(ZoneInfo("Asia/Kolkata"))
    near = {now.hour, (now + timedelta(hours=1)).hour}
    hours = sorted(near) if open_now else [h for h in range(24) if h not in near]
    return {"schedule": {"time_zone": "Asia/Kolkata", "hours": hours}}


async def test_each_rule_kind_takes_its_visitors_and_records_the_others(
    netdbs: Settings, service: str, api: httpx.AsyncClient, redis: Redis
) -> None:
    cases = [*CASES,
             ("schedule open", _schedule(True), (DE, CHROME, ""), None, ""),
             ("schedule closed", _schedule(False), None, (DE, CHROME, ""), "schedule")]  # fmt: skip
    ids = []
    for n, (name, targeting, taken, refused, _) in enumerate(cases):
        o = await offer(api, f"t{n}", targeting=targeting)
        assert o["targeting"] is not None, name
        ids.append(o["id"])
        code = (await make_link(api, o))["code"]
        if taken is not None:
            ip, ua, lang = taken
            r = await visit(service, code, ip, ua, lang=lang)
            assert host(r) == f"t{n}.example", f"{name}: {r.headers.get('location')}"
        if refused is not None:
            ip, ua, lang = refused
            r = await visit(service, code, ip, ua, lang=lang)
            assert r.headers.get("location") == FALLBACK, f"{name}: {r.headers.get('location')}"
    events = await stream_events(redis, netdbs, sum((c[2] is not None) + (c[3] is not None)
                                                    for c in cases))  # fmt: skip
    by_offer: dict[int, list[dict[str, Any]]] = {}
    for e in events:
        by_offer.setdefault(e["offer_id"], []).append(e)
    assert set(by_offer) == set(ids)
    for (name, _, taken, refused, reason), offer_id in zip(cases, ids, strict=True):
        classes = sorted((e["cls"], e["rule"]) for e in by_offer[offer_id])
        want = sorted([("human", "")] * (taken is not None)
                      + [("blocked", f"targeting:{reason}")] * (refused is not None))  # fmt: skip
        assert classes == want, (name, classes)


async def test_a_targeting_change_applies_within_two_seconds(
    netdbs: Settings, service: str, api: httpx.AsyncClient, redis: Redis
) -> None:
    o = await offer(api, "live")
    code = (await make_link(api, o))["code"]
    assert host(await visit(service, code, FR)) == "live.example"
    r = await api.patch(f"/api/v1/offers/{o['id']}",
                        json={"targeting": {"countries": {"allow": ["DE"]}}})  # fmt: skip
    assert r.status_code == 200, r.text

    async def refused() -> bool:
        return (await visit(service, code, FR)).headers.get("location") == FALLBACK

    took = await within(2.0, refused)
    assert host(await visit(service, code, DE)) == "live.example"
    r = await api.patch(f"/api/v1/offers/{o['id']}", json={"targeting": None})
    assert r.status_code == 200 and r.json()["targeting"] is None, r.text

    async def taken() -> bool:
        return (
            (await visit(service, code, FR))
            .headers.get("location", "")
            .startswith("https://live.example/")
        )

    took = max(took, await within(2.0, taken))
    print(f"targeting change live after {took:.2f} s")


async def test_a_paused_offer_is_not_recorded_even_when_not_targeted(
    netdbs: Settings, service: str, api: httpx.AsyncClient, redis: Redis
) -> None:
    """Not running wins over not targeted: nothing is recorded (as before issue 20)."""
    o = await offer(api, "paused", status="paused", targeting={"countries": {"allow": ["DE"]}})
    code = (await make_link(api, o))["code"]
    assert (await visit(service, code, FR)).headers["location"] == FALLBACK
    assert (await visit(service, code, DE)).headers["location"] == FALLBACK
    assert await stream_events(redis, netdbs, 0) == []
