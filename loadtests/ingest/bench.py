"""Ingest benchmark: one command, prints figures and ratios against baselines.

    flock /tmp/tracker-bench.lock .venv/bin/python -m loadtests.ingest.bench

Starts its own PostgreSQL and Redis (embedded, in a temporary folder, on
loopback), then measures in one run:

1. raw COPY: the worker's own pre-formatted rows COPYed straight into ``clicks``;
2. worker: the same number of clicks from a pre-filled stream (entries of 500,
   as the sink writes them) into Postgres by one worker (this process), with
   enrichment on (ua-parser, GeoIP file, salted hash, unique judge, rollups);
3. per-entry baseline: one click per stream entry, the simplest loop;
4. poison: 10k good clicks with 100 malformed entries among them, vs clean;
5. freshness: 5k clicks/s offered through the real click sink for a while, a
   ``tracker ingest`` subprocess consuming; p99 of click time → row visible.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import uvloop
from redis.asyncio import Redis

from ingest import dead_letter
from ingest.clicks.copytext import NULL
from ingest.clicks.rows import CLICK_COLUMNS
from ingest.worker import Worker
from loadtests.ingest.baseline import consume_per_entry, fill_one_per_entry
from loadtests.ingest.data import build_geo_db, make_clicks
from loadtests.summary import Summary
from schemas.events import WIRE_VERSION
from tracker import redis_keys
from tracker.redis_client import open_redis
from tracker.runtime.servers import servers
from tracker.settings import Settings
from tracker.store.db import open_pool
from tracker.store.migrate import migrate_dsn


async def _reset(pool: asyncpg.Pool) -> None:
    await pool.execute("TRUNCATE clicks, impressions, rollup_spans")
    await pool.execute("CHECKPOINT")


async def _fill(redis: Redis, stream: str, clicks: list[dict[str, Any]], per: int = 500) -> None:
    for chunk in range(0, len(clicks), per * 20):
        async with redis.pipeline(transaction=False) as pipe:
            for start in range(chunk, min(chunk + per * 20, len(clicks)), per):
                payload = orjson.dumps(clicks[start : start + per])
                pipe.xadd(stream, {"v": WIRE_VERSION, "clicks": payload})
            await pipe.execute()


async def _offer(pool: asyncpg.Pool) -> tuple[int, int]:
    adv = await pool.fetchval(
        "INSERT INTO advertisers (name, postback_token) VALUES ('b', 't') RETURNING id"
    )
    aff = await pool.fetchval("INSERT INTO affiliates (name) VALUES ('p') RETURNING id")
    offer = await pool.fetchval(
        "INSERT INTO offers (advertiser_id, name, landing_url) "
        "VALUES ($1, 'o', 'https://x.example/') RETURNING id",
        adv,
    )
    return int(offer), int(aff)


async def raw_copy(pool: asyncpg.Pool, worker: Worker, clicks: list[dict[str, Any]]) -> float:
    """Rows/s of COPY of the worker's own rows (formatted beforehand) straight into clicks."""
    from ingest.clicks.parse import parse_wire

    chunks = []  # the worker's own COPY text, made beforehand (untimed)
    for start in range(0, len(clicks), 5000):
        payload = orjson.dumps(clicks[start : start + 5000])
        entries = [(b"0-1", {b"v": WIRE_VERSION.encode(), b"clicks": payload})]
        prepared = await worker.clicks.prepare(parse_wire(entries).clicks)
        await worker.clicks._partitions.ensure(pool, prepared.days)
        chunks.append(prepared.click_text)
    rows = sum(c.count(b"\n") for c in chunks)
    t0 = time.perf_counter()
    async with pool.acquire() as conn:
        for chunk in chunks:
            await conn.copy_to_table("clicks", source=io.BytesIO(chunk), columns=CLICK_COLUMNS,
                                     format="text", null=NULL)  # fmt: skip
    return rows / (time.perf_counter() - t0)


async def worker_rate(settings: Settings, pool: asyncpg.Pool, redis: Redis,
                      clicks: list[dict[str, Any]], consumer: str) -> float:  # fmt: skip
    n = len(clicks)
    await _fill(redis, redis_keys.of(settings).click_streams()[0], clicks)
    del clicks  # the worker process would not hold the load generator's objects
    gc.collect()
    gc.freeze()  # as `tracker ingest` does after start (tracker/runtime/compose.py)
    thresholds = gc.get_threshold()
    gc.set_threshold(20_000, 20, 50)
    worker = Worker(settings, pool, redis, consumer=consumer)
    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(worker.run(burst=True), 150)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    return n / (time.perf_counter() - t0)


