"""Crash tests that really kill: worker processes under kill -9, a commit without its XACK."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import asyncpg
from redis.asyncio import Redis

from ingest.faults import ENV as FAULT_ENV
from ingest.faults import EXIT_CODE
from tests.ingest.helpers import click, push, raw_counts, rollup, setup_offer
from tests.ingest.procs import kill9, load, start_worker, stop, wait_rows, worker_env
from tracker import redis_keys
from tracker.settings import Settings


async def _exactly_once(pool: asyncpg.Pool, aff: int, ids: list[str]) -> None:
    rows = await pool.fetch("SELECT click_id::text FROM clicks WHERE affiliate_id = $1", aff)
    got = [r[0] for r in rows]
    assert len(got) == len(set(got)) == len(ids)
    assert set(got) == set(ids)
    assert await rollup(pool, aff) == await raw_counts(pool, aff)


async def test_kill_9_five_times_during_50k_clicks_with_two_workers(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    settings.stream_shards = 2
    offer, aff = await setup_offer(pool)
    clicks = [click(offer, aff, i, "bot" if i % 9 == 0 else "human") for i in range(50_000)]
    workers = [start_worker(settings), start_worker(settings)]
    loader = asyncio.create_task(
        load(redis, redis_keys.of(settings).click_streams(), clicks, rate=8_000)
    )
    kills = 0
    try:
        for k in range(5):
            await asyncio.sleep(0.9)
            victim = k % 2
            kill9(workers[victim])
            kills += 1
            workers[victim] = start_worker(settings)
        await loader
        assert await wait_rows(pool, aff, len(clicks)) == len(clicks)
    finally:
        loader.cancel()
        codes = [stop(w) for w in workers]
    assert kills == 5
    assert codes == [0, 0]  # SIGTERM: the batch in hand committed, then a clean exit
    await _exactly_once(pool, aff, [c["click_id"] for c in clicks])
    for stream in redis_keys.of(settings).click_streams():
        assert (await redis.xpending(stream, settings.consumer_group))["pending"] == 0


async def test_killed_after_commit_before_xack_the_replay_changes_nothing(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await setup_offer(pool)
    clicks = [click(offer, aff, i) for i in range(3_000)]
    await push(redis, redis_keys.of(settings).click_streams()[0], clicks, per_entry=100)
    dying = start_worker(settings, "--burst", **{FAULT_ENV: "exit_after_commit"})
    assert dying.wait(60) == EXIT_CODE
    committed = int(await pool.fetchval("SELECT count(*) FROM clicks WHERE affiliate_id = $1", aff))
    assert 0 < committed <= len(clicks)
    pending = (
        await redis.xpending(redis_keys.of(settings).click_streams()[0], settings.consumer_group)
    )["pending"]
    assert pending > 0  # committed, never acknowledged
    before = await rollup(pool, aff)
    survivor = start_worker(settings, "--burst")
    assert survivor.wait(60) == 0
    await _exactly_once(pool, aff, [c["click_id"] for c in clicks])
    after = await rollup(pool, aff)
    # The replayed batch added nothing: what it had committed is counted once.
    assert sum(r[2] for r in after) == len(clicks)  # type: ignore[misc]
    assert sum(r[2] for r in before) == committed  # type: ignore[misc]


async def test_same_visitor_ten_times_in_parallel_across_two_processes_is_one_unique(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    settings.stream_shards = 2
    offer, aff = await setup_offer(pool)
    for i in range(10):  # one click per entry, both shards, same IP and agent
        await push(redis, redis_keys.of(settings).click_streams()[i % 2], [click(offer, aff, 7)])
    procs = [start_worker(settings, "--burst") for _ in range(2)]
    assert [p.wait(60) for p in procs] == [0, 0]
    rows = await pool.fetch("SELECT is_unique FROM clicks WHERE affiliate_id = $1", aff)
    assert len(rows) == 10 and sum(r["is_unique"] for r in rows) == 1


async def test_health_check_exits_non_zero_without_recent_progress(settings: Settings) -> None:
    def check(prefix: str) -> int:
        env = worker_env(settings, TRACKER_STREAM_PREFIX=prefix)
        cmd = [sys.executable, "-m", "service.cli", "ingest", "--check"]
        return subprocess.run(cmd, env=env, capture_output=True, timeout=60).returncode

    assert check(f"t{uuid.uuid4().hex[:8]}") == 1  # no worker ever ran
    worker = start_worker(settings)
    try:
        for _ in range(100):
            if check(settings.stream_prefix) == 0:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("a running worker never reported progress")
    finally:
        assert stop(worker) == 0
