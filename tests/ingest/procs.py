"""Worker processes for the crash tests: the real `tracker ingest`, killed for real."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas.events import WIRE_VERSION
from tests.servers import cli_env
from tracker.settings import Settings


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = cli_env(
        settings,
        TRACKER_INGEST_BLOCK_MS="50",
        TRACKER_INGEST_CLAIM_IDLE_MS="1000",
        TRACKER_INGEST_SWEEP_S="0.5",
        TRACKER_INGEST_GRACE_S="10",
        TRACKER_DB_TIMEOUT_S="3",
        **extra,
    )
    return env


def start_worker(settings: Settings, *args: str, **extra: str) -> subprocess.Popen[bytes]:
    """A worker process; its log goes to worker-*.log in the test's data folder."""
    log = settings.data_dir / f"worker-{time.monotonic_ns()}.log"
    with log.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", "ingest", *args],
            env=worker_env(settings, **extra), stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip


def kill9(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout)


async def load(redis: Redis, streams: list[str], clicks: list[dict[str, Any]], *,
               per_entry: int = 100, rate: float = 10_000) -> None:  # fmt: skip
    """Write clicks as the sink does (entries of per_entry, round-robin over shards, retried
    while Redis is away) at about `rate` clicks/s."""
    t0 = time.monotonic()
    for n, start in enumerate(range(0, len(clicks), per_entry)):
        payload = orjson.dumps(clicks[start : start + per_entry])
        for _ in range(600):  # bounded: at most about 60 s of Redis away
            try:
                await redis.xadd(streams[n % len(streams)], {"v": WIRE_VERSION, "clicks": payload})
                break
            except (RedisError, OSError):
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("Redis never came back")
        ahead = t0 + (start + per_entry) / rate - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)


async def wait_rows(pool: asyncpg.Pool, aff: int, n: int, timeout: float = 90) -> int:
    got = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = int(await pool.fetchval("SELECT count(*) FROM clicks WHERE affiliate_id = $1", aff))
        if got >= n:
            return got
        await asyncio.sleep(0.25)
    return got