async def poison(settings: Settings, pool: asyncpg.Pool, redis: Redis, offer: int, aff: int,
                 rounds: int) -> tuple[float, float, int]:  # fmt: skip
    """Median clicks/s of 10k good clicks, clean and with 100 malformed entries among them."""
    stream = redis_keys.of(settings).click_streams()[0]
    clean, dirty, dead = [], [], 0
    worker = Worker(settings, pool, redis, consumer="poison")  # one worker: warm caches
    await _fill(redis, stream, make_clicks(10_000, offer, aff, seed=999))
    await asyncio.wait_for(worker.run(burst=True), 60)
    for r in range(rounds):
        for bad in (False, True):
            good = make_clicks(10_000, offer, aff, seed=1000 + r * 2 + bad)
            dead_before = await dead_letter.count_all(redis, settings)
            async with redis.pipeline(transaction=False) as pipe:
                for i in range(100):
                    pipe.xadd(stream, {"v": WIRE_VERSION,
                                       "clicks": orjson.dumps(good[i * 100 : i * 100 + 100])})  # fmt: skip
                    if bad:
                        junk = (b"{broken", b'[{"click_id": "nope"}]', b"[]")[i % 3]
                        pipe.xadd(
                            stream, {"v": WIRE_VERSION if i % 3 != 2 else "0", "clicks": junk}
                        )
                await pipe.execute()
            t0 = time.perf_counter()
            await asyncio.wait_for(worker.run(burst=True), 60)
            rate = 10_000 / (time.perf_counter() - t0)
            (dirty if bad else clean).append(rate)
            if bad:
                dead += await dead_letter.count_all(redis, settings) - dead_before
    return statistics.median(clean), statistics.median(dirty), dead


async def freshness(settings: Settings, pool: asyncpg.Pool, redis: Redis, offer: int, aff: int,
                    rate: int, seconds: float) -> dict[str, float]:  # fmt: skip
    from redirect.sink import ClickSink
    from tracker.resources import Services

    env = dict(os.environ, TRACKER_DATABASE_URL=settings.database_url or "",
               TRACKER_REDIS_URL=settings.redis_url or "",
               TRACKER_STREAM_PREFIX=settings.stream_prefix, TRACKER_LOG_LEVEL="warning",
               TRACKER_GEOIP_DB=str(settings.geoip_db), TRACKER_INGEST_BLOCK_MS="20")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "ingest"], env=env)
    sink = ClickSink(redis_keys.of(settings).click_streams(), 500, 20, 200_000)
    await sink.start_with(Services(settings, pool, redis))
    seen: dict[str, float] = {}
    sent = 0
    try:
        await asyncio.sleep(3)  # the worker process starts
        stop_at = time.monotonic() + seconds
        tick = 0.01
        per_tick = max(1, int(rate * tick))
        next_tick = time.monotonic()

        async def poll() -> None:
            rows = await pool.fetch(
                "SELECT click_id::text, created_at FROM clicks "
                "WHERE offer_id = $1 AND created_at > now() - interval '5 seconds'",
                offer,
            )
            now = time.time()
            for cid, created in rows:
                if cid not in seen:
                    seen[cid] = now - created.timestamp()

        next_poll = time.monotonic()
        for _ in range(int(seconds / tick) + 1000):  # bounded
            if time.monotonic() >= stop_at:
                break
            for c in make_clicks(per_tick, offer, aff, seed=sent):
                sink.add(c)
            sent += per_tick
            if time.monotonic() >= next_poll:
                await poll()
                next_poll = time.monotonic() + 0.05
            next_tick += tick
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
        for _ in range(200):  # at most 10 s for the tail
            await poll()
            if len(seen) >= sent:
                break
            await asyncio.sleep(0.05)
    finally:
        await sink.stop()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    lat = sorted(seen.values())
    q = statistics.quantiles(lat, n=100) if len(lat) > 2 else [0.0] * 99
    return {
        "sent": sent,
        "seen": len(seen),
        "p50": q[49],
        "p99": q[98],
        "max": lat[-1] if lat else 0,
    }


