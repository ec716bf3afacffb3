"""Upkeep: trimming never drops a pending entry, over-delivered entries, retention."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import asyncpg
from redis.asyncio import Redis

from ingest import dead_letter, partitions, streams
from ingest.worker import Worker
from tests.ingest.helpers import click, push, setup_offer
from tracker import redis_keys
from tracker.settings import Settings


async def test_trimming_keeps_every_pending_entry(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await setup_offer(pool)
    stream, group = redis_keys.of(settings).click_streams()[0], settings.consumer_group
    await push(redis, stream, [click(offer, aff, i) for i in range(10)], per_entry=1)
    await streams.ensure_group(redis, stream, group)
    got = await redis.xreadgroup(group, "slow", {stream: ">"}, count=10)
    ids = [i for i, _ in got[0][1]]
    await redis.xack(stream, group, *ids[:4], *ids[6:])  # 4 and 5 stay pending
    removed = await streams.trim(redis, stream, await streams.state(redis, stream, group))
    assert removed == 4
    left = [i for i, _ in await redis.xrange(stream)]
    assert left[:2] == ids[4:6]
    pending = await redis.xpending_range(stream, group, min="-", max="+", count=10)
    assert [p["message_id"] for p in pending] == ids[4:6]


async def test_an_entry_delivered_too_often_is_dead_lettered(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await setup_offer(pool)
    stream, group = redis_keys.of(settings).click_streams()[0], settings.consumer_group
    await push(redis, stream, [click(offer, aff, 1)])
    await streams.ensure_group(redis, stream, group)
    await redis.xreadgroup(group, "crashy", {stream: ">"}, count=1)
    for _ in range(settings.max_deliveries):  # it crashed its consumers every time
        await redis.xautoclaim(stream, group, "crashy", 0, "0-0")
    await Worker(settings, pool, redis, consumer="w", claim_idle_ms=0).run(burst=True)
    dead = [(i, f) for _, i, f in await dead_letter.read_all(redis, settings)]
    assert len(dead) == 1 and dead[0][1][b"reason"].startswith(b"deliveries:")
    assert (await redis.xpending(stream, group))["pending"] == 0
    assert await pool.fetchval("SELECT count(*) FROM clicks WHERE affiliate_id = $1", aff) == 0


async def test_retention_drops_old_partitions_and_keeps_rollups(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    today = datetime.now(UTC).date()
    old = date(2020, 3, 4)
    await partitions.create(pool, "clicks", old)
    await partitions.create(pool, "impressions", old)
    await pool.execute(
        "INSERT INTO rollup_spans (span, t, affiliate_id, offer_id, gross_clicks) "
        "VALUES (900, '2020-03-04 10:00+00', -1, -1, 7) ON CONFLICT DO NOTHING"
    )
    dropped = await partitions.maintain(pool, today, ahead_days=2, retention_days=90)
    assert dropped is not None
    assert {"clicks_20200304", "impressions_20200304"} <= set(dropped)
    ahead = partitions.partition_name(today + timedelta(days=2))
    assert await pool.fetchval("SELECT to_regclass($1) IS NOT NULL", ahead)
    assert await pool.fetchval("SELECT gross_clicks FROM rollup_spans WHERE offer_id = -1") == 7
