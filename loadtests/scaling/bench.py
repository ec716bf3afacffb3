"""Scaling benchmark: ``tracker serve`` and ``tracker ingest`` with 1 vs 2 worker processes.

    flock /tmp/bench.lock .venv/bin/python -m loadtests.scaling.bench   # about 3 min

Starts its own PostgreSQL and Redis (embedded, loopback; ``--cluster`` uses
a 3-master Redis Cluster from the bundled binary instead), then:

1. serve: ``tracker serve`` (one process), then ``tracker serve --workers 2``
   (two worker processes on one port), each driven by two wrk instances of
   ``connections/2`` connections (the same client cost in both rows), in
   interleaved rounds, medians reported; then ``tracker ingest --burst`` and a
   check that every 302 the servers counted (``/metrics``: summed over the
   workers) is one row in Postgres;
2. ingest: ``--clicks`` clicks pre-filled into the streams (entries of 500,
   as the sink writes them, over ``--shards`` shards), drained by
   ``tracker ingest --burst``, then ``tracker ingest --burst --workers 2``, enrichment on;
   the rate is taken between 5% and 95% of the rows (process start and the
   tail excluded) from the row count in Postgres.

Nothing is pinned: on a 2-core machine wrk, the servers, Redis and Postgres
share both cores, so the ratios say how much a second process gains *here*,
not on a machine with a core per process. No benchmark runs at once with
another: run it under ``flock /tmp/bench.lock``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock

import asyncpg
import orjson

from loadtests.ingest.data import build_geo_db, make_clicks
from loadtests.redirect.bench import ROOT, Result, _answered, _world, process, wrk
from loadtests.summary import Summary
from schemas.events import WIRE_VERSION
from tracker import redis_keys
from tracker.redis_client import open_redis
from tracker.runtime.embedded_cluster import EmbeddedCluster
from tracker.runtime.embedded_pg import free_port
from tracker.runtime.servers import servers
from tracker.settings import Settings
from tracker.store.migrate import migrate_dsn


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _wrk_pair(urls: list[str], seconds: int, connections: int) -> Result:
    """Two wrk processes at once (connections/2 each), one per URL (or both on one)."""
    targets = urls if len(urls) == 2 else urls * 2
    with ThreadPoolExecutor(2) as pool:
        rs = list(pool.map(lambda u: _wrk(u, seconds, connections // 2), targets))
    return Result("", sum(r.rps for r in rs), max(r.p50_ms for r in rs),
                  max(r.p99_ms for r in rs), sum(r.requests for r in rs), sum(r.bad for r in rs))  # fmt: skip


def _wrk(url: str, seconds: int, connections: int) -> Result:
    return wrk(url, seconds, connections)


def _serve(port: int, env: dict[str, str],
           workers: int = 1) -> contextlib.AbstractContextManager[None]:  # fmt: skip
    args = ["-m", "service.cli", "serve", "--port", str(port), "--workers", str(workers)]
    return process(args, env, port, "/healthz")


@contextlib.contextmanager
def _redis_url(work: Path, cluster: bool, default: str) -> Iterator[str]:
    if not cluster:
        yield default
        return
    c = EmbeddedCluster(work / "cluster", masters=3)
    try:
        yield c.start()
    finally:
        c.stop()


def serve_rows(env: dict[str, str], dsn: str, code: str, aff: int, args: argparse.Namespace
               ) -> tuple[Result, Result, int, int]:  # fmt: skip
    path = f"/c/{code}?sub1=scale"
    ports = [free_port() for _ in range(2)]
    one: list[Result] = []
    two: list[Result] = []
    with contextlib.ExitStack() as stack:
        for port, workers in zip(ports, (1, 2), strict=True):
            stack.enter_context(_serve(port, env, workers))
        urls = [f"http://127.0.0.1:{p}{path}" for p in ports]
        for u in urls:
            _wrk(u, args.warmup, args.connections)
        for rnd in range(args.rounds):  # interleaved: noise falls on both rows alike
            one.append(_wrk_pair(urls[:1], args.seconds, args.connections))
            two.append(_wrk_pair(urls[1:], args.seconds, args.connections))
            print(f"  round {rnd + 1}: 1 worker {one[-1].rps:,.0f}/s, 2 workers "
                  f"{two[-1].rps:,.0f}/s", flush=True)  # fmt: skip
        time.sleep(2)  # the workers publish their loop counters every second
        answered = sum(_answered(p) for p in ports)
    # A batch whose write missed its deadline under this load went to the spool; one
    # that was spooled as the servers stopped waits for the next `serve` to replay it.
    spooled = _spool_bytes(env)
    if spooled:
        print(f"  {spooled:,} bytes left in spools at shutdown: replayed by one more serve")
        port = free_port()
        with _serve(port, env):
            deadline = time.monotonic() + 60
            while _spool_bytes(env) and time.monotonic() < deadline:
                time.sleep(0.2)
    subprocess.run([sys.executable, "-m", "service.cli", "ingest", "--burst"], env=env, cwd=ROOT,
                   check=True, timeout=600)  # fmt: skip
    stored = asyncio.run(_count(dsn, "SELECT count(*) FROM clicks WHERE affiliate_id = $1", aff))
    med = [Result(n, _median([r.rps for r in rs]), _median([r.p50_ms for r in rs]),
                  _median([r.p99_ms for r in rs]), sum(r.requests for r in rs),
                  sum(r.bad for r in rs)) for n, rs in (("1 worker", one), ("2 workers", two))]  # fmt: skip
    return med[0], med[1], answered, stored


def _spool_bytes(env: dict[str, str]) -> int:
    root = Path(env["TRACKER_DATA_DIR"]) / "spool"
    return sum(f.stat().st_size for f in root.glob("*/seg-*")) if root.exists() else 0


async def _count(dsn: str, sql: str, *args: Any) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def _fill(settings: Settings, url: str, clicks: list[dict[str, Any]]) -> None:
    redis = open_redis(settings, url)
    shards = redis_keys.of(settings).click_streams()
    try:
        for chunk in range(0, len(clicks), 500 * 40):
            async with redis.pipeline(transaction=False) as pipe:
                for n, start in enumerate(range(chunk, min(chunk + 500 * 40, len(clicks)), 500)):
                    payload = orjson.dumps(clicks[start : start + 500])
                    pipe.xadd(shards[(chunk // 500 + n) % len(shards)],
                              {"v": WIRE_VERSION, "clicks": payload})  # fmt: skip
                await pipe.execute()
    finally:
        await redis.aclose()


async def drain(env: dict[str, str], dsn: str, workers: int, n: int) -> float:
    """Clicks/s of ``tracker ingest --burst --workers N`` from about 5% to 95% of the rows
    (the samples of the row count nearest those marks)."""
    conn = await asyncpg.connect(dsn)
    procs = [subprocess.Popen([sys.executable, "-m", "service.cli", "ingest", "--burst",
                               "--workers", str(workers)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL)]  # fmt: skip
    first: tuple[float, int] | None = None  # the first sample with rows, and the last
    last = (0.0, 0)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and last[1] < 0.95 * n:
            got = int(await conn.fetchval("SELECT count(*) FROM clicks"))
            last = (time.monotonic(), got)
            if first is None and got >= 0.05 * n:
                first = last
            await asyncio.sleep(0.05)
        for p in procs:
            p.wait(600)
        assert all(p.returncode == 0 for p in procs), "an ingest process failed"
        got = int(await conn.fetchval("SELECT count(*) FROM clicks"))
        assert got == n, f"{got} rows of {n}"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        await conn.close()
    assert first is not None and last[0] > first[0], "too few clicks to see a rate: raise --clicks"
    return (last[1] - first[1]) / (last[0] - first[0])


async def ingest_rows(settings: Settings, env: dict[str, str], dsn: str, url: str,
                      args: argparse.Namespace) -> tuple[float, float, float]:  # fmt: skip
    offer, aff = await _offer_for_ingest(dsn)
    rates: dict[int, list[float]] = {1: [], 2: []}
    for rnd in range(args.ingest_rounds):
        for workers in (1, 2):
            conn = await asyncpg.connect(dsn)
            await conn.execute("TRUNCATE clicks, impressions, rollup_spans")
            await conn.execute("CHECKPOINT")
            await conn.close()
            clicks = make_clicks(args.clicks, offer, aff, seed=100 + rnd * 2 + workers)
            await _fill(settings, url, clicks)
            del clicks
            rate = await drain(env, dsn, workers, args.clicks)
            rates[workers].append(rate)
            print(f"  round {rnd + 1}: {workers} ingest {rate:,.0f} clicks/s", flush=True)
    size = await _count(dsn, _SIZE)  # clicks partitions with their indexes, after a run
    return _median(rates[1]), _median(rates[2]), size / args.clicks


_SIZE = """SELECT sum(pg_total_relation_size(i.inhrelid))::bigint
             FROM pg_inherits i WHERE i.inhparent = 'clicks'::regclass"""


async def _offer_for_ingest(dsn: str) -> tuple[int, int]:
    aff, code = await _world(dsn)
    offer = await _count(dsn, "SELECT offer_id FROM tracking_links WHERE code = $1", code)
    return offer, aff


def run(args: argparse.Namespace) -> int:
    summary = Summary("loadtests.scaling.bench")
    work = Path(tempfile.mkdtemp(prefix="tracker-scaling-"))
    try:
        with servers(Settings(data_dir=work), owner=True) as urls, \
                _redis_url(work, args.cluster, urls.redis_url) as redis_url:  # fmt: skip
            dsn = urls.database_url
            asyncio.run(migrate_dsn(dsn))
            geo = build_geo_db(work / "geo.mmdb")
            env = dict(os.environ, TRACKER_DATABASE_URL=dsn, TRACKER_REDIS_URL=redis_url,
                       TRACKER_DATA_DIR=str(work), TRACKER_STREAM_SHARDS=str(args.shards),
                       TRACKER_LOG_LEVEL="warning", TRACKER_GEOIP_DB=str(geo),
                       TRACKER_INGEST_BLOCK_MS="20", TRACKER_INGEST_BATCH_ENTRIES="10",
                       PYTHONPATH=str(ROOT))  # fmt: skip
            settings = Settings(stream_shards=args.shards, stream_prefix="ing", redis_url=redis_url)
            aff, code = asyncio.run(_world(dsn))
            s1 = s2 = Result("skipped", float("nan"), 0, 0, 0, 0)
            i1 = i2 = row_bytes = float("nan")
            answered = stored = 0
            if args.part in ("serve", "both"):
                print(f"serve: {args.rounds} interleaved rounds of {args.seconds} s, "
                      f"{args.connections} connections over two wrk processes", flush=True)  # fmt: skip
                # The redirect bench's wrk and process helpers, without their taskset pinning.
                with mock.patch("loadtests.redirect.bench.pin", lambda cpu: []):
                    s1, s2, answered, stored = serve_rows(dict(env, TRACKER_STREAM_PREFIX="srv"),
                                                          dsn, code, aff, args)  # fmt: skip
            if args.part in ("ingest", "both"):
                print(
                    f"ingest: {args.clicks:,} clicks over {args.shards} shards per run", flush=True
                )
                i1, i2, row_bytes = asyncio.run(ingest_rows(
                    settings, dict(env, TRACKER_STREAM_PREFIX="ing"), dsn, redis_url, args))  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    where = "3-master Redis Cluster" if args.cluster else "one Redis"
    print(f"\n2 cores shared by everything (nothing pinned), {where}\n")
    print("| what | 1 worker | 2 workers | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| serve, clicks/s (p99 ms) | {s1.rps:,.0f} ({s1.p99_ms:.1f}) | "
          f"{s2.rps:,.0f} ({s2.p99_ms:.1f}) | {s2.rps / s1.rps:.2f}x |")  # fmt: skip
    print(f"| ingest, clicks/s into Postgres | {i1:,.0f} | {i2:,.0f} | {i2 / i1:.2f}x |")
    print(f"\nclicks table with its indexes: {row_bytes:,.0f} bytes a row")
    ok = answered == stored and s1.bad == 0 and s2.bad == 0
    print(f"\n{'PASS' if ok else 'FAIL'}  every 302 in Postgres ({answered} answered, "
          f"{stored} rows), no errors ({s1.bad + s2.bad})")  # fmt: skip
    summary.print({
        "serve_1_rps": s1.rps, "serve_2_rps": s2.rps, "serve_ratio": s2.rps / s1.rps,
        "serve_1_p99_ms": s1.p99_ms, "serve_2_p99_ms": s2.p99_ms, "ingest_1_rows_s": i1,
        "ingest_2_rows_s": i2, "ingest_ratio": i2 / i1, "answered": answered, "stored": stored,
        "stored_ratio": stored / answered if answered else None, "errors": s1.bad + s2.bad,
        "cluster": args.cluster, "shards": args.shards,
    })  # fmt: skip
    return 0 if ok else 1


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seconds", type=int, default=5, help="seconds per serve row and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--clicks", type=int, default=200_000, help="clicks per ingest run")
    p.add_argument("--ingest-rounds", type=int, default=2)
    p.add_argument("--shards", type=int, default=6)
    p.add_argument("--cluster", action="store_true", help="a 3-master Redis Cluster")
    p.add_argument("--part", choices=["serve", "ingest", "both"], default="both")
    a = p.parse_args()
    a.seconds = min(a.seconds, 30)
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