async def main(args: argparse.Namespace) -> int:
    summary = Summary("loadtests.ingest.bench")
    figures: dict[str, Any] = {"clicks": args.clicks, "batch_entries": args.batch_entries}
    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as tmp, \
            servers(Settings(data_dir=Path(tmp)), owner=True) as urls:  # fmt: skip
        await migrate_dsn(urls.database_url)
        settings = Settings(
            database_url=urls.database_url, redis_url=urls.redis_url, data_dir=Path(tmp),
            geoip_db=build_geo_db(Path(tmp) / "geo.mmdb"), stream_prefix="bench",
            ingest_batch_entries=args.batch_entries, ingest_block_ms=20, redis_timeout_s=5,
        )  # fmt: skip
        pool = await open_pool(settings, urls.database_url, max_size=4)
        redis = open_redis(settings, urls.redis_url, block_ms=settings.ingest_block_ms)
        try:
            offer, aff = await _offer(pool)
            n = args.clicks
            print(f"clicks per run: {n}; entries of 500; batch of {args.batch_entries} entries")
            warm = Worker(settings, pool, redis, consumer="warm")
            await worker_rate(settings, pool, redis, make_clicks(5_000, offer, aff, seed=1), "warm")
            await _reset(pool)
            raw = await raw_copy(pool, warm, make_clicks(n, offer, aff, seed=2))
            await _reset(pool)
            work = await worker_rate(settings, pool, redis, make_clicks(n, offer, aff, seed=3), "w")
            got = await pool.fetchval("SELECT count(*) FROM clicks")
            assert got == n, f"worker wrote {got} of {n}"
            await _reset(pool)
            m = min(n, args.baseline_clicks)
            base_stream = "bench:baseline"
            await fill_one_per_entry(redis, base_stream, make_clicks(m, offer, aff, seed=4))
            base = m / await consume_per_entry(redis, pool, base_stream, m)
            await _reset(pool)
            print(f"raw COPY into clicks       {raw:>9,.0f} rows/s")
            print(f"per-entry baseline         {base:>9,.0f} rows/s")
            print(f"worker (enrichment on)     {work:>9,.0f} rows/s")
            print(f"  worker / raw COPY        {work / raw:>9.2f}x   (target >= 0.5)")
            print(f"  worker / per-entry       {work / base:>9.2f}x   (target >= 2.5)")
            figures.update(worker_rows_s=work, copy_rows_s=raw, per_entry_rows_s=base,
                           worker_vs_copy=work / raw, worker_vs_per_entry=work / base)  # fmt: skip
            clean, dirty, dead = await poison(settings, pool, redis, offer, aff, args.poison_rounds)
            print(f"poison: clean {clean:,.0f}/s, with 100 malformed {dirty:,.0f}/s, "
                  f"drop {100 * (1 - dirty / clean):.1f}% (target <= 10%); "
                  f"dead-lettered {dead} of {100 * args.poison_rounds}")  # fmt: skip
            figures.update(poison_clean_rows_s=clean, poison_dirty_rows_s=dirty,
                           poison_drop=1 - dirty / clean, dead_lettered=dead,
                           malformed_sent=100 * args.poison_rounds)  # fmt: skip
            await _reset(pool)
            if args.fresh_seconds > 0:
                f = await freshness(
                    settings, pool, redis, offer, aff, args.rate, args.fresh_seconds
                )
                print(f"freshness at {args.rate}/s for {args.fresh_seconds:.0f}s: "
                      f"{f['seen']}/{f['sent']} visible, p50 {f['p50'] * 1000:.0f} ms, "
                      f"p99 {f['p99'] * 1000:.0f} ms (target <= 1000), max {f['max'] * 1000:.0f} ms")  # fmt: skip
                figures.update(fresh_sent=f["sent"], fresh_seen=f["seen"],
                               fresh_p50_ms=f["p50"] * 1000, fresh_p99_ms=f["p99"] * 1000,
                               fresh_max_ms=f["max"] * 1000)  # fmt: skip
        finally:
            await redis.aclose()
            await pool.close()
    summary.print(figures)
    return 0


def cli() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clicks", type=int, default=200_000)
    p.add_argument("--baseline-clicks", type=int, default=60_000)
    p.add_argument("--batch-entries", type=int, default=10)
    p.add_argument("--poison-rounds", type=int, default=7)
    p.add_argument("--rate", type=int, default=5_000)
    p.add_argument("--fresh-seconds", type=float, default=20)
    return uvloop.run(main(p.parse_args()))


if __name__ == "__main__":
    sys.exit(cli())
