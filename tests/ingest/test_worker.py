"""The worker against real Redis and Postgres: replay, dead letters, lost groups."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import orjson
from redis.asyncio import Redis

from ingest import dead_letter
from ingest.faults import Faults
from ingest.worker import Worker
from schemas.events import WIRE_VERSION
from tests.ingest.helpers import click, push, raw_counts, rollup, setup_offer
from tracker import redis_keys
from tracker.domain.ids import uuid7
from tracker.settings import Settings


class CrashBeforeAck(Exception):
    pass


class DieAfterCommit(Faults):
    """Raises where the real fault hook calls os._exit: committed, not acknowledged."""

    def __init__(self) -> None:
        super().__init__("")

    def after_commit(self) -> None:
        raise CrashBeforeAck


async def _count(pool: asyncpg.Pool, aff: int, table: str = "clicks") -> int:
    return int(await pool.fetchval(f"SELECT count(*) FROM {table} WHERE affiliate_id = $1", aff))


async def test_replayed_entries_change_nothing(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await setup_offer(pool)
    stream = redis_keys.of(settings).click_streams()[0]
    clicks = [click(offer, aff, i, "bot" if i % 10 == 0 else "human") for i in range(300)]
    await push(redis, stream, clicks)

    dying = Worker(settings, pool, redis, consumer="dying")
    dying.faults = DieAfterCommit()
    try:
        await dying.run(burst=True)
        raise AssertionError("the worker should have died")
    except CrashBeforeAck:
        pass
    first = await _count(pool, aff)
    assert first == 300  # the batch is committed...
    assert (await redis.xpending(stream, settings.consumer_group))["pending"] == 3  # ...not acked
    before = await rollup(pool, aff)
    assert sum(r[2] for r in before) == 300  # type: ignore[misc]

    # A second worker claims the dead consumer's pending entries and replays them.
    survivor = Worker(settings, pool, redis, consumer="survivor", claim_idle_ms=0)
    await survivor.run(burst=True)

    distinct = await pool.fetchval(
        "SELECT count(DISTINCT click_id) FROM clicks WHERE affiliate_id = $1", aff
    )
    assert await _count(pool, aff) == distinct == 300
    after = await rollup(pool, aff)
    assert after == before == await raw_counts(pool, aff)
    assert sum(r[4] for r in after) == 270 and sum(r[5] for r in after) == 30  # type: ignore[misc]
    assert (await redis.xpending(stream, settings.consumer_group))["pending"] == 0

    # The very same entries delivered again: no row, no count changes.
    await push(redis, stream, clicks)
    await Worker(settings, pool, redis, consumer="again").run(burst=True)
    assert await _count(pool, aff) == 300
    assert await rollup(pool, aff) == after


async def test_bad_entries_go_to_the_dead_letter_stream(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await setup_offer(pool)
    stream = redis_keys.of(settings).click_streams()[0]
    good = [click(offer, aff, i) for i in range(50)]
    broken = click(offer, aff, 99, click_id="not-a-uuid")
    await push(redis, stream, [*good[:25], broken, *good[25:]])
    await redis.xadd(stream, {"v": WIRE_VERSION, "clicks": b"{not json"})
    await redis.xadd(stream, {"v": "999", "clicks": b"[]"})
    await redis.xadd(stream, {"junk": "1"})
    # Valid on the wire, refused by Postgres (bigint overflow): that entry alone is set aside.
    await push(redis, stream, [click(offer, aff, 7, offer_id=2**63 + 5)])
    await push(redis, stream, [click(offer, aff, 8)])

    await Worker(settings, pool, redis, consumer="w").run(burst=True)

    assert await _count(pool, aff) == 51
    dead = [(i, f) for _, i, f in await dead_letter.read_all(redis, settings)]
    assert {k for k, _, _ in await dead_letter.read_all(redis, settings)} == {
        redis_keys.of(settings).dead_letter_of(stream)
    }  # the shard's own dead-letter stream, in its slot
    reasons = sorted(f[b"reason"].decode().split(":", 1)[0] for _, f in dead)
    assert reasons == ["db", "invalid", "json", "version", "version"]
    invalid = next(f for _, f in dead if f[b"reason"].startswith(b"invalid"))
    assert b"click_id" in invalid[b"reason"] and b"not-a-uuid" in invalid[b"payload"]
    assert (await redis.xpending(stream, settings.consumer_group))["pending"] == 0


async def test_group_lost_by_redis_is_recreated(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await setup_offer(pool)
    stream = redis_keys.of(settings).click_streams()[0]
    worker = Worker(settings, pool, redis, consumer="w")
    await worker.ensure_groups()
    await redis.delete(stream)  # as after a restart without AOF: stream and group gone
    await push(redis, stream, [click(offer, aff, 1)])
    await worker.run(burst=True)
    assert await _count(pool, aff) == 1


async def test_same_visitor_in_parallel_on_two_workers_is_unique_once(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    settings.stream_shards = 2
    offer, aff = await setup_offer(pool)
    same = [click(offer, aff, 7) for _ in range(10)]
    for i, c in enumerate(same):  # one click per entry, spread over both shards
        await push(redis, redis_keys.of(settings).click_streams()[i % 2], [c])
    workers = [Worker(settings, pool, redis, consumer=f"w{i}") for i in range(2)]
    await asyncio.gather(*(w.run(burst=True) for w in workers))
    rows = await pool.fetch("SELECT is_unique FROM clicks WHERE affiliate_id = $1", aff)
    assert len(rows) == 10 and sum(r["is_unique"] for r in rows) == 1
    assert sum(r[3] for r in await rollup(pool, aff)) == 1  # type: ignore[misc]


async def test_impressions_are_counted_once_and_not_stored_as_clicks(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await setup_offer(pool)
    stream = redis_keys.of(settings).click_streams()[0]
    hits = [click(offer, aff, i, kind="impression") for i in range(40)]
    hits += [click(offer, aff, i) for i in range(10)]
    await push(redis, stream, hits, per_entry=7)
    await push(redis, stream, hits[:20], per_entry=7)  # replayed impressions
    await Worker(settings, pool, redis, consumer="w").run(burst=True)
    assert await _count(pool, aff) == 10
    assert await _count(pool, aff, "impressions") == 40
    rolled = await rollup(pool, aff)
    assert sum(r[6] for r in rolled) == 40 and sum(r[2] for r in rolled) == 10  # type: ignore[misc]
    assert rolled == await raw_counts(pool, aff)


async def test_partition_is_created_for_an_old_day(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await setup_offer(pool)
    old = datetime(2026, 1, 15, 23, 59, 59, tzinfo=UTC)
    c = click(offer, aff, 1, click_id=str(uuid7(int(old.timestamp() * 1e9))), ts=old.timestamp())
    await redis.xadd(
        redis_keys.of(settings).click_streams()[0], {"v": WIRE_VERSION, "clicks": orjson.dumps([c])}
    )
    await Worker(settings, pool, redis, consumer=f"w{uuid.uuid4().hex[:4]}").run(burst=True)
    where = await pool.fetchval(
        "SELECT tableoid::regclass::text FROM clicks WHERE click_id = $1",
        uuid.UUID(str(c["click_id"])),
    )
    assert where == "clicks_20260115"
