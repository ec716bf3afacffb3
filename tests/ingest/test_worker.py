"""The worker against real Redis and Postgres: replay, dead letters, lost groups."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import orjson
from redis.asyncio import Redis

from ingest.worker import Worker
from schemas.events import WIRE_VERSION
from tracker.domain.ids import uuid7, uuid7_time_ms
from tracker.settings import Settings


async def _setup_offer(pool: asyncpg.Pool) -> tuple[int, int]:
    adv = await pool.fetchval(
        "INSERT INTO advertisers (name, postback_token) VALUES ('a', 't') RETURNING id"
    )
    aff = await pool.fetchval("INSERT INTO affiliates (name) VALUES ('p') RETURNING id")
    offer = await pool.fetchval(
        "INSERT INTO offers (advertiser_id, name, landing_url) VALUES ($1, 'o', 'https://x.example/') RETURNING id",
        adv,
    )
    return offer, aff


def _click(offer: int, aff: int, i: int, cls: str = "human") -> dict[str, object]:
    cid = uuid7()
    return {
        "click_id": str(cid), "ts": uuid7_time_ms(cid) / 1000, "link_id": 1, "link_code": "code",
        "offer_id": offer, "aff_id": aff, "subs": [f"s{i}", None, None, None, None],
        "ip": f"10.1.{i % 250}.{i % 200}", "ua": f"Mozilla/5.0 v{i}", "referer": "", "cls": cls,
    }  # fmt: skip


async def _rollup(pool: asyncpg.Pool, aff: int) -> list[tuple[object, ...]]:
    rows = await pool.fetch(
        "SELECT hour, click_class, gross_clicks, unique_clicks, human_clicks, bot_clicks "
        "FROM rollup_hourly WHERE affiliate_id = $1 ORDER BY 1, 2",
        aff,
    )
    return [tuple(r) for r in rows]


class CrashBeforeAck(Exception):
    pass


class DiesBeforeAck(Worker):
    """Commits its batch, then dies before XACK (as a killed process would)."""

    async def _process(self, stream: str, entries: list) -> None:  # type: ignore[type-arg]
        await self._handlers[stream](stream, entries)
        raise CrashBeforeAck


async def test_replayed_entries_change_nothing(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await _setup_offer(pool)
    stream = settings.click_streams()[0]
    clicks = [_click(offer, aff, i, "bot" if i % 10 == 0 else "human") for i in range(300)]
    for start in range(0, 300, 100):
        await redis.xadd(
            stream, {"v": WIRE_VERSION, "clicks": orjson.dumps(clicks[start : start + 100])}
        )

    dying = DiesBeforeAck(settings, pool, redis, consumer="dying")
    await dying.ensure_groups()
    try:
        await dying._read(">")
        raise AssertionError("the worker should have died")
    except CrashBeforeAck:
        pass
    first = await pool.fetchval("SELECT count(*) FROM clicks WHERE affiliate_id = $1", aff)
    assert first == 300  # the batch is committed...
    assert (await redis.xpending(stream, settings.consumer_group))[
        "pending"
    ] == 3  # ...not acknowledged
    before = await _rollup(pool, aff)
    assert sum(r[2] for r in before) == 300

    # A second worker claims the dead consumer's pending entries and replays them.
    survivor = Worker(settings, pool, redis, consumer="survivor", claim_idle_ms=0)
    await survivor.run(burst=True)

    n = await pool.fetchval("SELECT count(*) FROM clicks WHERE affiliate_id = $1", aff)
    distinct = await pool.fetchval(
        "SELECT count(DISTINCT click_id) FROM clicks WHERE affiliate_id = $1", aff
    )
    assert n == distinct == 300
    after = await _rollup(pool, aff)
    assert after == before
    assert sum(r[4] for r in after) == 270 and sum(r[5] for r in after) == 30
    pending = await redis.xpending(stream, settings.consumer_group)
    assert pending["pending"] == 0

    # The very same entries delivered again: no row, no count changes.
    for start in range(0, 300, 100):
        await redis.xadd(
            stream, {"v": WIRE_VERSION, "clicks": orjson.dumps(clicks[start : start + 100])}
        )
    await Worker(settings, pool, redis, consumer="again").run(burst=True)
    assert await pool.fetchval("SELECT count(*) FROM clicks WHERE affiliate_id = $1", aff) == 300
    assert await _rollup(pool, aff) == after
    raw = await pool.fetchval(
        "SELECT count(*) FILTER (WHERE is_unique) FROM clicks WHERE affiliate_id = $1", aff
    )
    assert raw == sum(r[3] for r in after)


async def test_bad_entries_go_to_the_dead_letter_stream(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await _setup_offer(pool)
    stream = settings.click_streams()[0]
    good = [_click(offer, aff, i) for i in range(50)]
    broken = dict(_click(offer, aff, 99))
    broken["click_id"] = "not-a-uuid"
    await redis.xadd(
        stream, {"v": WIRE_VERSION, "clicks": orjson.dumps([*good[:25], broken, *good[25:]])}
    )
    await redis.xadd(stream, {"v": WIRE_VERSION, "clicks": b"{not json"})
    await redis.xadd(stream, {"v": "999", "clicks": b"[]"})
    await redis.xadd(stream, {"junk": "1"})

    await Worker(settings, pool, redis, consumer="w").run(burst=True)

    assert await pool.fetchval("SELECT count(*) FROM clicks WHERE affiliate_id = $1", aff) == 50
    dead = await redis.xrange(settings.dead_letter_stream())
    reasons = sorted(f[b"reason"].decode().split(":", 1)[0] for _, f in dead)
    assert reasons == ["invalid", "json", "version", "version"]
    invalid = next(f for _, f in dead if f[b"reason"].startswith(b"invalid"))
    assert b"click_id" in invalid[b"reason"] and b"not-a-uuid" in invalid[b"payload"]
    assert (await redis.xpending(stream, settings.consumer_group))["pending"] == 0


async def test_group_lost_by_redis_is_recreated(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await _setup_offer(pool)
    stream = settings.click_streams()[0]
    worker = Worker(settings, pool, redis, consumer="w")
    await worker.ensure_groups()
    await redis.delete(stream)  # as after a restart without AOF: stream and group gone
    await redis.xadd(stream, {"v": WIRE_VERSION, "clicks": orjson.dumps([_click(offer, aff, 1)])})
    await worker.run(burst=True)
    assert await pool.fetchval("SELECT count(*) FROM clicks WHERE affiliate_id = $1", aff) == 1


async def test_same_visitor_is_unique_once(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await _setup_offer(pool)
    stream = settings.click_streams()[0]
    same = []
    for _ in range(10):
        c = _click(offer, aff, 7)
        same.append(c)
    await redis.xadd(stream, {"v": WIRE_VERSION, "clicks": orjson.dumps(same[:5])})
    await redis.xadd(stream, {"v": WIRE_VERSION, "clicks": orjson.dumps(same[5:])})
    await Worker(settings, pool, redis, consumer="w").run(burst=True)
    rows = await pool.fetch("SELECT is_unique FROM clicks WHERE affiliate_id = $1", aff)
    assert len(rows) == 10 and sum(r["is_unique"] for r in rows) == 1


async def test_partition_is_created_for_an_old_day(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await _setup_offer(pool)
    old = datetime(2026, 1, 15, 23, 59, 59, tzinfo=UTC)
    c = _click(offer, aff, 1)
    c["click_id"] = str(uuid7(int(old.timestamp() * 1e9)))
    c["ts"] = old.timestamp()
    await redis.xadd(settings.click_streams()[0], {"v": WIRE_VERSION, "clicks": orjson.dumps([c])})
    await Worker(settings, pool, redis, consumer=f"w{uuid.uuid4().hex[:4]}").run(burst=True)
    where = await pool.fetchval(
        "SELECT tableoid::regclass::text FROM clicks WHERE click_id = $1",
        uuid.UUID(str(c["click_id"])),
    )
    assert where == "clicks_20260115"
