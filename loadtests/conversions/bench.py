"""Conversions benchmark: postbacks/s end to end into Postgres, against the click rate
measured in the same run, on the same machine, with the same load generator.

    flock /tmp/tracker-bench.lock .venv/bin/python -m loadtests.conversions.bench

Starts embedded Postgres and Redis (or uses TRACKER_DATABASE_URL / TRACKER_REDIS_URL),
then `tracker serve` and `tracker ingest` as real processes; loopback only; every phase
bounded by a count and a deadline (the whole run stays under ~3 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx

from loadtests.summary import Summary
from tracker.runtime.servers import servers
from tracker.settings import Settings
from tracker.store.keys import create_key
from tracker.store.migrate import migrate_dsn


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
) -> tuple[int, bytes]:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = await reader.readexactly(length) if length else b""
    return status, head + body


async def fire(
    port: int, paths: list[str], conns: int, deadline_s: float
) -> tuple[int, float, list[bytes]]:
    """Send ``paths`` over ``conns`` keep-alive connections; (answered, seconds, answers)."""
    queue = list(reversed(paths))
    answers: list[bytes] = []
    errors = 0
    t0 = time.perf_counter()

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue and time.perf_counter() - t0 < deadline_s:
                status, raw = await _request(reader, writer, queue.pop())
                if status >= 400:
                    errors += 1
                answers.append(raw)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(conns)))
    if errors:
        raise SystemExit(f"{errors} requests failed")
    return len(answers), time.perf_counter() - t0, answers


async def wait_rows(pool: asyncpg.Pool, sql: str, want: int, t0: float, deadline_s: float) -> float:
    while True:
        n = await pool.fetchval(sql)
        if n >= want:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > deadline_s:
            raise SystemExit(f"only {n} of {want} rows after {deadline_s:.0f} s ({sql})")
        await asyncio.sleep(0.05)


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "service.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


async def run(
    db: str, redis_url: str, n_clicks: int, n_postbacks: int, conns: int
) -> dict[str, Any]:
    await migrate_dsn(db)
    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "TRACKER_DATABASE_URL": db, "TRACKER_REDIS_URL": redis_url,
           "TRACKER_LOG_LEVEL": "warning", "TRACKER_STREAM_PREFIX": f"bench{os.getpid()}"}  # fmt: skip
    serve = _start(["serve", "--port", str(port)], env)
    ingest = _start(["ingest"], env)
    pool = await asyncpg.create_pool(db, min_size=1, max_size=2)
    try:
        key = (await create_key(pool, "admin", label="bench")).token
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {key}"}
        ) as api:
            for _ in range(200):
                try:
                    if (await api.get("/healthz")).status_code < 500:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            adv = (await api.post("/api/v1/advertisers", json={"name": "bench"})).json()
            aff = (await api.post("/api/v1/affiliates", json={"name": "bench"})).json()
            offer = (await api.post("/api/v1/offers", json={
                "advertiser_id": adv["id"], "name": "bench", "landing_url": "https://shop.example/?cid={click_id}",
                "default_payout": "1", "default_revenue": "2"})).json()  # fmt: skip
            await api.put(f"/api/v1/offers/{offer['id']}/goals/sale",
                          json={"payout_percent": "10", "revenue_percent": "15", "multiple": True})  # fmt: skip
            await api.post(
                f"/api/v1/offers/{offer['id']}/caps", json={"period": "day", "limit": "1000000"}
            )
            link = (
                await api.post(
                    "/api/v1/links", json={"offer_id": offer["id"], "affiliate_id": aff["id"]}
                )
            ).json()
        await asyncio.sleep(1.5)  # the redirect's link cache and the worker's groups are warm
        # Phase 1: clicks, answered and then all in Postgres.
        where = f"FROM clicks WHERE offer_id = {int(offer['id'])}"
        t0 = time.perf_counter()
        answered, click_http_s, answers = await fire(
            port, [f"/c/{link['code']}"] * n_clicks, conns, 60
        )
        click_e2e_s = await wait_rows(pool, f"SELECT count(*) {where}", answered, t0, 90)
        click_ids = [a.split(b"cid=")[1].split(b"\r\n")[0].decode() for a in answers]
        # Phase 2: postbacks (attribution, goal, revshare, cap, fraud screen, decision record).
        tok = adv["postback_token"]
        paths = ["/postback?" + urlencode({"advertiser_id": adv["id"], "token": tok, "click_id": c,
                                          "goal": "sale", "txn_id": f"o{i}", "amount": "49.90"})
                 for i, c in enumerate(click_ids[:n_postbacks])]  # fmt: skip
        t1 = time.perf_counter()
        pb_answered, pb_http_s, _ = await fire(port, paths, conns, 60)
        sql = f"SELECT count(*) FROM conversions WHERE advertiser_id = {int(adv['id'])}"
        pb_e2e_s = await wait_rows(pool, sql, pb_answered, t1, 120)
        exact = await pool.fetchval(
            f"{sql} AND status = 'approved' AND payout = 4.99 AND revenue = 7.49"
        )
        assert exact == pb_answered, (exact, pb_answered)
    finally:
        for proc in (serve, ingest):
            proc.send_signal(signal.SIGTERM)
        for proc in (serve, ingest):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        await pool.close()
    return {
        "clicks": answered, "click_http_per_s": answered / click_http_s,
        "click_e2e_per_s": answered / click_e2e_s,
        "postbacks": pb_answered, "postback_http_per_s": pb_answered / pb_http_s,
        "postback_e2e_per_s": pb_answered / pb_e2e_s,
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clicks", type=int, default=20_000)
    p.add_argument("--postbacks", type=int, default=5_000)
    p.add_argument("--connections", type=int, default=32)
    a = p.parse_args()
    if a.postbacks > a.clicks:
        raise SystemExit("--postbacks must not exceed --clicks (one postback per click)")
    summary = Summary("loadtests.conversions.bench")
    with tempfile.TemporaryDirectory(prefix="trk-bench-") as tmp:
        s = Settings(data_dir=Path(tmp), database_url=os.environ.get("TRACKER_DATABASE_URL"),
                     redis_url=os.environ.get("TRACKER_REDIS_URL"))  # fmt: skip
        with servers(s, owner=True) as urls:
            r = asyncio.run(
                run(urls.database_url, urls.redis_url, a.clicks, a.postbacks, a.connections)
            )
    print(f"clicks     {r['clicks']:>7}  answered {r['click_http_per_s']:>8.0f}/s"
          f"  in Postgres (end to end) {r['click_e2e_per_s']:>8.0f}/s")  # fmt: skip
    print(f"postbacks  {r['postbacks']:>7}  answered {r['postback_http_per_s']:>8.0f}/s"
          f"  in Postgres (end to end) {r['postback_e2e_per_s']:>8.0f}/s")  # fmt: skip
    print(
        f"postbacks/s end to end ÷ clicks/s end to end = {r['postback_e2e_per_s'] / r['click_e2e_per_s']:.3f}"
    )
    summary.print({**r, "postbacks_per_click_e2e": r["postback_e2e_per_s"] / r["click_e2e_per_s"]})


if __name__ == "__main__":
    main()
