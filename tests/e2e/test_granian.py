"""`tracker serve` under granian (TRACKER_SERVER=granian): the same app, real processes.

A click answered by the granian worker process reaches Postgres; clicks still in
the worker's batch when SIGTERM arrives are flushed by the app's lifespan shutdown
(nothing is lost), and the command exits 0.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx

from tests.conftest import create_world
from tests.servers import cli_env, free_port, ingest_burst
from tracker.settings import Settings


async def _wait_ready(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=1) as http:
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("tracker serve (granian) did not become ready")


async def test_serve_under_granian_records_every_click_and_flushes_on_sigterm(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    world = await create_world(api)
    port = free_port()
    # A long batch window: clicks are still in the process when SIGTERM comes.
    env = cli_env(settings, TRACKER_SERVER="granian", TRACKER_CLICK_BATCH_MS="5000")
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(proc, url)
        ids = []
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            for i in range(50):
                r = await http.get(f"/c/{world['link']['code']}", params={"sub1": f"g{i}"},
                                   headers={"User-Agent": "Mozilla/5.0 granian test"})  # fmt: skip
                assert r.status_code == 302, r.text
                assert r.headers["server"] == "granian"
                loc = urlsplit(r.headers["location"])
                assert loc.netloc == "shop.example"
                assert parse_qs(loc.query)["s1"] == [f"g{i}"]
                ids.append(parse_qs(loc.query)["cid"][0])
            r = await http.get("/api/v1/offers/999999999", headers=api.headers)
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"  # the API
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-3000:]
    await ingest_burst(settings)
    stored = await pool.fetch(
        "SELECT click_id::text AS id, sub1 FROM clicks WHERE affiliate_id = $1",
        world["affiliate"]["id"],
    )
    assert sorted(r["id"] for r in stored) == sorted(ids)
    assert {r["sub1"] for r in stored} == {f"g{i}" for i in range(50)}
