"""`tracker serve --workers 2`: two real worker processes on one port.

Connections are pinned to each worker (psutil tells which process accepted them).
Both serve clicks and the API; a change of the offer reaches both within 2 s;
`/metrics` scraped from either worker reports the clicks of both; every log line is
one JSON object, from both workers; SIGTERM drains both, and every click id a
visitor got (the ledger) is a row in Postgres exactly once, though the batch window
(5 s) still held them when the signal came.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import orjson
import psutil
import pytest
from redis.asyncio import Redis

from tests.conftest import create_world
from tests.redirect.helpers import CHROME
from tests.servers import cli_env, free_port, ingest_burst
from tests.service.http1 import Conn
from tracker import redis_keys
from tracker.settings import Settings

UA = {"User-Agent": CHROME}


def _workers(parent: int) -> list[int]:
    """The server's worker processes (not multiprocessing's resource tracker)."""
    out = []
    for child in psutil.Process(parent).children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "resource_tracker" not in cmd:
            out.append(child.pid)
    return out


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total


async def _ready(proc: subprocess.Popen[bytes], port: int, n: int) -> list[int]:
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "tracker serve exited"
            try:
                ok = (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
            except httpx.TransportError:
                ok = False
            pids = _workers(proc.pid)
            if ok and len(pids) == n:
                return pids
            await asyncio.sleep(0.2)
    raise AssertionError("the workers did not become ready")


async def _pin(port: int, pids: list[int]) -> tuple[dict[int, Conn], list[Conn]]:
    """Connections until each worker holds one: (one per worker, all of them)."""
    pinned: dict[int, Conn] = {}
    conns: list[Conn] = []
    for _ in range(64):  # bounded; connections land on a worker at random
        conn = await Conn.open(port)
        await conn.get("/healthz")
        conns.append(conn)
        pid = conn.server_pid(pids, port)
        assert pid is not None
        pinned.setdefault(pid, conn)
        if len(pinned) == len(pids) and len(conns) >= 8:
            return pinned, conns
    raise AssertionError(f"64 connections never reached every worker: {list(pinned)}")


def _cid(headers: dict[str, str]) -> str:
    return parse_qs(urlsplit(headers["location"]).query)["cid"][0]


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
async def test_two_workers_serve_share_config_and_metrics_log_json_and_drain_without_loss(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, server: str
) -> None:
    world = await create_world(api)
    code, offer = world["link"]["code"], world["offer"]
    port = free_port()
    env = cli_env(settings, TRACKER_SERVER=server, TRACKER_LOG_FORMAT="json",
                  TRACKER_LOG_LEVEL="info", TRACKER_CLICK_BATCH_MS="5000",
                  TRACKER_LINK_REFRESH_S="1")  # fmt: skip
    log_path = settings.data_dir / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--workers", "2", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    ledger: list[str] = []
    conns: list[Conn] = []
    try:
        pids = await _ready(proc, port, 2)
        pinned, conns = await _pin(port, pids)

        async def click(conn: Conn, i: int) -> dict[str, str]:
            status, headers, _ = await conn.get(f"/c/{code}?sub1=w{i}", UA)
            assert status == 302
            ledger.append(_cid(headers))
            return headers

        for i in range(300):  # every connection, so both workers
            await click(conns[i % len(conns)], i)
        # The API answers in each worker, with a request id.
        for conn in pinned.values():
            status, headers, body = await conn.get(f"/api/v1/offers/{offer['id']}",
                                                   {"Authorization": api.headers["authorization"]})  # fmt: skip
            assert status == 200 and orjson.loads(body)["id"] == offer["id"]
            assert len(headers["x-request-id"]) == 32
            # The links a worker hands out name the port given on the command line.
            status, _, body = await conn.get(f"/api/v1/links/{world['link']['id']}",
                                             {"Authorization": api.headers["authorization"]})  # fmt: skip
            assert orjson.loads(body)["url"] == f"http://127.0.0.1:{port}/c/{code}"

        # A live change reaches both processes within 2 s.
        r = await api.patch(f"/api/v1/offers/{offer['id']}",
                            json={"landing_url": "https://new.example/l?cid={click_id}"})  # fmt: skip
        assert r.status_code == 200, r.text
        changed = time.monotonic()
        seen: dict[int, float] = {}
        n = 300
        while len(seen) < len(pinned) and time.monotonic() - changed < 10:
            for pid, conn in pinned.items():
                loc = (await click(conn, n))["location"]
                n += 1
                if pid not in seen and loc.startswith("https://new.example/"):
                    seen[pid] = time.monotonic() - changed
            await asyncio.sleep(0.05)
        assert sorted(seen) == sorted(pinned), seen
        assert max(seen.values()) <= 2.0, seen

        # /metrics from either worker: the clicks of both (published at least every 1 s).
        await asyncio.sleep(1.5)
        scraped = []
        for conn in pinned.values():
            _, _, body = await conn.get("/metrics")
            scraped.append(body.decode())
        counts = [_metric(t, "tracker_redirects_total", outcome="redirect", cls="human")
                  for t in scraped]  # fmt: skip
        assert counts == [len(ledger), len(ledger)], (counts, len(ledger))
        route = _metric(scraped[0], "tracker_api_request_seconds_count",
                        route="/api/v1/offers/{offer_id}", method="GET", status="2xx")  # fmt: skip
        assert route == 2  # one API call per worker, summed
    finally:
        for conn in conns:
            await conn.close()
        proc.terminate()  # SIGTERM: each worker drains, its batch flushed to Redis
        code_ = proc.wait(60)
    assert code_ == 0, log_path.read_text()[-3000:]

    lines = [orjson.loads(line) for line in log_path.read_bytes().splitlines() if line.strip()]
    assert lines and all({"ts", "level", "logger", "message", "pid"} <= set(x) for x in lines)
    for pid in pids:  # each worker started and shut down, and said so in JSON
        said = [x["message"] for x in lines if x["pid"] == pid]
        assert f"process {pid} ready" in said and f"process {pid} stopped" in said, said
    assert not [x for x in lines if x["level"] in ("error", "critical")], lines

    await ingest_burst(settings)
    rows = await pool.fetch(
        "SELECT click_id::text FROM clicks WHERE affiliate_id = $1", world["affiliate"]["id"]
    )
    got = [r[0] for r in rows]
    assert len(got) == len(set(got)) == len(ledger) and set(got) == set(ledger)


async def test_up_with_two_workers_runs_an_ingest_consumer_in_each(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    """`tracker up --workers 2` (servers given by URL): each worker process also consumes
    the streams, as one member of the group; a click answered by either is stored."""
    world = await create_world(api)
    port = free_port()
    env = cli_env(settings, TRACKER_INGEST_BLOCK_MS="50")
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "up", "--workers", "2", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    conns: list[Conn] = []
    try:
        pids = await _ready(proc, port, 2)
        pinned, conns = await _pin(port, pids)
        ledger = []
        for i, conn in enumerate(conns * 5):
            status, headers, _ = await conn.get(f"/c/{world['link']['code']}?sub1=u{i}", UA)
            assert status == 302
            ledger.append(_cid(headers))
        deadline = time.monotonic() + 60
        aff = world["affiliate"]["id"]
        while await pool.fetchval("SELECT count(*) FROM clicks WHERE affiliate_id = $1", aff) < len(
            ledger
        ):
            assert time.monotonic() < deadline, "the workers' consumers did not store the clicks"
            await asyncio.sleep(0.2)
        stream = redis_keys.of(settings).click_streams()[0]
        consumers = await redis.xinfo_consumers(stream, settings.consumer_group)
        names = {c["name"].decode() for c in consumers}
        assert {n.rsplit("-", 1)[1] for n in names} >= {str(p) for p in pinned}
    finally:
        for conn in conns:
            await conn.close()
        proc.terminate()
        code_ = proc.wait(60)
    assert code_ == 0
    rows = await pool.fetch("SELECT click_id::text FROM clicks WHERE affiliate_id = $1", aff)
    assert sorted(r[0] for r in rows) == sorted(ledger)
