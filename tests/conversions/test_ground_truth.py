"""Ground truth: a generated scenario whose expected conversions are computed by this test.

5,000+ clicks (real redirects, plus clicks written to the click stream with times in the
past), 1,000+ postbacks over several partners, offers, goals, promo codes, a partner
override, monthly tiers, caps, currencies, duplicates, postbacks before and after their
click reached Postgres, reversals, fraud in enforce and shadow mode, first-click, and a
local-midnight boundary (America/New_York) for day caps and month tiers. The model
(ground_truth_model.py) is written from the rules as documented (docs/adr/0031-0033), not from the code; every
conversion and the report totals must match it to the cent.
"""

from __future__ import annotations

import asyncio
import os
import random
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import orjson
from redis.asyncio import Redis

from schemas.reports import STATUSES
from tests.conversions.conftest import burst, clicks, make, world
from tests.conversions.ground_truth_model import NY, Click, D, Expect, Model, cents, uuid7_at
from tests.conversions.money import assert_rollup_exact
from tracker import redis_keys
from tracker.settings import Settings


async def _inject_clicks(redis: Redis, settings: Settings, rows: list[dict[str, Any]]) -> None:
    stream = redis_keys.of(settings).click_streams()[0]
    for i in range(0, len(rows), 200):
        await redis.xadd(stream, {"v": "1", "clicks": orjson.dumps(rows[i : i + 200])})


