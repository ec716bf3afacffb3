"""The ground-truth scenario (tests/conversions/test_ground_truth.py), step by step.

Each step is a method, run in order by the test; what a step makes (clicks, postbacks
sent, the model's expected conversions) is kept on the scenario for the next steps and
for the comparison. The model (ground_truth_model.py) is written from the rules as
documented (docs/adr/0031-0033, 0080), not from the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import orjson
from redis.asyncio import Redis

from tests.conversions.conftest import burst, clicks, make, world
from tests.conversions.ground_truth_model import NY, Click, D, Expect, Model, cents, uuid7_at
from tracker import redis_keys
from tracker.settings import Settings

NAMES = ["shop", "subs", "capped", "tz", "fraud", "shadow", "first"]
DEF_PAY, DEF_REV = D("2.50"), D("4.00")  # offer defaults from world(), except "capped"
BOUNDARY = datetime(2026, 3, 1, 5, 0, tzinfo=UTC)  # local midnight in New York (EST)


class Scenario:
    def __init__(self, settings: Settings, service: str, api: httpx.AsyncClient,
                 pool: asyncpg.Pool, redis: Redis, rng: random.Random) -> None:  # fmt: skip
        self.settings, self.service, self.api, self.pool, self.redis = (
            settings, service, api, pool, redis)  # fmt: skip
        self.rng = rng
        self.now = datetime.now(UTC)
        self.model = Model()
        self.ids: dict[tuple[str, str], str] = {}  # key → conversion id the intake answered
        self.sent_params: dict[tuple[str, str], dict[str, Any]] = {}
        self.sent = 0  # postbacks sent, repeats included
        self.clicks = 0  # clicks made, real and written to the stream
        self.past: dict[str, list[Click]] = {"fraud": [], "shadow": [], "window": [], "tz": []}
        self.http: httpx.AsyncClient

    # -- the world and its rules ----------------------------------------------------------
    async def make_world(self) -> None:
        self.w = await world(self.api, partners=4, offers=7,
                             currencies=["USD", "USD", "EUR"] + ["USD"] * 4)  # fmt: skip
        self.w2 = await world(self.api)  # another advertiser: its postbacks may not take ours
        self.adv, self.tok = self.w["advertiser"], self.w["advertiser"]["postback_token"]
        self.P = [a["id"] for a in self.w["affiliates"]]
        self.OFF = {n: o["id"] for n, o in zip(NAMES, self.w["offers"], strict=True)}
        self.link = {(n, p): self.w["links"][(self.OFF[n], self.P[p])]
                     for n in NAMES for p in range(4)}  # fmt: skip

    async def set_rules(self) -> None:
        api, OFF, P, now = self.api, self.OFF, self.P, self.now

        async def put(path: str, body: dict[str, Any]) -> Any:
            return await make(api, path, body, "PUT")

        await put(f"/api/v1/offers/{OFF['shop']}/conversion-settings",
                  {"cpc_payout": "0.05", "cpc_revenue": "0.08"})  # fmt: skip
        await put(f"/api/v1/offers/{OFF['shop']}/goals/sale",
                  {"multiple": True, "payout_percent": "10", "revenue_percent": "15"})  # fmt: skip
        await put(f"/api/v1/offers/{OFF['shop']}/goals/lead",
                  {"payout_flat": "1.50", "revenue_flat": "2"})  # fmt: skip
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
        await make(api, "/api/v1/promo-codes", {"offer_id": OFF["shop"], "affiliate_id": P[3],
                   "code": "OLD", "ends_at": (now - timedelta(days=1)).isoformat()})  # fmt: skip
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
        await put(f"/api/v1/offers/{OFF['first']}/conversion-settings",
                  {"attribution_model": "first_click"})  # fmt: skip

    # -- clicks ---------------------------------------------------------------------------
    async def write_clicks(self, rows: list[dict[str, Any]]) -> None:
        """Clicks written to the click stream as the redirect would (it is not under test)."""
        stream = redis_keys.of(self.settings).click_streams()[0]
        for i in range(0, len(rows), 200):
            await self.redis.xadd(stream, {"v": "1", "clicks": orjson.dumps(rows[i : i + 200])})
        self.clicks += len(rows)

    def _row(self, offer: str, partner: int, at: datetime, ua: str) -> dict[str, Any]:
        lk = self.link[(offer, partner)]
        return {"click_id": str(uuid7_at(at, self.rng)), "ts": at.timestamp(),
                "link_id": lk["id"], "link_code": lk["code"], "offer_id": self.OFF[offer],
                "aff_id": self.P[partner], "ip": "127.0.0.1", "ua": ua}  # fmt: skip

    async def past_clicks(self) -> None:
        """Clicks with past times: fraud-passing, outside the window, the tz boundary."""
        rows: list[dict[str, Any]] = []

        def inject(kind: str, offer: str, partner: int, at: datetime) -> None:
            row = self._row(offer, partner, at, f"old-{kind}-{len(rows)}")
            rows.append(row)
            self.past[kind].append(Click(row["click_id"], offer, partner, at, row["ua"]))

        for i in range(40):
            inject("fraud", "fraud", i % 4, self.now - timedelta(hours=2, minutes=i))
            inject("shadow", "shadow", i % 4, self.now - timedelta(hours=2, minutes=i))
        for i in range(5):
            inject("window", "shop", i % 4, self.now - timedelta(days=40, minutes=i))
        for i in range(20):
            inject("tz", "tz", i % 2, BOUNDARY - timedelta(hours=6, minutes=i))
        await self.write_clicks(rows)

    async def real(self, offer: str, partner: int, n: int, tag: str) -> list[Click]:
        """n clicks through the real redirect."""
        ua = f"{tag}-{offer}-{partner}"
        got = await clicks(self.service, self.link[(offer, partner)]["code"], n, ua=ua,
                           concurrency=32)  # fmt: skip
        self.clicks += len(got)
        t = datetime.now(UTC)
        return [Click(c, offer, partner, t, f"{ua} {i}") for i, c in enumerate(got)]

    # -- postbacks ------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def merchant(self) -> AsyncIterator[None]:
        """The merchant's HTTP client, for the steps that send postbacks."""
        async with httpx.AsyncClient(base_url=self.service, timeout=30,
                                     limits=httpx.Limits(max_connections=32)) as self.http:  # fmt: skip
            yield

    async def pb(self, params: dict[str, Any], path: str = "/postback") -> httpx.Response:
        self.sent += 1
        for attempt in range(3):  # as a merchant would: a postback is safe to repeat
            try:
                r = await self.http.get(path, params={"token": self.tok, **params})
                break
            except httpx.TransportError:
                if attempt == 2:
                    raise
        assert r.status_code in (200, 202), r.text
        return r

    async def send(self, key: tuple[str, str], params: dict[str, Any]) -> None:
        r = await self.pb(params)
        got = r.json()["conversion_id"]
        assert self.ids.setdefault(key, got) == got
        self.sent_params.setdefault(key, params)

    def expect(self, key: tuple[str, str], *args: Any, **kw: Any) -> None:
        self.model.new(key, Expect(key, *args, **kw))

    async def early_postbacks(self) -> None:
        """Real clicks, and postbacks for them at once, before the worker has seen them."""
        self.shop: list[Click] = []
        for p in range(4):
            self.shop += await self.real("shop", p, 150, "early")
        fraud_now = await self.real("fraud", 0, 30, "e") + await self.real("fraud", 1, 30, "e")
        shadow_now = await self.real("shadow", 2, 30, "e") + await self.real("shadow", 3, 30, "e")
        early: list[tuple[Click, str, Decimal, str]] = []  # click, goal, amount, status
        for c in self.shop[:300]:
            amount = D(self.rng.randint(100, 99999)) / 100
            early.append((c, "sale", amount, "pending" if self.rng.random() < 0.07 else "approved"))
        for c in fraud_now + shadow_now:
            early.append((c, "default", D(0), "approved"))

        async def send_early(c: Click, goal: str, amount: Decimal, status: str) -> None:
            params = {"advertiser_id": self.adv["id"], "click_id": c.id, "goal": goal,
                      "txn_id": f"e-{c.id}", "amount": str(amount), "status": status}  # fmt: skip
            await self.send((goal, f"e-{c.id}"), params)

        await asyncio.gather(*(send_early(*e) for e in early))
        for c, goal, amount, status in early:  # order-free: no caps, tiers or per-click limits
            key = (goal, f"e-{c.id}")
            if c.offer == "shop":
                pct = D(12) if c.partner == 1 else D(10)
                self.expect(key, c.partner, "shop", status, None, cents(amount * pct / 100),
                            cents(amount * 15 / 100), [], c)  # fmt: skip
            elif c.offer == "fraud":
                self.expect(key, c.partner, "fraud", "rejected", "fraud:ctc_too_short",
                            DEF_PAY, DEF_REV, [], c)  # fmt: skip
            else:
                self.expect(key, c.partner, "shadow", status, None, DEF_PAY, DEF_REV, [], c)

    async def more_clicks(self) -> None:
        """Clicks nobody converts on (5,000 and more in all), and the clicks of later steps."""
        filler = [self._row(offer, p, at, f"filler-{offer}-{p}-{i}")
                  for offer in NAMES for p in range(4) for i in range(140)
                  for at in [datetime.now(UTC) - timedelta(seconds=i)]]  # fmt: skip
        await self.write_clicks(filler)
        self.leads = await self.real("shop", 0, 40, "lead") + await self.real("shop", 3, 40, "lead")
        self.coupon_clicks = await self.real("shop", 0, 20, "cc")
        self.subs = [c for p in range(4) for c in await self.real("subs", p, 12, "subs")]
        self.capped = [c for p in range(4) for c in await self.real("capped", p, 45, "cap")]
        self.visitors = []
        for v in range(20):  # the same visitor clicks partner 0's link, then partner 1's
            async with httpx.AsyncClient(base_url=self.service, timeout=10) as one:
                ids_v = []
                for p in (0, 1):
                    r = await one.get(f"/c/{self.link[('first', p)]['code']}",
                                      headers={"User-Agent": f"visitor-{v}"})  # fmt: skip
                    ids_v.append(r.headers["location"].split("cid=")[1])
            self.visitors.append(ids_v)
            self.clicks += 2
        assert self.clicks >= 5_000
        await asyncio.sleep(0.1)
        await burst(self.settings)

    async def late_postbacks(self) -> None:
        """One at a time: the worker sees them in this order."""
        adv, rng, model = self.adv["id"], self.rng, self.model
        for c in self.leads:  # a lead per click; a second lead on some of them is refused
            for n in (1, 2) if rng.random() < 0.25 else (1,):
                key = ("lead", f"l{n}-{c.id}")
                await self.send(key, {"advertiser_id": adv, "click_id": c.id, "goal": "lead",
                                      "txn_id": key[1]})  # fmt: skip
                first = model.goal_count.get(("lead", c.id), 0) == 0
                model.goal_count[("lead", c.id)] = model.goal_count.get(("lead", c.id), 0) + 1
                self.expect(key, c.partner, "shop", "approved" if first else "rejected",
                            None if first else "duplicate_goal", D("1.50") if first else D(0),
                            D(2) if first else D(0), [], c)  # fmt: skip
        for i in range(30):  # promo code only: partner 2, the code's own payout
            amount = D(rng.randint(1000, 20000)) / 100
            key = ("sale", f"coupon-{i}")
            await self.send(key, {"advertiser_id": adv, "coupon": "save10", "goal": "sale",
                                  "txn_id": key[1], "amount": str(amount)})  # fmt: skip
            self.expect(key, 2, "shop", "approved", None, D(3), cents(amount * 15 / 100), [])
        for i in range(5):  # an expired code attributes nothing
            key = ("sale", f"old-{i}")
            await self.send(key, {"advertiser_id": adv, "coupon": "OLD", "goal": "sale",
                                  "txn_id": key[1], "amount": "10"})  # fmt: skip
            self.expect(key, None, None, "rejected", "no_click", D(0), D(0), [])
        for c in self.coupon_clicks:  # click and another partner's code: the click wins
            key = ("sale", f"cc-{c.id}")
            await self.send(key, {"advertiser_id": adv, "click_id": c.id, "coupon": "SAVE10",
                                  "goal": "sale", "txn_id": key[1], "amount": "100"})  # fmt: skip
            self.expect(key, 0, "shop", "approved", None, D(10), D(15), [], c)
        for c in self.past["window"]:
            key = ("sale", f"w-{c.id}")
            await self.send(key, {"advertiser_id": adv, "click_id": c.id, "goal": "sale",
                                  "txn_id": key[1], "amount": "50"})  # fmt: skip
            self.expect(key, None, None, "rejected", "outside_window", D(0), D(0), [])
        for c in self.shop[300:305]:  # another advertiser's postback naming our click
            r = await self.pb({"advertiser_id": self.w2["advertiser"]["id"], "click_id": c.id,
                               "token": self.w2["advertiser"]["postback_token"],
                               "txn_id": f"x-{c.id}"})  # fmt: skip
            assert r.status_code == 202
        await self.rebills()
        for i, c in enumerate(self.capped[:150]):
            await self.send_capped(c, i)
        for c in self.past["fraud"] + self.past["shadow"]:  # two hours old: no fraud rule fires
            key = ("default", f"old-{c.id}")
            await self.send(key, {"advertiser_id": adv, "click_id": c.id, "txn_id": key[1]})
            self.expect(key, c.partner, c.offer, "approved", None, DEF_PAY, DEF_REV, [], c)
        for v in self.visitors:  # the postback names the last click; first-click pays partner 0
            key = ("default", f"v-{v[1]}")
            await self.send(key, {"advertiser_id": adv, "click_id": v[1], "txn_id": key[1]})
            self.expect(key, 0, "first", "approved", None, DEF_PAY, DEF_REV, [])
        for key in rng.sample(sorted(self.ids), 100):  # the same again: 200, same id, nothing else
            r = await self.pb(self.sent_params[key])
            assert r.status_code == 200 and r.json()["conversion_id"] == self.ids[key], r.text

    async def rebills(self) -> None:
        """At most 3 per click; tiers by approved conversions this month."""
        model = self.model
        for c in self.subs:
            for n in range(self.rng.randint(1, 4)):
                key = ("rebill", f"r{n}-{c.id}")
                await self.send(key, {"advertiser_id": self.adv["id"], "click_id": c.id,
                                      "goal": "rebill", "txn_id": key[1], "amount": "9.99"})  # fmt: skip
                k = ("rebill", c.id)
                if model.goal_count.get(k, 0) >= 3:
                    self.expect(key, c.partner, "subs", "rejected", "recurring_limit",
                                D(0), D(0), [], c)  # fmt: skip
                    continue
                model.goal_count[k] = model.goal_count.get(k, 0) + 1
                mk = ("subs", c.partner, self.now.strftime("%Y-%m"))
                before = model.month_approved.get(mk, 0)
                pay = D(7) if before >= 20 else D(6) if before >= 10 else D(5)
                model.month_approved[mk] = before + 1
                self.expect(key, c.partner, "subs", "approved", None, pay, D(8), [], c)

    async def send_capped(self, c: Click, i: int) -> None:
        """A sale on the capped offer (EUR), in EUR, USD, GBP (no rate) or the default."""
        cur = ("EUR", "USD", "GBP", None)[i % 4]
        amount = D(self.rng.randint(500, 30000)) / 100
        key = ("sale", f"cap-{c.id}")
        params = {"advertiser_id": self.adv["id"], "click_id": c.id, "goal": "sale",
                  "txn_id": key[1], "amount": str(amount)}  # fmt: skip
        if cur:
            params["currency"] = cur
        await self.send(key, params)
        if cur == "GBP":  # no rate: held, nothing priced, no cap taken (docs/adr/0080)
            self.expect(key, c.partner, "capped", "held", "no_rate", D(0), D(0), [], c)
            return
        eur = (amount * D("0.9")).quantize(D("0.0001"), ROUND_HALF_UP) if cur == "USD" else amount
        pay, rev = cents(1 + eur * 5 / 100), cents(eur * 8 / 100)
        wants = [("capday", D(1), D(40))]
        if c.partner == 0:
            wants.append(("cap-p0", pay, D(30)))
        taken = self.model._cap_try(wants)
        self.expect(key, c.partner, "capped", "approved" if taken else "rejected",
                    None if taken else "cap", pay, rev, taken or [], c, wants=wants)  # fmt: skip

    async def time_zone_boundary(self) -> None:
        """Conversions with times around midnight in New York, written to the stream."""
        from tracker.api.routes.incoming_postbacks import conversion_id  # the intake's ids

        stream = redis_keys.of(self.settings).conversion_streams()[0]
        model = self.model
        for i, c in enumerate(sorted(self.past["tz"], key=lambda c: c.at)):
            at = BOUNDARY - timedelta(minutes=100) + timedelta(minutes=10 * i)
            key = ("default", f"tz-{i}")
            cid = conversion_id(self.adv["id"], "default", key[1])
            ev = {"conversion_id": str(cid), "ts": at.timestamp(), "advertiser_id": self.adv["id"],
                  "click_id": c.id, "txn_id": key[1], "amount": "20", "currency_default": True}  # fmt: skip
            await self.redis.xadd(stream, {"conversion": orjson.dumps(ev)})
            self.ids[key] = str(cid)
            self.sent += 1
            local = at.astimezone(ZoneInfo(NY))
            tz_wants = [(f"tz-{local:%Y-%m-%d}", D(1), D(5))]
            taken = model._cap_try(tz_wants)
            mk = ("tz", c.partner, f"{local:%Y-%m}")
            before = model.month_approved.get(mk, 0)
            if taken:
                model.month_approved[mk] = before + 1
            pay = D(4) if before >= 3 else DEF_PAY
            self.expect(key, c.partner, "tz", "approved" if taken else "rejected",
                        None if taken else "cap", pay, DEF_REV, taken or [], c, at,
                        wants=tz_wants)  # fmt: skip
        await burst(self.settings)

    async def reversals_and_approvals(self) -> None:
        """Refunds and approvals by postback; then more capped sales take the freed room."""
        adv = self.adv["id"]
        candidates = [k for k in sorted(self.model.conv) if not k[1].startswith("tz-")]
        for key in self.rng.sample(candidates, 60):
            await self.pb({"advertiser_id": adv, "goal": key[0], "txn_id": key[1],
                           "status": "refund"})  # fmt: skip
            self.model.change(key, "reversed")
        pending = [k for k in sorted(self.model.conv) if self.model.conv[k].status == "pending"]
        for key in pending[:10]:
            await self.pb({"advertiser_id": adv, "goal": key[0], "txn_id": key[1],
                           "status": "approved"})  # fmt: skip
            self.model.change(key, "approved")
        for i, c in enumerate(self.capped[150:170]):
            await self.send_capped(c, i)
