"""Servers restarted under load: dedicated Redis / Postgres, a real worker process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from redis.asyncio import Redis

from tests.ingest.helpers import click, raw_counts, rollup, setup_offer
from tests.ingest.procs import load, start_worker, stop, wait_rows
from tracker import redis_keys
from tracker.redis_client import open_redis
from tracker.runtime.embedded_pg import EmbeddedPostgres
from tracker.runtime.embedded_redis import EmbeddedRedis
from tracker.settings import Settings
from tracker.store.migrate import migrate_dsn


async def _exactly_once(pool: asyncpg.Pool, aff: int, n: int) -> None:
    total, distinct = await pool.fetchrow(
        "SELECT count(*), count(DISTINCT click_id) FROM clicks WHERE affiliate_id = $1", aff
    )
    assert total == distinct == n
    assert await rollup(pool, aff) == await raw_counts(pool, aff)


async def test_redis_restarted_mid_load_loses_nothing(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    server = EmbeddedRedis(tmp_path / "own-redis")  # AOF on, appendfsync everysec
    settings.redis_url = server.start()
    port = server.port
    redis: Redis = open_redis(settings, settings.redis_url)
    offer, aff = await setup_offer(pool)
    clicks = [click(offer, aff, i) for i in range(20_000)]
    worker = start_worker(settings)
    try:
        loader = asyncio.create_task(
            load(redis, redis_keys.of(settings).click_streams(), clicks, rate=5_000)
        )
        await asyncio.sleep(1.5)
        server.stop()  # SIGTERM: Redis writes its AOF and exits
        await asyncio.sleep(1.0)
        server.start(port=port)
        await loader
        assert await wait_rows(pool, aff, len(clicks)) == len(clicks)
        assert stop(worker) == 0
        await _exactly_once(pool, aff, len(clicks))
        stream = redis_keys.of(settings).click_streams()[0]
        assert (await redis.xpending(stream, settings.consumer_group))["pending"] == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        await redis.aclose()
        server.stop(kill=True)


async def test_postgres_restarted_mid_load_the_worker_waits_and_resumes(
    settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    pg = EmbeddedPostgres(tmp_path / "own-pg")
    settings.database_url = pg.start()
    port = pg.port
    await migrate_dsn(settings.database_url)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    worker = None
    try:
        offer, aff = await setup_offer(pool)
        clicks = [click(offer, aff, i) for i in range(20_000)]
        worker = start_worker(settings)
        loader = asyncio.create_task(
            load(redis, redis_keys.of(settings).click_streams(), clicks, rate=5_000)
        )
        await asyncio.sleep(1.5)
        pg._pg("pg_ctl", "-D", str(pg.pgdata), "-m", "fast", "-w", "-t", "60", "stop")
        await asyncio.sleep(2.0)
        pg._pg("pg_ctl", "-D", str(pg.pgdata), "-l", str(pg.pgdata / "server.log"),
               "-o", f"-p {port}", "-w", "-t", "60", "start")  # fmt: skip
        await loader
        await pool.expire_connections()
        assert await wait_rows(pool, aff, len(clicks)) == len(clicks)
        assert stop(worker) == 0
        await _exactly_once(pool, aff, len(clicks))
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        await pool.close()
        pg.stop()
