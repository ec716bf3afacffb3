"""Recurring goals limited in months, and a cap that holds conversions pending."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import orjson
from redis.asyncio import Redis

from tests.conversions.conftest import burst, make, world
from tests.conversions.ground_truth_model import uuid7_at
from tracker import redis_keys
from tracker.api.routes.incoming_postbacks import conversion_id
from tracker.settings import Settings
from tracker.store.conversion_gates import months_later as _months_later


def test_months_later_keeps_the_day_or_the_month_end() -> None:
    t = datetime(2026, 1, 31, 10, tzinfo=UTC)
    assert _months_later(t, 1) == datetime(2026, 2, 28, 10, tzinfo=UTC)
    assert _months_later(t, 13) == datetime(2027, 2, 28, 10, tzinfo=UTC)
    assert _months_later(datetime(2027, 12, 15, tzinfo=UTC), 2) == datetime(2028, 2, 15, tzinfo=UTC)


async def test_recurring_goal_limited_in_months_and_cap_that_holds(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    rng = random.Random(3)
    w = await world(api, partners=1, offers=2)
    adv, aff = w["advertiser"], w["affiliates"][0]
    subs, held = w["offers"]
    await make(
        api,
        f"/api/v1/offers/{subs['id']}/conversion-settings",
        {"attribution_window_days": 365},
        "PUT",
    )
    await make(api, f"/api/v1/offers/{subs['id']}/goals/rebill",
               {"multiple": True, "max_months": 2, "payout_flat": "3"}, "PUT")  # fmt: skip
    await make(
        api, f"/api/v1/offers/{held['id']}/conversion-settings", {"cap_action": "pending"}, "PUT"
    )
    await make(api, f"/api/v1/offers/{held['id']}/caps", {"period": "total", "limit": "1"})
    t0 = datetime(2026, 1, 10, 12, tzinfo=UTC)
    click_rows, convs = [], []
    for offer, goal, times in ((subs, "rebill", [0, 31, 58, 59, 70]), (held, "default", [1, 2])):
        at = t0 - timedelta(hours=1)
        cid = str(uuid7_at(at, rng))
        link = w["links"][(offer["id"], aff["id"])]
        click_rows.append({"click_id": cid, "ts": at.timestamp(), "link_id": link["id"], "link_code": link["code"],
                           "offer_id": offer["id"], "aff_id": aff["id"], "ip": "127.0.0.1", "ua": goal})  # fmt: skip
        for i, days in enumerate(times):
            convs.append({"conversion_id": str(conversion_id(adv["id"], goal, f"{goal}-{i}")),
                          "ts": (t0 + timedelta(days=days)).timestamp(), "advertiser_id": adv["id"],
                          "click_id": cid, "goal": goal, "txn_id": f"{goal}-{i}", "currency_default": True})  # fmt: skip
    await redis.xadd(
        redis_keys.of(settings).click_streams()[0], {"v": "1", "clicks": orjson.dumps(click_rows)}
    )
    await burst(settings)
    for ev in convs:
        await redis.xadd(
            redis_keys.of(settings).conversion_streams()[0], {"conversion": orjson.dumps(ev)}
        )
    await burst(settings)
    rows = await pool.fetch("SELECT txn_id, status, status_reason, payout FROM conversions"
                            " WHERE advertiser_id = $1 ORDER BY created_at", adv["id"])  # fmt: skip
    # First rebill Jan 10 12:00: two months end Mar 10 12:00 (day 58 is inside, day 59 is not).
    assert [(r["txn_id"], r["status"], r["status_reason"]) for r in rows] == [
        ("rebill-0", "approved", None), ("default-0", "approved", None), ("default-1", "held", "cap"),
        ("rebill-1", "approved", None), ("rebill-2", "approved", None),
        ("rebill-3", "rejected", "recurring_limit"), ("rebill-4", "rejected", "recurring_limit"),
    ]  # fmt: skip
