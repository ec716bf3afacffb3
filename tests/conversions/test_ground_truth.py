"""Ground truth: a generated scenario whose expected conversions are computed by this test.

5,000+ clicks (real redirects, plus clicks written to the click stream with times in the
past), 1,000+ postbacks over several partners, offers, goals, promo codes, a partner
override, monthly tiers, caps, currencies, duplicates, postbacks before and after their
click reached Postgres, reversals, fraud in enforce and shadow mode, first-click, and a
local-midnight boundary (America/New_York) for day caps and month tiers. The model
(ground_truth_model.py) is written from the rules as documented (docs/adr/0031-0033, 0080),
not from the code; every conversion and the report totals must match it to the cent.

The scenario's steps (ground_truth_scenario.py) and the comparisons below are named
functions, run in order by the one test: a failure names the step it happened in.
"""

from __future__ import annotations

import os
import random
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from schemas.reports import STATUSES
from tests.conversions.conftest import burst
from tests.conversions.ground_truth_model import NY, D
from tests.conversions.ground_truth_scenario import BOUNDARY, NAMES, Scenario
from tests.conversions.money import assert_rollup_exact
from tracker.settings import Settings


async def test_ground_truth(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    s = Scenario(settings, service, api, pool, redis,
                 random.Random(int(os.environ.get("GROUND_TRUTH_SEED", "5"))))  # fmt: skip
    await s.make_world()
    await s.set_rules()
    await s.past_clicks()
    async with s.merchant():
        await s.early_postbacks()
        await s.more_clicks()
        await s.late_postbacks()
        await s.time_zone_boundary()
        await s.reversals_and_approvals()
    await burst(settings)
    assert s.sent >= 1_000, s.sent

    await every_conversion_is_the_models(s)
    await another_advertisers_postbacks_took_nothing(s)
    await the_reports_add_up(s)
    await assert_rollup_exact(pool, list(s.OFF.values()))  # every status's money, exact


async def every_conversion_is_the_models(s: Scenario) -> None:
    """Status, reason, partner, offer, payout and revenue of each, to the cent."""
    got: dict[str, dict[str, Any]] = {}
    after = None
    for _ in range(100):  # bounded: pages of 1,000
        params: dict[str, Any] = {"advertiser_id": s.adv["id"], "limit": 1000}
        if after:
            params["after"] = after
        page = (await s.api.get("/api/v1/conversions", params=params)).json()
        got.update({c["conversion_id"]: c for c in page["items"]})
        after = page["next_after"]
        if not after:
            break
    assert len(got) == len(s.model.conv)
    oid = {v: k for k, v in s.OFF.items()}
    mismatches = []
    for key, e in s.model.conv.items():
        c = got[s.ids[key]]
        want = (e.status, e.reason, e.partner, e.offer, e.payout, e.revenue)
        have = (c["status"], c["status_reason"],
                s.P.index(c["affiliate_id"]) if c["affiliate_id"] else None,
                oid.get(c["offer_id"]), D(c["payout"]), D(c["revenue"]))  # fmt: skip
        if want != have:
            mismatches.append((key, want, have, c["decision"]))
    assert not mismatches, mismatches[:5]
    seen = {(e.offer, e.status, e.reason) for e in s.model.conv.values()}
    assert {("capped", "rejected", "cap"), ("capped", "held", "no_rate"), ("tz", "rejected", "cap"),
            ("shop", "rejected", "duplicate_goal"), ("subs", "rejected", "recurring_limit"),
            ("fraud", "rejected", "fraud:ctc_too_short"), (None, "rejected", "no_click"),
            (None, "rejected", "outside_window"), ("shop", "pending", None)} <= seen  # fmt: skip
    assert sum(e.status == "reversed" for e in s.model.conv.values()) >= 40


async def another_advertisers_postbacks_took_nothing(s: Scenario) -> None:
    other = await s.pool.fetch(
        "SELECT status, status_reason FROM conversions WHERE advertiser_id = $1",
        s.w2["advertiser"]["id"],
    )
    assert [(r["status"], r["status_reason"]) for r in other] == [
        ("rejected", "other_advertiser")
    ] * 5


async def the_reports_add_up(s: Scenario) -> None:
    """By offer in three zones (each status's count and money apart), and by day in New
    York, where the boundary conversions fall on two local days."""
    span = {"from": "2026-02-01T00:00:00Z",
            "to": (s.now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:00:00Z")}  # fmt: skip
    conv = s.model.conv.values()
    for tz in ("UTC", NY, "Asia/Kolkata"):
        rep = (
            await s.api.get("/api/v1/reports", params={"group_by": "offer", "tz": tz, **span})
        ).json()
        # offers in several currencies: the report is split by currency (an offer has one)
        assert rep["currency"] is None and rep["group_by"] == ["offer", "currency"]
        rows_by = {r["group"]["offer"]: r for r in rep["rows"]}
        for name in NAMES:
            mine = [e for e in conv if e.offer == name and e.status in ("pending", "approved")]
            row = rows_by.get(
                s.OFF[name], {"conversions": 0, "payout": "0", "revenue": "0", "unique_clicks": 0}
            )
            pay, rev = sum((e.payout for e in mine), D(0)), sum((e.revenue for e in mine), D(0))
            if name == "shop" and rep["source"] == "rollup":  # CPC accrues into the rollup
                pay += D("0.05") * row["unique_clicks"]
                rev += D("0.08") * row["unique_clicks"]
            have = (row["conversions"], D(row["payout"]), D(row["revenue"]))
            assert have == (len(mine), pay, rev), (tz, name)
            for st in STATUSES:  # each status's count and money apart (held never pending)
                of = [e for e in conv if e.offer == name and e.status == st]
                have = (row.get(st, 0), D(row.get(f"{st}_payout", "0")),
                        D(row.get(f"{st}_revenue", "0")))  # fmt: skip
                assert have == (len(of), sum((e.payout for e in of), D(0)),
                                sum((e.revenue for e in of), D(0))), (tz, name, st)  # fmt: skip
        assert rows_by[s.OFF["shop"]]["unique_clicks"] == 600 + 4 * 140 + 80 + 20 + 5
    days = (await s.api.get("/api/v1/reports", params={"group_by": "day", "tz": NY, **span})).json()
    by_day: dict[str, int] = {}
    for r in days["rows"]:  # split by currency: the day's rows, the counts added
        by_day[r["group"]["day"]] = by_day.get(r["group"]["day"], 0) + r["conversions"]
    tz_feb = [e for e in conv
              if e.offer == "tz" and e.at and e.at < BOUNDARY and e.status == "approved"]  # fmt: skip
    assert len(tz_feb) == 5 and by_day["2026-02-28"] >= 5
