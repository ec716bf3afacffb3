"""Scale-out on a real Redis Cluster: a master killed and restarted during 20k clicks.

Three masters on loopback from the bundled ``redis-server`` (AOF on, fsync
always), ``tracker serve`` and two ``tracker ingest`` processes against
them, six stream shards (two per master). A paced keep-alive client (a
process of its own) sends 20k clicks and records each click id from the
``Location``; during the load one master is killed (SIGKILL) and started
again on the same port, folder and node config. The redirect spools while
the node is away and replays afterwards; the workers, never restarted, must
recover by themselves. Then every click id that got a 302 is in Postgres
exactly once, and the rollups equal a count of the raw rows.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import orjson

from tests.ingest.helpers import raw_counts, rollup
from tests.redirect.helpers import link_world
from tests.servers import free_port
from tracker import redis_keys
from tracker.runtime.embedded_cluster import EmbeddedCluster
from tracker.runtime.servers import ServerUrls
from tracker.settings import Settings

CLICKS = 20_000
RATE = 2_000  # clicks per second: the load lasts 10 s
CONNECTIONS = 8
SHARDS = 6
KILL_AT, DOWN_S = 3.0, 3.0  # seconds into the load; how long the master stays away
ROOT = Path(__file__).resolve().parents[2]


def _metric(text: str, name: str) -> dict[str, float]:
    """Samples of one metric by label text (``""`` when unlabelled)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            key, value = line.rsplit(" ", 1)
            out[key[len(name) :]] = float(value)
    return out


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        return subprocess.Popen([sys.executable, "-m", "service.cli", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip


async def test_master_restarted_during_20k_clicks(
    migrated: ServerUrls, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    cluster = EmbeddedCluster(tmp_path / "cluster", masters=3, appendfsync="always")
    url = await asyncio.to_thread(cluster.start)
    prefix = f"c{uuid.uuid4().hex[:8]}"
    settings = Settings(redis_url=url, stream_prefix=prefix, stream_shards=SHARDS)
    env = dict(
        os.environ,
        TRACKER_DATABASE_URL=migrated.database_url, TRACKER_REDIS_URL=url,
        TRACKER_DATA_DIR=str(tmp_path), TRACKER_STREAM_PREFIX=prefix,
        TRACKER_STREAM_SHARDS=str(SHARDS), TRACKER_LOG_LEVEL="warning",
        TRACKER_LINK_REFRESH_S="1", TRACKER_INGEST_BLOCK_MS="50",
        TRACKER_INGEST_CLAIM_IDLE_MS="2000", TRACKER_INGEST_SWEEP_S="0.5",
        TRACKER_DB_TIMEOUT_S="5",
    )  # fmt: skip
    aff, code = await link_world(pool, "cluster")
    port = free_port()
    procs = {
        "serve": _start(["serve", "--port", str(port)], env, tmp_path / "serve.log"),
        "ingest-1": _start(["ingest"], env, tmp_path / "ingest-1.log"),
        "ingest-2": _start(["ingest"], env, tmp_path / "ingest-2.log"),
    }

    def alive() -> None:
        for name, p in procs.items():
            assert p.poll() is None, f"{name} exited:\n" + (tmp_path / f"{name}.log").read_text()

    client: asyncio.subprocess.Process | None = None
    victim = cluster.ports[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            for _ in range(300):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                alive()
                await asyncio.sleep(0.1)

            start = time.time() + 1.0
            client = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.redirect.outage_client", str(port), code,
                str(CLICKS), str(RATE), str(CONNECTIONS), str(start),
                stdout=subprocess.PIPE, cwd=ROOT,
            )  # fmt: skip
            await asyncio.sleep(start + KILL_AT - time.time())
            await asyncio.to_thread(cluster.stop_node, victim, kill=True)  # SIGKILL
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(cluster.start_node, victim)  # same port, folder, nodes.conf
            out, _ = await asyncio.wait_for(client.communicate(), CLICKS / RATE + 60)
            assert client.returncode == 0
            result = orjson.loads(out)
            ids, statuses = result["ids"], result["statuses"]
            assert statuses == [302] * CLICKS
            assert len(ids) == CLICKS and len(set(ids)) == CLICKS

            # Every click reaches Postgres with the workers as they are (no restart).
            got = 0
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                alive()
                got = int(await pool.fetchval(
                    "SELECT count(*) FROM clicks WHERE affiliate_id = $1 AND click_class = 'human'",
                    aff))  # fmt: skip
                if got >= CLICKS:
                    break
                await asyncio.sleep(0.5)
            assert got == CLICKS, f"{got} of {CLICKS} clicks in Postgres"
            text = (await http.get("/metrics")).text
            alive()
    finally:
        if client is not None and client.returncode is None:
            client.kill()
            await client.wait()
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        await asyncio.to_thread(cluster.stop)

    # The node was really away: the redirect spooled, and replayed everything it spooled.
    spooled = sum(_metric(text, "tracker_clicks_spooled_total").values())
    assert spooled > 0 and sum(_metric(text, "tracker_clicks_replayed_total").values()) == spooled
    assert sum(_metric(text, "tracker_clicks_dropped_total").values()) == 0
    written = _metric(text, "tracker_stream_events_written_total")
    assert sorted(k.split('"')[1] for k, v in written.items() if v) == sorted(
        redis_keys.of(settings).click_streams()
    )  # every shard, on every master, took clicks

    rows = await pool.fetch(
        "SELECT click_id::text AS id FROM clicks WHERE affiliate_id = $1 AND click_class = 'human'",
        aff,
    )
    found = [r["id"] for r in rows]
    assert len(found) == CLICKS and set(found) == set(ids)  # each exactly once
    assert await rollup(pool, aff) == await raw_counts(pool, aff)
