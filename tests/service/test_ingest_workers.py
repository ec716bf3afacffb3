"""`tracker ingest --workers 2`: two real consumers in one group, one killed with -9.

The supervisor restarts the dead worker, the other claims what it left pending, and
every click is a row exactly once (rollups agree); SIGTERM stops both cleanly and
nothing is left pending. The supervisor's `/metrics` is the sum over its workers.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import asyncpg
import httpx
import psutil
from redis.asyncio import Redis

from tests.ingest.helpers import click, raw_counts, rollup, setup_offer
from tests.ingest.procs import load, wait_rows, worker_env
from tests.servers import free_port
from tracker import redis_keys
from tracker.settings import Settings


def _children(pid: int) -> list[int]:
    return [c.pid for c in psutil.Process(pid).children()]


async def _metric(port: int, name: str) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{") and 'table="clicks"' in line)  # fmt: skip


async def test_kill_9_of_one_of_two_ingest_workers_loses_nothing(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    settings.stream_shards = 2
    offer, aff = await setup_offer(pool)
    clicks = [click(offer, aff, i, "bot" if i % 7 == 0 else "human") for i in range(20_000)]
    metrics_port = free_port()
    log_path = settings.data_dir / "ingest.log"
    with log_path.open("wb") as log:
        sup = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "ingest", "--workers", "2",
             "--metrics-port", str(metrics_port)],
            env=worker_env(settings, TRACKER_LOG_LEVEL="info"), stdout=subprocess.DEVNULL,
            stderr=log,
        )  # fmt: skip
    loader: asyncio.Task[None] | None = None
    try:
        deadline = time.monotonic() + 60
        while len(_children(sup.pid)) < 2:
            assert time.monotonic() < deadline and sup.poll() is None, log_path.read_text()
            await asyncio.sleep(0.1)
        # The load starts once both workers run, so that on a slow machine the kill still
        # lands in the middle of it (started before, the whole load could be written
        # before the workers were up and the kill would test nothing).
        loader = asyncio.create_task(
            load(redis, redis_keys.of(settings).click_streams(), clicks, rate=4_000)
        )
        victim, survivor = _children(sup.pid)
        before = 0
        while before < 2_000:  # both consuming, in the middle of the load
            assert time.monotonic() < deadline, "no rows written"
            await asyncio.sleep(0.1)
            before = int(await pool.fetchval("SELECT count(*) FROM clicks WHERE affiliate_id = $1",
                                             aff))  # fmt: skip
        assert before < len(clicks)
        psutil.Process(victim).send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:  # the supervisor starts a new worker in the dead one's place
            now = set(_children(sup.pid))
            if victim not in now and len(now) == 2:
                break
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            await asyncio.sleep(0.1)
        assert survivor in now
        await loader
        assert await wait_rows(pool, aff, len(clicks)) == len(clicks)
        # The sum over the workers, the killed one's counts included (its files stay).
        counted = await _metric(metrics_port, "tracker_rows_ingested_total")
        assert before <= counted <= len(clicks)
    finally:
        if loader is not None:
            loader.cancel()
        sup.send_signal(signal.SIGTERM)
        code = sup.wait(60)
    assert code == 0, log_path.read_text()[-3000:]
    rows = await pool.fetch("SELECT click_id::text FROM clicks WHERE affiliate_id = $1", aff)
    got = [r[0] for r in rows]
    assert len(got) == len(set(got)) == len(clicks)
    assert set(got) == {c["click_id"] for c in clicks}
    assert await rollup(pool, aff) == await raw_counts(pool, aff)
    for stream in redis_keys.of(settings).click_streams():
        assert (await redis.xpending(stream, settings.consumer_group))["pending"] == 0
    text = log_path.read_text()
    assert f"worker {victim} exited with -9" in text and "restarted as" in text


async def test_burst_with_two_workers_drains_every_shard_and_exits(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    settings.stream_shards = 2
    offer, aff = await setup_offer(pool)
    clicks = [click(offer, aff, i) for i in range(3_000)]
    await load(redis, redis_keys.of(settings).click_streams(), clicks, rate=1_000_000)
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", "ingest", "--workers", "2", "--burst"],
        env=worker_env(settings), capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    got = await pool.fetchval(
        "SELECT count(DISTINCT click_id) FROM clicks WHERE affiliate_id = $1", aff
    )
    assert got == len(clicks)
    consumers = set()
    for stream in redis_keys.of(settings).click_streams():
        for c in await redis.xinfo_consumers(stream, settings.consumer_group):
            consumers.add(c["name"])
    assert len(consumers) == 2  # both workers joined the group
