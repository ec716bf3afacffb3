"""Rules changed through the API after they were created: a cap's limit raised and the
cap archived, a payout tier ended and followed by its successor, revenue rules
scheduled from a date — each seen by the real worker on the next conversions, and
never on the ones already priced."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import orjson
from redis.asyncio import Redis

from tests.conversions.conftest import burst, make, world
from tests.conversions.ground_truth_model import uuid7_at
from tracker import redis_keys
from tracker.api.routes.incoming_postbacks import conversion_id
from tracker.settings import Settings

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


async def _click(settings: Settings, redis: Redis, w: dict[str, Any], offer: dict[str, Any],
                 rng: random.Random, partner: int = 0) -> str:  # fmt: skip
    aff = w["affiliates"][partner]
    link = w["links"][(offer["id"], aff["id"])]
    cid = str(uuid7_at(T0 - timedelta(hours=1), rng))
    row = {"click_id": cid, "ts": (T0 - timedelta(hours=1)).timestamp(), "link_id": link["id"],
           "link_code": link["code"], "offer_id": offer["id"], "aff_id": aff["id"],
           "ip": "127.0.0.1", "ua": "rules"}  # fmt: skip
    await redis.xadd(
        redis_keys.of(settings).click_streams()[0], {"v": "1", "clicks": orjson.dumps([row])}
    )
    return cid


async def _convert(settings: Settings, redis: Redis, adv: int, cid: str, txns: list[str],
                   days: list[float]) -> None:  # fmt: skip
    for txn, d in zip(txns, days, strict=True):
        ev = {"conversion_id": str(conversion_id(adv, "default", txn)), "advertiser_id": adv,
              "ts": (T0 + timedelta(days=d)).timestamp(), "click_id": cid, "goal": "default",
              "txn_id": txn, "currency_default": True}  # fmt: skip
        await redis.xadd(
            redis_keys.of(settings).conversion_streams()[0], {"conversion": orjson.dumps(ev)}
        )
    await burst(settings)


async def _decided(pool: asyncpg.Pool, adv: int) -> dict[str, tuple[str, str | None, str, str]]:
    rows = await pool.fetch(
        "SELECT txn_id, status, status_reason, payout::text, decision->>'payout_rule' AS rule"
        " FROM conversions WHERE advertiser_id = $1",
        adv,
    )
    return {r["txn_id"]: (r["status"], r["status_reason"], r["payout"], r["rule"]) for r in rows}


async def test_cap_limit_changed_then_cap_archived(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    rng = random.Random(11)
    w = await world(api)
    adv, offer = w["advertiser"]["id"], w["offers"][0]
    base = f"/api/v1/offers/{offer['id']}/caps"
    cap = await make(api, base, {"period": "total", "limit": "1"})
    cid = await _click(settings, redis, w, offer, rng)
    await burst(settings)
    await _convert(settings, redis, adv, cid, ["a1", "a2"], [0, 0.1])
    raised = await make(api, f"{base}/{cap['id']}", {"limit": "2"}, "PATCH")
    assert raised["limit"] == "2.0000" and raised["updated_at"] is not None
    await _convert(settings, redis, adv, cid, ["b1", "b2"], [0.2, 0.3])
    gone = await make(api, f"{base}/{cap['id']}/archive", {})
    assert gone["archived_at"] is not None and gone["limit"] == "2.0000"
    await _convert(settings, redis, adv, cid, ["c1", "c2"], [0.4, 0.5])
    got = {t: v[:2] for t, v in (await _decided(pool, adv)).items()}
    assert got == {
        "a1": ("approved", None), "a2": ("rejected", "cap"),  # limit 1
        "b1": ("approved", None), "b2": ("rejected", "cap"),  # raised to 2: one more
        "c1": ("approved", None), "c2": ("approved", None),  # archived: no cap
    }  # fmt: skip
    # An archived cap is listed, refuses a new limit, and archiving again keeps the time.
    listed = (await api.get(base)).json()["items"]
    assert [c["archived_at"] for c in listed] == [gone["archived_at"]]
    assert (await api.get(base, params={"archived": "false"})).json()["items"] == []
    refused = await api.patch(f"{base}/{cap['id']}", json={"limit": "9"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "archived"
    again = await make(api, f"{base}/{cap['id']}/archive", {})
    assert again["archived_at"] == gone["archived_at"]


async def test_tier_ended_then_successor(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    rng = random.Random(12)
    w = await world(api, payout="2.50")
    adv, offer = w["advertiser"]["id"], w["offers"][0]
    base = f"/api/v1/offers/{offer['id']}/payout-tiers"
    tier = await make(api, base, {"threshold": "1", "payout_flat": "9"})
    ends = T0 + timedelta(days=2)
    ended = await make(api, f"{base}/{tier['id']}", {"ends": ends.isoformat()}, "PATCH")
    assert ended["valid_to"] is not None and ended["valid_from"] is None
    nxt = await make(api, base, {"threshold": "1", "payout_flat": "7",
                                 "valid_from": (T0 + timedelta(days=4)).isoformat()})  # fmt: skip
    cid = await _click(settings, redis, w, offer, rng)
    await burst(settings)
    # Day 0: no approved conversion before it this month; day 1: tier reached;
    # day 3: the tier has ended and its successor has not begun; day 5: the successor.
    await _convert(settings, redis, adv, cid, ["d0", "d1", "d3", "d5"], [0, 1, 3, 5])
    got = {t: v[2:] for t, v in (await _decided(pool, adv)).items()}
    assert got == {
        "d0": ("2.5000", "offer_default (cpa)"), "d1": ("9.0000", f"tier:{tier['id']} (cpa)"),
        "d3": ("2.5000", "offer_default (cpa)"), "d5": ("7.0000", f"tier:{nxt['id']} (cpa)"),
    }  # fmt: skip
    listed = (await api.get(base)).json()["items"]
    assert [(t["id"], t["valid_to"] is not None) for t in listed] == [
        (tier["id"], True),
        (nxt["id"], False),
    ]
    # valid_at: the tier that applies at an instant (ends exclusive), none in the gap
    at = {d: [t["id"] for t in (await api.get(base, params={
        "valid_at": (T0 + timedelta(days=d)).isoformat()})).json()["items"]]
        for d in (1, 2, 3, 4)}  # fmt: skip
    assert at == {1: [tier["id"]], 2: [], 3: [], 4: [nxt["id"]]}
    early = await api.patch(f"{base}/{nxt['id']}", json={"ends": T0.isoformat()})
    assert early.status_code == 422 and early.json()["error"]["field"] == "ends"
    backwards = await api.post(base, json={"threshold": "1", "valid_from": ends.isoformat(),
                                           "valid_to": T0.isoformat()})  # fmt: skip
    assert backwards.status_code == 422 and backwards.json()["error"]["field"] == "valid_from"
    other = await api.patch(f"/api/v1/offers/{offer['id'] + 1000}/payout-tiers/{tier['id']}",
                            json={"ends": ends.isoformat()})  # fmt: skip
    assert other.status_code == 404


async def test_revenue_rules_from_a_date_per_partner(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    rng = random.Random(13)
    w = await world(api, partners=2, revenue="4.00")
    adv, offer = w["advertiser"]["id"], w["offers"][0]
    b = w["affiliates"][1]["id"]
    base = f"/api/v1/offers/{offer['id']}/revenue-rules"
    day = {d: (T0 + timedelta(days=d)).isoformat() for d in range(6)}
    every = await make(api, base, {"revenue_flat": "5", "valid_from": day[2]})
    only_b = await make(api, base, {"affiliate_id": b, "revenue_flat": "6",
                                    "valid_from": day[2], "valid_to": day[4]})  # fmt: skip
    goal_rule = await make(api, base, {"goal": "other", "revenue_flat": "9"})  # never this goal
    ca, cb = [await _click(settings, redis, w, offer, rng, p) for p in (0, 1)]
    await burst(settings)
    await _convert(settings, redis, adv, ca, ["a1", "a3"], [1, 3])
    await _convert(settings, redis, adv, cb, ["b1", "b3", "b5"], [1, 3, 5])
    rows = await pool.fetch("SELECT txn_id, revenue, decision->>'revenue_rule' AS rule"
                            " FROM conversions WHERE advertiser_id = $1", adv)  # fmt: skip
    got = {r["txn_id"]: (r["revenue"], r["rule"]) for r in rows}
    assert got == {
        "a1": (Decimal(4), "offer_default (cpa)"),  # before any rule
        "a3": (Decimal(5), f"revenue_rule:{every['id']} (cpa)"),
        "b1": (Decimal(4), "offer_default (cpa)"),
        "b3": (Decimal(6), f"revenue_rule:{only_b['id']} (cpa)"),  # the partner's own first
        "b5": (Decimal(5), f"revenue_rule:{every['id']} (cpa)"),  # its own ended at day 4
    }, got
    listed = (await api.get(base, params={"affiliate_id": b})).json()["items"]
    assert [r["id"] for r in listed] == [only_b["id"]]
    at = (await api.get(base, params={"valid_at": day[3]})).json()["items"]
    assert [r["id"] for r in at] == [every["id"], only_b["id"], goal_rule["id"]]
    early = await api.patch(f"{base}/{every['id']}", json={"ends": day[1]})
    assert early.status_code == 422 and early.json()["error"]["field"] == "ends"
    ended = await make(api, f"{base}/{every['id']}", {"ends": day[5]}, "PATCH")
    assert ended["valid_to"] is not None
    assert (await api.get(f"{base}/{every['id']}")).json() == ended
    stranger = await api.post(base, json={"affiliate_id": 999_999_999, "revenue_flat": "1"})
    assert stranger.status_code == 422 and stranger.json()["error"]["field"] == "affiliate_id"
