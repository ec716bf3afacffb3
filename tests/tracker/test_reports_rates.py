"""Dated CPC/CPM rates (docs/adr/0036): a rate change never re-prices past money.

The change is made as every writer makes it (an UPDATE of offer_conversion_settings,
recorded by the trigger of migration 0011) and takes effect at the next UTC quarter
hour; clicks dated after it come through the real worker. Rollup, raw rows and the
Python truth (tests/tracker/reports_truth.py) must agree to the cent.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from tests.conversions.conftest import burst
from tests.ingest.helpers import push
from tests.tracker.reports_truth import Truth, assert_matches
from tests.tracker.reports_world import UAS, build
from tests.tracker.test_reports import NOW, _get, _local_midnight, _q
from tracker import redis_keys
from tracker.settings import Settings
from tracker.store.reports import days, plan, rates, sql

RATES = "SELECT * FROM offer_click_rates WHERE offer_id = $1 ORDER BY valid_from"
SET = "UPDATE offer_conversion_settings SET {} WHERE offer_id = $1"


async def _change(pool: asyncpg.Pool, offer: int, sets: str, *values: Any) -> datetime:
    """Change an offer's settings; the quarter hour the change takes effect at."""
    async with pool.acquire() as conn, conn.transaction():
        now = await conn.fetchval("SELECT now()")
        await conn.execute(SET.format(sets), offer, *values)
    return datetime.fromtimestamp((now.timestamp() // 900 + 1) * 900, UTC)


async def _clear_of_quarter_edge() -> None:
    """Two changes meant for one quarter hour must not straddle its end."""
    left = 900 - datetime.now(UTC).timestamp() % 900
    if left < 10:
        await asyncio.sleep(left + 0.5)


async def test_changes_take_effect_at_the_next_quarter_hour(pool: asyncpg.Pool) -> None:
    adv = await pool.fetchval("INSERT INTO advertisers (name, postback_token) VALUES ('r', 't') "
                              "RETURNING id")  # fmt: skip
    o = await pool.fetchval("INSERT INTO offers (advertiser_id, name, landing_url) VALUES "
                            "($1, 'r', 'https://x.example/') RETURNING id", adv)  # fmt: skip
    await pool.execute("INSERT INTO offer_conversion_settings (offer_id, cpc_payout) "
                       "VALUES ($1, 0.1000)", o)  # fmt: skip
    # the first rates an offer gets hold from the start
    rows = await pool.fetch(RATES, o)
    assert [(r["cpc_payout"], r["valid_from"].year) for r in rows] == [(Decimal("0.1"), 1)]
    assert await pool.fetchval(
        "SELECT valid_from = '-infinity' FROM offer_click_rates WHERE offer_id = $1", o
    )
    await _clear_of_quarter_edge()
    q1 = await _change(pool, o, "cpc_payout = 0.2000, cpm_revenue = 1.5000")
    q2 = await _change(pool, o, "cpc_payout = 0.3000")  # the same quarter: replaces the first
    assert q1 == q2 and q1 > datetime.now(UTC) - timedelta(seconds=1)
    rows = await pool.fetch(RATES, o)
    assert len(rows) == 2 and rows[1]["valid_from"] == q1
    assert (rows[1]["cpc_payout"], rows[1]["cpm_revenue"]) == (Decimal("0.3"), Decimal("1.5"))
    await _change(pool, o, "fraud_mode = 'shadow'")  # not a rate: nothing recorded
    assert len(await pool.fetch(RATES, o)) == 2
    # back to the rates in effect before the quarter: nothing pending any more
    await _change(pool, o, "cpc_payout = 0.1, cpm_revenue = 0")
    assert [r["cpc_payout"] for r in await pool.fetch(RATES, o)] == [Decimal("0.1")]
    with pytest.raises(asyncpg.CheckViolationError):  # rates start on a quarter hour
        await pool.execute("INSERT INTO offer_click_rates VALUES ($1, $2, 'unique', 0, 0, 0, 0)",
                           o, q1 + timedelta(minutes=7))  # fmt: skip


def test_cover_cuts_at_rate_changes() -> None:
    zone = ZoneInfo("Asia/Kolkata")
    t0 = datetime(2026, 3, 1, 18, 30, tzinfo=UTC)  # a Kolkata midnight
    end = t0 + timedelta(days=3)
    cut = int((t0 + timedelta(days=1, hours=7, minutes=45)).timestamp())  # inside a local day
    plain = plan.cover(t0, end, ["day"], zone)
    pieces = plan.cover(t0, end, ["day"], zone, [cut])
    assert plain is not None and pieces is not None and len(pieces) > len(plain)
    assert sum(s for s, _ in pieces) == 3 * 86400
    assert not [t for s, t in pieces if t.timestamp() < cut < t.timestamp() + s]
    assert plan.cover(t0, end, ["day"], zone, [cut + 60]) is None  # not on a quarter hour


def _events(rnd: random.Random, w: dict[str, Any], lo: float, hi: float, n: int) -> list[Any]:
    out = []
    for k in range(n):
        o, a = rnd.choice(w["offers"]), rnd.choice(w["partners"])
        ev: dict[str, Any] = {
            "click_id": str(uuid.uuid4()), "ts": lo + rnd.random() * (hi - lo), "offer_id": o,
            "aff_id": a, "link_id": w["links"][(o, a)], "link_code": "c",
            "ip": f"10.9.{rnd.randrange(250)}.{rnd.randrange(200)}", "ua": rnd.choice(UAS),
            "referer": "", "cls": rnd.choices(["human", "bot", "head"], [90, 6, 4])[0],
        }  # fmt: skip
        if k % 4 == 0:
            ev["kind"] = "impression"
        else:
            ev["subs"] = [rnd.choice(["a", "b"]), None]
            ev["source"] = "fb"
        out.append(ev)
    return out


async def test_a_rate_change_keeps_past_money_and_prices_new_clicks(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    w = await build(pool, redis, settings, seed=11, now=NOW)
    o0, o1 = w["offers"][0], w["offers"][1]
    # A change made ten days ago, at a quarter past a UTC hour, as the trigger recorded it then.
    past = NOW - timedelta(days=10, minutes=45)
    await pool.execute("INSERT INTO offer_click_rates VALUES ($1, $2, 'unique', 0.0321, 0.0654,"
                       " 0.5003, 0.7009)", o1, past)  # fmt: skip
    tz = "Asia/Kolkata"
    # to: two local days ahead, so the change made below (at the clock's next quarter
    # hour) falls inside the range at any time of day; one day ahead ends at 18:30 UTC.
    start, end = _local_midnight(35, tz), _local_midnight(-2, tz)
    span = {"from": start.isoformat(), "to": end.isoformat(), "tz": tz, "limit": 100000}
    partners = ",".join(map(str, w["partners"]))
    asks = [{"group_by": "offer,day", "offer": ",".join(map(str, w["offers"]))},
            {"group_by": "partner,day", "partner": partners},
            {"group_by": "partner", "partner": partners}]  # fmt: skip
    before = [await _get(api, **span, **a) for a in asks]
    # The rates change now, twice within one quarter hour: only the second holds, from q.
    await _clear_of_quarter_edge()
    q = await _change(pool, o0, "cpc_payout = 0.5, cpm_payout = 9.9")
    assert q == await _change(pool, o0, "cpc_payout = 0.0777, cpc_revenue = 0.1011, "
                                        "cpm_payout = 1.0003, cpm_revenue = 0.0007")  # fmt: skip
    assert await _change(pool, o1, "cpc_basis = 'gross_human', cpc_payout = 0.2") == q
    after = [await _get(api, **span, **a) for a in asks]
    for b, a in zip(before, after, strict=True):
        assert a["source"] == "rollup" and a["rows"] == b["rows"] and a["totals"] == b["totals"]
    # Clicks and impressions on both sides of q, through the real worker.
    rnd = random.Random(11)
    fresh = _events(rnd, w, q.timestamp() - 600, q.timestamp() + 900, 600)
    await push(
        redis, redis_keys.of(settings).click_streams()[0], sorted(fresh, key=lambda e: e["ts"]), 25
    )
    await burst(settings)
    truth = await Truth.load(pool, w["offers"])
    assert sum(c["created_at"] >= q for c in truth.clicks) > 200
    for a in asks:
        ans = await _get(api, **span, **a)
        dims = a["group_by"].split(",")
        key = "offer" if "offer" in a else "partner"
        assert ans["source"] == "rollup", a  # the change inside a Kolkata day cuts the cover
        assert_matches(ans, truth.report(dims, start, end, tz, {key: a[key].split(",")}))
    # The quarter after q by itself: every fact of o0 at the new rates, by hand.
    ans = await _get(api, group_by="offer", offer=str(o0), **{"from": q.isoformat(),
                     "to": (q + timedelta(minutes=15)).isoformat()})  # fmt: skip
    row = ans["rows"][0]
    assert Decimal(row["payout"]) == (Decimal("0.0777") * row["unique_clicks"]
                                      + Decimal("1.0003") * row["impressions"] / 1000)  # fmt: skip
    assert Decimal(row["revenue"]) == (Decimal("0.1011") * row["unique_clicks"]
                                       + Decimal("0.0007") * row["impressions"] / 1000)  # fmt: skip
    assert row["impressions"] > 20 and row["unique_clicks"] > 20
    # Raw rows price by the same periods: a grouping the rollup does not hold, and the SQL
    # of both sources on the same spec.
    ans = await _get(api, group_by="sub1,day", offer=str(o0) + "," + str(o1), **span)
    assert ans["source"] == "raw"
    assert_matches(ans, truth.report(["sub1", "day"], start, end, tz,
                                     {"offer": [str(o0), str(o1)]}))  # fmt: skip
    # after q alone each priced offer has one period, q's or the past one: no range join
    ans = await _get(api, group_by="sub1", offer=str(o0) + "," + str(o1), tz=tz,
                     **{"from": q.isoformat(), "to": end.isoformat()})  # fmt: skip
    assert ans["source"] == "raw" and Decimal(ans["totals"]["payout"]) > 0
    assert_matches(ans, truth.report(["sub1"], q, end, tz, {"offer": [str(o0), str(o1)]}))
    for dims, key in ((["offer", "hour"], "offers"), (["day"], "partners")):
        spec = sql.Spec(dims=dims, start=start, end=end, tz=tz,
                        filters={key[:-1]: [str(x) for x in w[key]]})  # fmt: skip
        async with pool.acquire() as conn:
            spec.periods = await rates.load(conn, spec)
        assert int(q.timestamp()) in spec.periods.cuts()
        pieces = plan.cover(start, end, [d for d in dims if d in plan.TIME_DIMS],
                            ZoneInfo(tz), spec.periods.cuts())  # fmt: skip
        assert pieces is not None
        a = {tuple(r) for r in await pool.fetch(*_q(sql.rollup(spec, pieces)))}
        b = {tuple(r) for r in await pool.fetch(*_q(sql.raw(spec)))}
        assert a == b and len(a) > 10, dims
    # By partner and local day: both changes fall inside a Kolkata day, and each such day is
    # still one row per partner (its priced money read from the pieces around the change).
    spec = sql.Spec(dims=["partner", "day"], start=start, end=end, tz=tz,
                    filters={"partner": [str(x) for x in w["partners"]]})  # fmt: skip
    async with pool.acquire() as conn:
        spec.periods = await rates.load(conn, spec)
        phases = await days.load(conn)
    pieces, buckets = plan.cover_both(
        start, end, ["day"], ZoneInfo(tz), spec.periods.cuts(), phases
    )
    assert pieces is not None and buckets is not None and len(pieces) > len(buckets) == 37
    built = sql.rollup(spec, pieces, buckets)
    assert "AS MATERIALIZED" in built[0]  # reports/daily.py: no grouping
    a = {tuple(r) for r in await pool.fetch(*_q(built))}
    assert a == {tuple(r) for r in await pool.fetch(*_q(sql.raw(spec)))} and len(a) > 30


async def test_a_rate_beyond_int4_units_prices_raw_rows_exactly(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    """Raw rows price each click from an array of rates in 1/10000 (int4 when every rate
    fits, for speed): a rate of 300,000.0001 takes the int8 array and stays exact."""
    w = await build(pool, redis, settings, seed=12, now=NOW)
    o0, o1 = w["offers"][0], w["offers"][1]
    await _clear_of_quarter_edge()
    q = await _change(pool, o0, "cpc_basis = 'unique', cpc_payout = 300000.0001")
    assert await _change(pool, o1, "cpc_basis = 'unique', cpc_payout = 0.0003") == q
    fresh = _events(random.Random(12), w, q.timestamp(), q.timestamp() + 900, 300)
    await push(
        redis, redis_keys.of(settings).click_streams()[0], sorted(fresh, key=lambda e: e["ts"]), 25
    )
    await burst(settings)
    truth = await Truth.load(pool, w["offers"])
    end = q + timedelta(minutes=15)
    for offers in ([o0, o1], [o1]):
        spec = sql.Spec(dims=["sub1"], start=q, end=end, tz="UTC",
                        filters={"offer": [str(o) for o in offers]})  # fmt: skip
        async with pool.acquire() as conn:
            spec.periods = await rates.load(conn, spec)
        kind = "::int8[]" if o0 in offers else "::int4[]"
        assert kind in sql.raw(spec)[0]
        ans = await _get(api, group_by="sub1", offer=",".join(map(str, offers)),
                         **{"from": q.isoformat(), "to": end.isoformat()})  # fmt: skip
        assert ans["source"] == "raw" and Decimal(ans["totals"]["payout"]) > 0
        if o0 in offers:
            assert Decimal(ans["totals"]["payout"]) > 2**31 / 10_000
        assert_matches(ans, truth.report(["sub1"], q, end, "UTC", {"offer": spec.filters["offer"]}))