async def test_ground_truth(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    rng = random.Random(int(os.environ.get("GROUND_TRUTH_SEED", "5")))
    w = await world(api, partners=4, offers=7, currencies=["USD", "USD", "EUR"] + ["USD"] * 4)
    w2 = await world(api)  # another advertiser: its postbacks may not take our clicks
    adv, tok = w["advertiser"], w["advertiser"]["postback_token"]
    P = [a["id"] for a in w["affiliates"]]
    names = ["shop", "subs", "capped", "tz", "fraud", "shadow", "first"]
    OFF = {n: o["id"] for n, o in zip(names, w["offers"], strict=True)}
    link = {(n, p): w["links"][(OFF[n], P[p])] for n in names for p in range(4)}

    async def put(path: str, body: dict[str, Any]) -> Any:
        return await make(api, path, body, "PUT")

    # -- rules -----------------------------------------------------------------------------
    now = datetime.now(UTC)
    await put(f"/api/v1/offers/{OFF['shop']}/conversion-settings",
              {"cpc_payout": "0.05", "cpc_revenue": "0.08"})  # fmt: skip
    await put(f"/api/v1/offers/{OFF['shop']}/goals/sale",
              {"multiple": True, "payout_percent": "10", "revenue_percent": "15"})  # fmt: skip
    await put(
        f"/api/v1/offers/{OFF['shop']}/goals/lead", {"payout_flat": "1.50", "revenue_flat": "2"}
    )
    await make(api, f"/api/v1/offers/{OFF['shop']}/payout-overrides",
               {"affiliate_id": P[1], "goal": "sale", "payout_percent": "12",
                "valid_from": (now - timedelta(days=1)).isoformat()})  # fmt: skip
    await make(
        api,
        f"/api/v1/offers/{OFF['shop']}/payout-overrides",
        {
            "affiliate_id": P[0],
            "payout_percent": "50",
            "valid_to": (now - timedelta(days=1)).isoformat(),
        },
    )  # fmt: skip  (expired)
    await make(api, "/api/v1/promo-codes", {"offer_id": OFF["shop"], "affiliate_id": P[2],
               "code": "SAVE10", "payout_flat": "3"})  # fmt: skip
    await make(api, "/api/v1/promo-codes", {"offer_id": OFF["shop"], "affiliate_id": P[3], "code": "OLD",
               "ends_at": (now - timedelta(days=1)).isoformat()})  # fmt: skip
    await put(f"/api/v1/offers/{OFF['subs']}/goals/rebill",
              {"multiple": True, "max_count": 3, "payout_flat": "5", "revenue_flat": "8"})  # fmt: skip
    for threshold, pay in (("10", "6"), ("20", "7")):
        await make(api, f"/api/v1/offers/{OFF['subs']}/payout-tiers",
                   {"metric": "conversions", "threshold": threshold, "payout_flat": pay})  # fmt: skip
    await put(f"/api/v1/offers/{OFF['capped']}/goals/sale",
              {"payout_flat": "1", "payout_percent": "5", "revenue_percent": "8"})  # fmt: skip
    await make(api, f"/api/v1/offers/{OFF['capped']}/caps", {"period": "day", "limit": "40"})
    await make(api, f"/api/v1/offers/{OFF['capped']}/caps",
               {"affiliate_id": P[0], "period": "total", "metric": "payout", "limit": "30"})  # fmt: skip
    await put("/api/v1/currency-rates", {"base": "USD", "quote": "EUR", "rate": "0.9",
              "valid_from": "2020-01-01T00:00:00Z"})  # fmt: skip
    await put(f"/api/v1/offers/{OFF['tz']}/conversion-settings", {"timezone": NY})
    await make(api, f"/api/v1/offers/{OFF['tz']}/caps", {"period": "day", "limit": "5"})
    await make(api, f"/api/v1/offers/{OFF['tz']}/payout-tiers",
               {"metric": "conversions", "threshold": "3", "payout_flat": "4"})  # fmt: skip
    await put(f"/api/v1/offers/{OFF['fraud']}/conversion-settings", {"min_click_seconds": 30})
    await put(f"/api/v1/offers/{OFF['shadow']}/conversion-settings",
              {"min_click_seconds": 30, "fraud_mode": "shadow"})  # fmt: skip
    await put(
        f"/api/v1/offers/{OFF['first']}/conversion-settings", {"attribution_model": "first_click"}
    )
    # Offer defaults from world(): payout 2.50, revenue 4.00 (USD), except "capped" below.
    DEF_PAY, DEF_REV = D("2.50"), D("4.00")

    # -- clicks written with past times: fraud-passing, outside the window, the tz boundary --
    past: dict[str, list[Click]] = {"fraud": [], "shadow": [], "window": [], "tz": []}
    rows: list[dict[str, Any]] = []

    def inject(kind: str, offer: str, partner: int, at: datetime) -> None:
        cid = str(uuid7_at(at, rng))
        ua = f"old-{kind}-{len(rows)}"
        lk = link[(offer, partner)]
        rows.append({"click_id": cid, "ts": at.timestamp(), "link_id": lk["id"], "link_code": lk["code"],
                     "offer_id": OFF[offer], "aff_id": P[partner], "ip": "127.0.0.1", "ua": ua})  # fmt: skip
        past[kind].append(Click(cid, offer, partner, at, ua))

    for i in range(40):
        inject("fraud", "fraud", i % 4, now - timedelta(hours=2, minutes=i))
        inject("shadow", "shadow", i % 4, now - timedelta(hours=2, minutes=i))
    for i in range(5):
        inject("window", "shop", i % 4, now - timedelta(days=40, minutes=i))
    boundary = datetime(2026, 3, 1, 5, 0, tzinfo=UTC)  # local midnight in New York (EST)
    for i in range(20):
        inject("tz", "tz", i % 2, boundary - timedelta(hours=6, minutes=i))
    await _inject_clicks(redis, settings, rows)

    # -- real clicks; some postbacks at once, before the worker has seen their clicks -------
    model = Model()
    ids: dict[tuple[str, str], str] = {}
    sent = 0

    async def pb(
        http: httpx.AsyncClient, params: dict[str, Any], path: str = "/postback"
    ) -> httpx.Response:
        nonlocal sent
        sent += 1
        for attempt in range(3):  # as a merchant would: a postback is safe to repeat
            try:
                r = await http.get(path, params={"token": tok, **params})
                break
            except httpx.TransportError:
                if attempt == 2:
                    raise
        assert r.status_code in (200, 202), r.text
        return r

    sent_params: dict[tuple[str, str], dict[str, Any]] = {}

    async def send(http: httpx.AsyncClient, key: tuple[str, str], params: dict[str, Any]) -> None:
        r = await pb(http, params)
        got = r.json()["conversion_id"]
        assert ids.setdefault(key, got) == got
        sent_params.setdefault(key, params)

    async def real(offer: str, partner: int, n: int, tag: str) -> list[Click]:
        ua = f"{tag}-{offer}-{partner}"
        got = await clicks(service, link[(offer, partner)]["code"], n, ua=ua, concurrency=32)
        t = datetime.now(UTC)
        return [Click(c, offer, partner, t, f"{ua} {i}") for i, c in enumerate(got)]

    early: list[tuple[Click, str, Decimal, str]] = []  # click, goal, amount, status
    async with httpx.AsyncClient(base_url=service, timeout=30,
                                 limits=httpx.Limits(max_connections=32)) as http:  # fmt: skip
        shop: list[Click] = []
        for p in range(4):
            shop += await real("shop", p, 150, "early")
        fraud_now = await real("fraud", 0, 30, "e") + await real("fraud", 1, 30, "e")
        shadow_now = await real("shadow", 2, 30, "e") + await real("shadow", 3, 30, "e")
        for c in shop[:300]:
            early.append(
                (
                    c,
                    "sale",
                    D(rng.randint(100, 99999)) / 100,
                    "pending" if rng.random() < 0.07 else "approved",
                )
            )
        for c in fraud_now + shadow_now:
            early.append((c, "default", D(0), "approved"))

        async def send_early(c: Click, goal: str, amount: Decimal, status: str) -> None:
            params = {"advertiser_id": adv["id"], "click_id": c.id, "goal": goal, "txn_id": f"e-{c.id}",
                      "amount": str(amount), "status": status}  # fmt: skip
            await send(http, (goal, f"e-{c.id}"), params)

        await asyncio.gather(*(send_early(*e) for e in early))
        for c, goal, amount, status in early:  # order-free: no caps, tiers or per-click limits here
            key = (goal, f"e-{c.id}")
            if c.offer == "shop":
                pct = D(12) if c.partner == 1 else D(10)
                model.new(key, Expect(key, c.partner, "shop", status, None, cents(amount * pct / 100),
                                      cents(amount * 15 / 100), [], c))  # fmt: skip
            elif c.offer == "fraud":
                model.new(key, Expect(key, c.partner, "fraud", "rejected", "fraud:ctc_too_short",
                                      DEF_PAY, DEF_REV, [], c))  # fmt: skip
            else:
                model.new(
                    key, Expect(key, c.partner, "shadow", status, None, DEF_PAY, DEF_REV, [], c)
                )
        # Clicks nobody converts on, up to 5,000 and more in all.
        # (written to the click stream as the redirect would: the redirect is not under test)
        filler_rows: list[dict[str, Any]] = []
        for offer in names:
            for p in range(4):
                for i in range(140):
                    at = datetime.now(UTC) - timedelta(seconds=i)
                    lk = link[(offer, p)]
                    filler_rows.append({"click_id": str(uuid7_at(at, rng)), "ts": at.timestamp(),
                                        "link_id": lk["id"], "link_code": lk["code"], "offer_id": OFF[offer],
                                        "aff_id": P[p], "ip": "127.0.0.1", "ua": f"filler-{offer}-{p}-{i}"})  # fmt: skip
        await _inject_clicks(redis, settings, filler_rows)
        filler = len(filler_rows)
        leads = await real("shop", 0, 40, "lead") + await real("shop", 3, 40, "lead")
        coupon_clicks = await real("shop", 0, 20, "cc")
        subs = [c for p in range(4) for c in await real("subs", p, 12, "subs")]
        capped = [c for p in range(4) for c in await real("capped", p, 45, "cap")]
        visitors = []
        for v in range(20):  # the same visitor clicks partner 0's link, then partner 1's
            ua = f"visitor-{v}"
            async with httpx.AsyncClient(base_url=service, timeout=10) as one:
                ids_v = []
                for p in (0, 1):
                    r = await one.get(
                        f"/c/{link[('first', p)]['code']}", headers={"User-Agent": ua}
                    )
                    ids_v.append(r.headers["location"].split("cid=")[1])
            visitors.append(ids_v)
        total_clicks = len(rows) + len(shop) + len(fraud_now) + len(shadow_now) + filler + len(leads) \
            + len(coupon_clicks) + len(subs) + len(capped) + 2 * len(visitors)  # fmt: skip
        assert total_clicks >= 5_000
        await asyncio.sleep(0.1)
        await burst(settings)

        # -- late postbacks, one at a time: the worker sees them in this order --------------
        for c in leads:  # a lead per click; a second lead on some of them is refused
            for n in (1, 2) if rng.random() < 0.25 else (1,):
                key = ("lead", f"l{n}-{c.id}")
                await send(http, key, {"advertiser_id": adv["id"], "click_id": c.id, "goal": "lead",
                                         "txn_id": key[1]})  # fmt: skip
                first = model.goal_count.get(("lead", c.id), 0) == 0
                model.goal_count[("lead", c.id)] = model.goal_count.get(("lead", c.id), 0) + 1
                model.new(key, Expect(key, c.partner, "shop", "approved" if first else "rejected",
                                      None if first else "duplicate_goal", D("1.50") if first else D(0),
                                      D(2) if first else D(0), [], c))  # fmt: skip
        for i in range(30):  # promo code only: partner 2, the code's own payout
            amount = D(rng.randint(1000, 20000)) / 100
            key = ("sale", f"coupon-{i}")
            await send(http, key, {"advertiser_id": adv["id"], "coupon": "save10", "goal": "sale",
                                     "txn_id": key[1], "amount": str(amount)})  # fmt: skip
            model.new(
                key, Expect(key, 2, "shop", "approved", None, D(3), cents(amount * 15 / 100), [])
            )
        for i in range(5):  # an expired code attributes nothing
            key = ("sale", f"old-{i}")
            await send(http, key, {"advertiser_id": adv["id"], "coupon": "OLD", "goal": "sale",
                                     "txn_id": key[1], "amount": "10"})  # fmt: skip
            model.new(key, Expect(key, None, None, "rejected", "no_click", D(0), D(0), []))
        for c in coupon_clicks:  # click and another partner's code: the click wins on this offer
            key = ("sale", f"cc-{c.id}")
            await send(http, key, {"advertiser_id": adv["id"], "click_id": c.id, "coupon": "SAVE10",
                                     "goal": "sale", "txn_id": key[1], "amount": "100"})  # fmt: skip
            model.new(key, Expect(key, 0, "shop", "approved", None, D(10), D(15), [], c))
        for c in past["window"]:
            key = ("sale", f"w-{c.id}")
            await send(http, key, {"advertiser_id": adv["id"], "click_id": c.id, "goal": "sale",
                                     "txn_id": key[1], "amount": "50"})  # fmt: skip
            model.new(key, Expect(key, None, None, "rejected", "outside_window", D(0), D(0), []))
        for c in shop[300:305]:  # another advertiser's postback naming our click
            r = await pb(http, {"advertiser_id": w2["advertiser"]["id"], "click_id": c.id,
                                "token": w2["advertiser"]["postback_token"], "txn_id": f"x-{c.id}"})  # fmt: skip
            assert r.status_code == 202
        for c in subs:  # rebills: at most 3 per click; tiers by approved conversions this month
            for n in range(rng.randint(1, 4)):
                key = ("rebill", f"r{n}-{c.id}")
                await send(http, key, {"advertiser_id": adv["id"], "click_id": c.id, "goal": "rebill",
                                         "txn_id": key[1], "amount": "9.99"})  # fmt: skip
                k = ("rebill", c.id)
                if model.goal_count.get(k, 0) >= 3:
                    model.new(key, Expect(key, c.partner, "subs", "rejected", "recurring_limit",
                                          D(0), D(0), [], c))  # fmt: skip
                    continue
                model.goal_count[k] = model.goal_count.get(k, 0) + 1
                mk = ("subs", c.partner, now.strftime("%Y-%m"))
                before = model.month_approved.get(mk, 0)
                pay = D(7) if before >= 20 else D(6) if before >= 10 else D(5)
                model.month_approved[mk] = before + 1
                model.new(key, Expect(key, c.partner, "subs", "approved", None, pay, D(8), [], c))
        capped_sent: list[tuple[str, str]] = []

        async def send_capped(c: Click, i: int) -> None:
            cur = ("EUR", "USD", "GBP", None)[i % 4]
            amount = D(rng.randint(500, 30000)) / 100
            key = ("sale", f"cap-{c.id}")
            params = {"advertiser_id": adv["id"], "click_id": c.id, "goal": "sale", "txn_id": key[1],
                      "amount": str(amount)}  # fmt: skip
            if cur:
                params["currency"] = cur
            await send(http, key, params)
            capped_sent.append(key)
            if cur == "GBP":  # no rate: held, nothing priced, no cap taken (docs/adr/0080)
                model.new(
                    key, Expect(key, c.partner, "capped", "held", "no_rate", D(0), D(0), [], c)
                )
                return
            eur = (
                (amount * D("0.9")).quantize(D("0.0001"), ROUND_HALF_UP) if cur == "USD" else amount
            )
            pay, rev = cents(1 + eur * 5 / 100), cents(eur * 8 / 100)
            wants = [("capday", D(1), D(40))]
            if c.partner == 0:
                wants.append(("cap-p0", pay, D(30)))
            taken = model._cap_try(wants)
            model.new(key, Expect(key, c.partner, "capped", "approved" if taken else "rejected",
                                  None if taken else "cap", pay, rev, taken or [], c,
                                  wants=wants))  # fmt: skip

        for i, c in enumerate(capped[:150]):
            await send_capped(c, i)
        for c in past["fraud"] + past["shadow"]:  # clicks two hours old: no fraud rule fires
            key = ("default", f"old-{c.id}")
            await send(http, key, {"advertiser_id": adv["id"], "click_id": c.id, "txn_id": key[1]})
            model.new(
                key, Expect(key, c.partner, c.offer, "approved", None, DEF_PAY, DEF_REV, [], c)
            )
        for v in visitors:  # postback names the visitor's last click; first-click pays partner 0
            key = ("default", f"v-{v[1]}")
            await send(http, key, {"advertiser_id": adv["id"], "click_id": v[1], "txn_id": key[1]})
            model.new(key, Expect(key, 0, "first", "approved", None, DEF_PAY, DEF_REV, []))
        repeats = rng.sample(sorted(ids), 100)
        for key in repeats:  # the same postback again: 200, same id, nothing else
            r = await pb(http, sent_params[key])
            assert r.status_code == 200 and r.json()["conversion_id"] == ids[key], (key, r.text)

        # -- the time-zone boundary: conversions with times around midnight in New York -----
        stream = redis_keys.of(settings).conversion_streams()[0]
        from tracker.api.routes.incoming_postbacks import (
            conversion_id,  # the id scheme of the intake
        )

        for i, c in enumerate(sorted(past["tz"], key=lambda c: c.at)):
            at = boundary - timedelta(minutes=100) + timedelta(minutes=10 * i)
            key = ("default", f"tz-{i}")
            cid = conversion_id(adv["id"], "default", key[1])
            ev = {"conversion_id": str(cid), "ts": at.timestamp(), "advertiser_id": adv["id"],
                  "click_id": c.id, "txn_id": key[1], "amount": "20", "currency_default": True}  # fmt: skip
            await redis.xadd(stream, {"conversion": orjson.dumps(ev)})
            ids[key] = str(cid)
            sent += 1
            local = at.astimezone(ZoneInfo(NY))
            tz_wants = [(f"tz-{local:%Y-%m-%d}", D(1), D(5))]
            taken = model._cap_try(tz_wants)
            mk = ("tz", c.partner, f"{local:%Y-%m}")
            before = model.month_approved.get(mk, 0)
            if taken:
                model.month_approved[mk] = before + 1
            pay = D(4) if before >= 3 else DEF_PAY
            model.new(key, Expect(key, c.partner, "tz", "approved" if taken else "rejected",
                                  None if taken else "cap", pay, DEF_REV, taken or [], c, at,
                                  wants=tz_wants))  # fmt: skip
        await burst(settings)

        # -- reversals and approvals by postback; then more capped sales take freed room ----
        candidates = [k for k in sorted(model.conv) if not k[1].startswith("tz-")]
        for key in rng.sample(candidates, 60):
            e = model.conv[key]
            params = {
                "advertiser_id": adv["id"],
                "goal": key[0],
                "txn_id": key[1],
                "status": "refund",
            }
            await pb(http, params)
            model.change(key, "reversed")
        for key in [k for k in sorted(model.conv) if model.conv[k].status == "pending"][:10]:
            await pb(
                http,
                {
                    "advertiser_id": adv["id"],
                    "goal": key[0],
                    "txn_id": key[1],
                    "status": "approved",
                },
            )
            model.change(key, "approved")
        for i, c in enumerate(capped[150:170]):
            await send_capped(c, i)
    await burst(settings)

    assert sent >= 1_000, sent
    # -- compare: every conversion, then the report totals ---------------------------------
    got: dict[str, dict[str, Any]] = {}
    after = None
    while True:
        params: dict[str, Any] = {"advertiser_id": adv["id"], "limit": 1000}
        if after:
            params["after"] = after
        page = (await api.get("/api/v1/conversions", params=params)).json()
        got.update({c["conversion_id"]: c for c in page["items"]})
        after = page["next_after"]
        if not after:
            break
    assert len(got) == len(model.conv)
    oid = {v: k for k, v in OFF.items()}
    mismatches = []
    for key, e in model.conv.items():
        c = got[ids[key]]
        want = (e.status, e.reason, e.partner, e.offer, e.payout, e.revenue)
        have = (c["status"], c["status_reason"], P.index(c["affiliate_id"]) if c["affiliate_id"] else None,
                oid.get(c["offer_id"]), D(c["payout"]), D(c["revenue"]))  # fmt: skip
        if want != have:
            mismatches.append((key, want, have, c["decision"]))
    assert not mismatches, mismatches[:5]
    seen = {(e.offer, e.status, e.reason) for e in model.conv.values()}
    assert {("capped", "rejected", "cap"), ("capped", "held", "no_rate"), ("tz", "rejected", "cap"),
            ("shop", "rejected", "duplicate_goal"), ("subs", "rejected", "recurring_limit"),
            ("fraud", "rejected", "fraud:ctc_too_short"), (None, "rejected", "no_click"),
            (None, "rejected", "outside_window"), ("shop", "pending", None)} <= seen  # fmt: skip
    assert sum(e.status == "reversed" for e in model.conv.values()) >= 40
    other = await pool.fetch("SELECT status, status_reason FROM conversions WHERE advertiser_id = $1",
                             w2["advertiser"]["id"])  # fmt: skip
    assert [(r["status"], r["status_reason"]) for r in other] == [
        ("rejected", "other_advertiser")
    ] * 5

    span = {
        "from": "2026-02-01T00:00:00Z",
        "to": (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:00:00Z"),
    }
    for tz in ("UTC", NY, "Asia/Kolkata"):
        rep = (
            await api.get("/api/v1/reports", params={"group_by": "offer", "tz": tz, **span})
        ).json()
        # offers in several currencies: the report is split by currency (an offer has one)
        assert rep["currency"] is None and rep["group_by"] == ["offer", "currency"]
        rows_by = {r["group"]["offer"]: r for r in rep["rows"]}
        for name in names:
            mine = [
                e
                for e in model.conv.values()
                if e.offer == name and e.status in ("pending", "approved")
            ]
            row = rows_by.get(
                OFF[name], {"conversions": 0, "payout": "0", "revenue": "0", "unique_clicks": 0}
            )
            pay, rev = sum((e.payout for e in mine), D(0)), sum((e.revenue for e in mine), D(0))
            if name == "shop" and rep["source"] == "rollup":  # CPC accrues into the rollup
                pay += D("0.05") * row["unique_clicks"]
                rev += D("0.08") * row["unique_clicks"]
            assert (row["conversions"], D(row["payout"]), D(row["revenue"])) == (
                len(mine),
                pay,
                rev,
            ), (tz, name)
            for st in STATUSES:  # each status's count and money apart (held never pending)
                of = [e for e in model.conv.values() if e.offer == name and e.status == st]
                have = (row.get(st, 0), D(row.get(f"{st}_payout", "0")),
                        D(row.get(f"{st}_revenue", "0")))  # fmt: skip
                assert have == (len(of), sum((e.payout for e in of), D(0)),
                                sum((e.revenue for e in of), D(0))), (tz, name, st)  # fmt: skip
    shop_row = rows_by[OFF["shop"]]
    assert shop_row["unique_clicks"] == 600 + 4 * 140 + 80 + 20 + 5
    # The day report in New York splits the boundary conversions on local days.
    days = (await api.get("/api/v1/reports", params={"group_by": "day", "tz": NY, **span})).json()
    by_day: dict[str, Any] = {}
    for r in days["rows"]:  # split by currency: the day's rows, the counts added
        day = by_day.setdefault(r["group"]["day"], {"conversions": 0})
        day["conversions"] += r["conversions"]
    tz_feb = [
        e
        for e in model.conv.values()
        if e.offer == "tz" and e.at and e.at < boundary and e.status == "approved"
    ]
    assert len(tz_feb) == 5 and by_day["2026-02-28"]["conversions"] >= 5
    await assert_rollup_exact(pool, list(OFF.values()))  # every status's money, exact
