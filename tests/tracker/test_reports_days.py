"""Rollup rows per local day (docs/adr/0062): registered zones read one row per partner and
day, a day that is not 24 hours long falls back to nested pieces, a zone registered
later is back-filled from the rollup's own rows, and every figure equals raw rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from redis.asyncio import Redis

from tests.tracker.reports_world import build
from tests.tracker.test_reports import NOW, _local_midnight, _q
from tracker.settings import Settings
from tracker.store.reports import days, plan, rates, rollups, sql

LATER = ("Europe/Berlin", "America/New_York", "Asia/Kathmandu")


def test_phases_are_the_local_midnights_of_every_offset_in_use() -> None:
    assert days.phases_of("Asia/Kolkata") == {66600}  # +05:30: days start 18:30 UTC
    assert days.phases_of("Asia/Kathmandu") == {65700}  # +05:45
    assert days.phases_of("Europe/Berlin") == {82800, 79200}  # +01:00 and +02:00 (DST)
    assert days.phases_of("Australia/Adelaide") == {86400 - 34200, 86400 - 37800}
    assert days.phases_of("UTC") == set()  # UTC days are rows already


def _check(pieces: list[tuple[int, datetime]] | None, start: datetime, end: datetime) -> None:
    assert pieces is not None
    edges = sorted((t, t + timedelta(seconds=s)) for s, t in pieces)
    assert edges[0][0] == start and edges[-1][1] == end
    assert all(a[1] == b[0] for a, b in pairwise(edges))  # no gap, no overlap


def test_cover_reads_one_row_per_local_day_where_the_day_is_24_hours() -> None:
    kol = ZoneInfo("Asia/Kolkata")
    start = datetime(2026, 10, 1, tzinfo=kol).astimezone(UTC)
    end = start + timedelta(days=30)
    pieces = plan.cover(start, end, ["day"], kol, (), [66600])
    _check(pieces, start, end)
    assert pieces is not None and len(pieces) == 30 and {s for s, _ in pieces} == {86400}
    # without the phase: nested pieces, as before
    nested = plan.cover(start, end, ["day"], kol, ())
    assert nested is not None and len(nested) > 30 * 5
    # a rate change at 10:00 UTC inside a day: that day is pieces, the others one row each
    cut = int((start + timedelta(days=3, hours=15, minutes=30)).timestamp())
    with_cut = plan.cover(start, end, ["day"], kol, [cut], [66600])
    _check(with_cut, start, end)
    assert with_cut is not None and sum(s == 86400 for s, _ in with_cut) == 29
    # by hour: no day lies inside one hour
    hours = plan.cover(start, start + timedelta(days=2), ["hour"], kol, (), [66600])
    assert hours is not None and max(s for s, _ in hours) < 86400
    # Berlin over the end of summer time (25 October 2026, a 25-hour day)
    ber = ZoneInfo("Europe/Berlin")
    start, end = (datetime(2026, 10, d, tzinfo=ber).astimezone(UTC) for d in (20, 30))
    pieces = plan.cover(start, end, ["day"], ber, (), sorted(days.phases_of("Europe/Berlin")))
    _check(pieces, start, end)
    assert pieces is not None and sum(s == 86400 for s, _ in pieces) == 10
    assert len(pieces) == 11  # the long day is a day and one more hour
    # and without any grouped time unit, days of whatever phase fits
    anyday = plan.cover(start, end, [], ber, (), [79200, 82800])
    _check(anyday, start, end)


async def _both(pool: asyncpg.Pool, dims: list[str], tz: str, key: str, ids: list[int],
                phases: list[int] | None = None) -> tuple[set[Any], list[tuple[int, datetime]], int]:  # fmt: skip
    """The same report from the rollup (with the registered phases) and from raw rows; the
    pieces read, and how many rate changes (of any test's offers) cut the range."""
    start, end = _local_midnight(33, tz), _local_midnight(-1, tz)
    spec = sql.Spec(dims=dims, start=start, end=end, tz=tz, filters={key: [str(i) for i in ids]})
    async with pool.acquire() as conn:
        spec.periods = await rates.load(conn, spec)
        if phases is None:
            phases = await days.load(conn)
    units = [d for d in dims if d in plan.TIME_DIMS]
    pieces, buckets = plan.cover_both(start, end, units, ZoneInfo(tz), spec.periods.cuts(), phases)
    assert pieces is not None and buckets is not None, (tz, dims)
    built = sql.rollup(spec, pieces, buckets)
    # one piece per local day, grouped by partner and day: no grouping (reports/daily.py),
    # whatever rate changes cut the days (their priced money is read from the pieces)
    # (every piece a whole day: a 25-hour day is a day and an hour; counting pieces is not
    # enough, the range holds 33 or 34 local days depending on the hour the test runs)
    daily = units == ["day"] and "partner" in dims and all(s == 86400 for s, _ in buckets)
    assert ("AS MATERIALIZED" in built[0]) == daily, (tz, dims)
    a = {tuple(r) for r in await pool.fetch(*_q(built))}
    b = {tuple(r) for r in await pool.fetch(*_q(sql.raw(spec)))}
    assert a == b and len(a) >= 4, (tz, dims)
    cuts = sum(start.timestamp() < c < end.timestamp() for c in spec.periods.cuts())
    return a, pieces, cuts


async def test_a_zone_registered_later_is_backfilled_and_written_by_every_writer(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    before = await build(pool, redis, settings, seed=21, now=NOW)
    parts = before["partners"]
    # Before Berlin is registered: nested pieces; the answer is kept to compare
    old, pieces, _ = await _both(pool, ["partner", "day"], "Europe/Berlin", "partner", parts, [])
    assert max(s for s, _ in pieces) < 86400 and len(pieces) > 33 * 3
    async with pool.acquire() as conn:
        await days.register(conn, LATER)
        registered = set(await days.load(conn))
    assert {66600, 65700, 82800, 79200, 18000, 14400} <= registered
    new, pieces, cuts = await _both(pool, ["partner", "day"], "Europe/Berlin", "partner", parts)
    assert new == old  # the back-filled days hold what the nested pieces held
    assert sum(s == 86400 for s, _ in pieces) >= 31 - cuts  # a rate change cuts a day
    # Rows written after the registration (clicks by the worker's fast and replay paths,
    # conversions, status changes) reach the new days too.
    after = await build(pool, redis, settings, seed=22, now=NOW)
    for tz in ("Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Asia/Kolkata"):
        for dims in (["partner", "day"], ["day", "partner"], ["partner"], ["week", "partner"]):
            _, pieces, cuts = await _both(pool, dims, tz, "partner", after["partners"])
            if dims != ["week", "partner"]:
                assert sum(s == 86400 for s, _ in pieces) >= 31 - cuts, (tz, dims)
        await _both(pool, ["offer", "day"], tz, "offer", after["offers"])
    # the rows of one partner's day equal the sum of its quarter hours
    check = await pool.fetch(
        "SELECT d.gross_clicks, d.revenue, (SELECT sum(q.gross_clicks) FROM rollup_spans q"
        " WHERE q.span = 900 AND q.affiliate_id = d.affiliate_id AND q.offer_id = d.offer_id"
        " AND q.t >= d.t AND q.t < d.t + interval '1 day') AS g, (SELECT sum(q.revenue) FROM"
        " rollup_spans q WHERE q.span = 900 AND q.affiliate_id = d.affiliate_id AND"
        " q.offer_id = d.offer_id AND q.t >= d.t AND q.t < d.t + interval '1 day') AS rev"
        " FROM rollup_spans d WHERE d.span = 86400 AND d.affiliate_id = ANY($1::int8[])"
        " AND extract(epoch FROM d.t)::int8 % 86400 = 65700",
        after["partners"],
    )
    assert len(check) > 50
    assert all(r["gross_clicks"] == r["g"] and r["revenue"] == r["rev"] for r in check)


async def test_registering_waits_for_writers_that_read_the_old_phases(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    w = await build(pool, redis, settings, seed=23, now=NOW)
    a, o = w["partners"][0], w["offers"][0]
    at = NOW - timedelta(days=3, minutes=20)
    writer = await pool.acquire()
    try:
        tx = writer.transaction()
        await tx.start()
        # a status change in an open transaction: it read the phases FOR KEY SHARE
        await writer.execute(rollups.STATUS, *rollups.status_args(
            at, a, o, "rejected", "approved", Decimal("7.5"), Decimal("2.25"),
            frozenset({"pending", "approved"})))  # fmt: skip
        async with pool.acquire() as conn:
            registering = asyncio.ensure_future(days.register(conn, ["Pacific/Chatham"]))
            await asyncio.sleep(0.5)
            assert not registering.done()  # it waits for the writer
            await tx.commit()
            added = await asyncio.wait_for(registering, 30)
    finally:
        await pool.release(writer)
    async with pool.acquire() as conn:
        assert set(added) <= days.phases_of("Pacific/Chatham") <= set(await days.load(conn))
    # the back-fill saw the writer's rows: Chatham's day equals its quarter hours
    for phase in days.phases_of("Pacific/Chatham"):
        day = await pool.fetchrow(
            "SELECT * FROM rollup_spans WHERE span = 86400 AND affiliate_id = $1 AND offer_id"
            " = $2 AND t = span_start($3, 86400, $4)", a, o, at, phase)  # fmt: skip
        quarters = await pool.fetchrow(
            "SELECT sum(approved) AS approved, sum(revenue) AS revenue FROM rollup_spans"
            " WHERE span = 900 AND affiliate_id = $1 AND offer_id = $2 AND t >= $3"
            " AND t < $3 + interval '1 day'", a, o, day["t"])  # fmt: skip
        assert day["approved"] == quarters["approved"] and day["revenue"] == quarters["revenue"]
