"""Click caps across processes (issues 17 and 19): two `tracker serve` processes share a
fresh offer with a daily cap of 7; 60 human clicks arrive at once, half on each. Exactly
7 land on the offer (no overshoot, no early close), the rest go to the fallback, and the
cap's counter in Redis says 7."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import httpx
from redis.asyncio import Redis

from tests.redirect.helpers import CHROME, link_world
from tests.servers import free_port
from tracker import redis_keys
from tracker.runtime.servers import ServerUrls
from tracker.settings import Settings

CAP, CLICKS = 7, 60


async def _serve(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as err:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    return proc, f"http://127.0.0.1:{port}"


async def _ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=2) as http:
        for _ in range(300):
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log.read_text()
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not start")


async def test_a_burst_across_two_processes_never_overshoots(
    migrated: ServerUrls, pool: asyncpg.Pool, redis: Redis, tmp_path: Path
) -> None:
    prefix = f"p{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, TRACKER_DATABASE_URL=migrated.database_url,
               TRACKER_REDIS_URL=migrated.redis_url, TRACKER_DATA_DIR=str(tmp_path),
               TRACKER_STREAM_PREFIX=prefix, TRACKER_LOG_LEVEL="warning")  # fmt: skip
    servers = [await _serve(env, tmp_path / f"serve{i}.log") for i in range(2)]
    try:
        for i, (proc, url) in enumerate(servers):
            await _ready(proc, url, tmp_path / f"serve{i}.log")
        # a fresh offer, created while both processes run: the first burst is the test
        _aff, code = await link_world(pool, "caps")
        offer_id = await pool.fetchval("SELECT offer_id FROM tracking_links WHERE code = $1", code)
        await pool.execute(
            "UPDATE offers SET daily_click_cap = $2, fallback_url = 'https://full.example/',"
            " updated_at = now() WHERE id = $1", offer_id, CAP,
        )  # fmt: skip
        await asyncio.sleep(2.5)  # both processes have the offer's cap (TRACKER_LINK_REFRESH_S)
        clients = [httpx.AsyncClient(base_url=url, headers={"User-Agent": CHROME}, timeout=10)
                   for _, url in servers]  # fmt: skip
        try:
            answers = await asyncio.gather(
                *(clients[i % 2].get(f"/c/{code}", params={"sub1": str(i)}) for i in range(CLICKS))
            )
        finally:
            for c in clients:
                await c.aclose()
        places = [r.headers["location"] for r in answers]
        assert sum(p.startswith("https://shop.example/") for p in places) == CAP, places
        assert sum(p == "https://full.example/" for p in places) == CLICKS - CAP
        keys = redis_keys.of(Settings(stream_prefix=prefix))
        day = await redis.keys(keys.click_cap(offer_id, "*"))
        values = {k: int(await redis.get(k)) for k in day}
        assert sorted(values.values()) == [CAP, CAP], values  # the day's and all time
    finally:
        for proc, _ in servers:
            proc.terminate()
        for proc, _ in servers:
            proc.wait(timeout=30)
