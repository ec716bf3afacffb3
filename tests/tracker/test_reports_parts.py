"""A report by partner and local day run as two parts at once (docs/adr/0072) answers what one
query answers, byte for byte, whichever dimension comes first and whoever asks; and both
parts read one snapshot, so a write between them never shows in half the answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from redis.asyncio import Redis

from tests.tracker.reports_world import build
from tests.tracker.test_reports import NOW, _local_midnight
from tracker.settings import Settings
from tracker.store.reports import days, engine, parts, plan, rates, sql

_ZONE = "Asia/Kolkata"  # registered by default: one rollup row per partner and local day


Span = tuple[datetime, datetime]


def _spec(span: Span, dims: list[str], **kw: Any) -> sql.Spec:
    return sql.Spec(dims=dims, start=span[0], end=span[1], tz=_ZONE, **kw)


async def _world(
    pool: asyncpg.Pool, redis: Redis, settings: Settings, seed: int
) -> tuple[dict[str, Any], Span, list[str]]:
    """A generated world, the 34 local days up to tomorrow, and its partners' ids."""
    w = await build(pool, redis, settings, seed=seed, now=NOW)
    span = _local_midnight(33, _ZONE), _local_midnight(-1, _ZONE)
    return w, span, [str(p) for p in w["partners"]]


async def _halves(pool: asyncpg.Pool, spec: sql.Spec) -> list[parts.Part]:
    async with pool.acquire() as conn:
        spec.periods = await rates.load(conn, spec)
        units = [d for d in spec.dims if d in plan.TIME_DIMS]
        phases = await days.load(conn)
        zone = ZoneInfo(spec.tz)
        pieces, buckets = plan.cover_both(spec.start, spec.end, units, zone,
                                          spec.periods.cuts(), phases)  # fmt: skip
        assert pieces is not None and buckets is not None
        got = await parts.halves(conn, spec, buckets, pieces)
    assert got is not None, spec.dims
    return got


async def test_parts_answer_what_one_query_answers(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    w, span, partners = await _world(pool, redis, settings, 11)
    # a rate change inside a local day, ten days ago: that day's money is priced in pieces,
    # and the day is still one row (daily.py)
    change = NOW - timedelta(days=10, hours=5, minutes=45)
    await pool.execute("INSERT INTO offer_click_rates VALUES ($1, $2, 'unique', 0.0321, 0.0654,"
                       " 0.5003, 0.7009)", w["offers"][0], change)  # fmt: skip
    cases: list[tuple[str, sql.Spec, str]] = [
        # by partner first: partner ids below the median, then from it (of the filter's ids)
        ("admin", _spec(span, ["partner", "day"], filters={"partner": partners}), "partners"),
        # by day first: earlier days, then later ones
        ("admin", _spec(span, ["day", "partner"], filters={"partner": partners}), "days"),
        # one partner (its own key, or a filter of one): by days too
        ("affiliate", _spec(span, ["partner", "day"], affiliate_id=w["partners"][1]), "days"),
        ("admin", _spec(span, ["partner", "day"], filters={"partner": partners[:1]}), "days"),
    ]
    for role, spec, how in cases:
        halves = await _halves(pool, spec)
        (a, a_days, a_pieces), (b, b_days, b_pieces) = halves
        assert len(a_pieces) > len(a_days) or len(b_pieces) > len(b_days)  # a day is cut
        if how == "partners":
            assert a.partners == (None, int(partners[1])) and b.partners == (int(partners[1]), None)
            assert a_days == b_days and a_pieces == b_pieces
        else:
            assert a.partners == b.partners == (None, None)
            assert max(t for _, t in a_days) < min(t for _, t in b_days)
            assert max(t for _, t in a_pieces) < min(t for _, t in b_pieces)
        answers = []
        for in_parts in (True, False):
            one = replace(spec, periods=None)
            got = await engine.run(pool, one, role, sort=None, limit=100_000, in_parts=in_parts)
            answers.append((bytes(orjson.dumps(got.rows)), bytes(orjson.dumps(got.totals))))
        assert answers[0] == answers[1], (role, spec.dims)
        rows = orjson.loads(answers[0][0])
        scope = (
            {spec.affiliate_id} if spec.affiliate_id else {int(p) for p in spec.filters["partner"]}
        )
        assert len(rows) >= 10 * len(scope) and {r["group"]["partner"] for r in rows} == scope
        # cut by limit after the parts are joined: the first rows of the one answer
        cut = await engine.run(pool, replace(spec, periods=None), role,
                               sort=None, limit=7)  # fmt: skip
        assert orjson.loads(orjson.dumps(cut.rows)) == rows[:7] and cut.total_rows == len(rows)


async def test_both_parts_read_one_snapshot(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    w, span, partners = await _world(pool, redis, settings, 12)
    spec = _spec(span, ["partner", "day"], filters={"partner": partners}, hidden=())
    halves = await _halves(pool, spec)
    before = await engine.run(pool, replace(spec, periods=None), "admin", sort=None,
                              limit=100_000, in_parts=False)  # fmt: skip
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        await conn.fetchval("SELECT count(*) FROM rollup_spans")  # the snapshot is taken
        # committed after it: a thousand more clicks for the last partner, in the second part
        await pool.execute(
            "UPDATE rollup_spans SET gross_clicks = gross_clicks + 1000 WHERE affiliate_id = $1",
            w["partners"][-1],
        )
        records = await parts.run(pool, conn, halves)
    assert records is not None
    *body, total = records
    assert "[" + ",".join(r[0] for r in body) + "]" == bytes(orjson.dumps(before.rows)).decode()
    assert total[0] == bytes(orjson.dumps(before.totals)).decode()
    # and a report after the write sees it in full
    after = await engine.run(pool, replace(spec, periods=None), "admin", sort=None,
                             limit=100_000)  # fmt: skip
    assert (
        orjson.loads(orjson.dumps(after.totals))["gross_clicks"]
        > orjson.loads(orjson.dumps(before.totals))["gross_clicks"]
    )


async def test_without_an_idle_connection_one_query_answers(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    _, span, partners = await _world(pool, redis, settings, 13)
    spec = _spec(span, ["partner", "day"], filters={"partner": partners})
    halves = await _halves(pool, spec)
    assert settings.database_url
    one = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
    try:
        async with one.acquire() as conn, conn.transaction(readonly=True):
            assert one.get_idle_size() == 0
            assert await parts.run(one, conn, halves) is None  # nothing waits for a connection
        got = await engine.run(one, replace(spec, periods=None), "admin", sort=None, limit=10**5)
    finally:
        await one.close()
    want = await engine.run(pool, replace(spec, periods=None), "admin", sort=None, limit=10**5,
                            in_parts=False)  # fmt: skip
    assert orjson.dumps(got.rows) == orjson.dumps(want.rows) and got.total_rows >= 30
