"""Redirect benchmark: the tracker against two baselines, same server, same run.

    flock /tmp/tracker-bench.lock .venv/bin/python -m loadtests.redirect.bench            # ~3 min, wrk
    flock /tmp/tracker-bench.lock .venv/bin/python -m loadtests.redirect.bench --other    # + the other server

One server process per row pinned to CPU 0, wrk on CPU 1 with 64 connections, loopback
only; the rows are measured in interleaved rounds (default 3 rounds of 5 s each) and
the medians reported, so that noise from other work on the machine falls on every row
alike. Rows, under the default server (``TRACKER_SERVER``'s default: uvicorn,
docs/adr/0103) and with ``--other`` under granian too: a raw ASGI 302 with no I/O, a
naive FastAPI handler awaiting one XADD per click, and ``tracker serve`` (clicks
recorded, logging at info). Then ``tracker ingest --burst`` moves the tracker's clicks
to Postgres and the script checks that every 302 the tracker answered (its own
counter) is one row there. The issue's targets are checked under the default server;
the last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from loadtests.redirect.wrk import Result, median, pause_script, pin, wrk
from loadtests.summary import Summary
from tracker.runtime.embedded_pg import free_port
from tracker.runtime.servers import ServerUrls, servers
from tracker.settings import Settings
from tracker.store.migrate import migrate_dsn

ROOT = Path(__file__).resolve().parents[2]
# The baselines run under uvicorn configured as `tracker serve` configures it: uvloop,
# httptools, no access log, and no proxy-headers middleware (the CLI's default would
# put one in front of the baseline that the tracker does not have).
UVICORN = ["-m", "uvicorn", "--host", "127.0.0.1", "--loop", "uvloop", "--http", "httptools",
           "--no-access-log", "--no-proxy-headers", "--log-level", "warning",
           "--lifespan", "on"]  # fmt: skip

GRANIAN = ["-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--workers", "1",
           "--loop", "uvloop", "--no-ws", "--log-level", "warning"]  # fmt: skip
TRACKER = ["-m", "service.cli", "serve"]
DEFAULT: str = Settings.model_fields["server"].default
OTHER = "uvicorn" if DEFAULT == "granian" else "granian"


def _rows(server: str) -> list[tuple[str, list[str], str, dict[str, str]]]:
    """(name, command, readiness path, environment of its own) of one server's three rows."""
    base = GRANIAN if server == "granian" else UVICORN
    return [(f"raw ASGI 302 ({server})", [*base, "loadtests.redirect.baselines:raw_app"], "/", {}),
            (f"naive FastAPI + XADD ({server})", [*base, "loadtests.redirect.baselines:naive_app"],
             "/docs", {}),
            (f"tracker ({server})", TRACKER, "/healthz", {"TRACKER_SERVER": server})]  # fmt: skip


def _server(name: str) -> str:
    return name.rsplit("(", 1)[1].rstrip(")")


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], port: int, ready_path: str) -> Iterator[int]:
    proc = subprocess.Popen([*pin(0), sys.executable, *args], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{args} exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=1)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args} did not start")
            time.sleep(0.1)
        yield proc.pid  # taskset execs the server: same process
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _world(dsn: str) -> tuple[int, str]:
    conn = await asyncpg.connect(dsn)
    try:
        adv = await conn.fetchval(
            "INSERT INTO advertisers (name, postback_token) VALUES ('bench', 'x') RETURNING id"
        )
        aff = await conn.fetchval("INSERT INTO affiliates (name) VALUES ('bench') RETURNING id")
        offer = await conn.fetchval(
            "INSERT INTO offers (advertiser_id, name, landing_url) VALUES ($1, 'bench', $2) RETURNING id",
            adv, "https://shop.example/landing?cid={click_id}&a={aff_id}&s1={sub1}&s2={sub2}&d={device}",
        )  # fmt: skip
        code = f"bench{aff}"
        await conn.execute(
            "INSERT INTO tracking_links (code, offer_id, affiliate_id) VALUES ($1, $2, $3)",
            code, offer, aff,
        )  # fmt: skip
        return int(aff), code
    finally:
        await conn.close()


async def _count(dsn: str, aff: int) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM clicks WHERE affiliate_id = $1", aff))
    finally:
        await conn.close()


def _answered(port: int) -> int:
    """302s the tracker says it answered (its own Prometheus counter)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("tracker_redirects_total{") and 'outcome="redirect"' in line:
            if 'cls="head"' not in line:
                total += float(line.rsplit(" ", 1)[1])
    return int(total)


def run(seconds: int, rounds: int, warmup: int, connections: int, other: bool,
        paced_rate: int) -> int:  # fmt: skip
    summary = Summary("loadtests.redirect.bench")
    work = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    base = Settings(data_dir=work, database_url=os.environ.get("TRACKER_DATABASE_URL"),
                    redis_url=os.environ.get("TRACKER_REDIS_URL"))  # fmt: skip
    results: list[Result] = []
    paced: list[Result] = []
    pause_ms = max(1, round(connections * 1000 / paced_rate)) if paced_rate else 0
    try:
        with servers(base, owner=True) as urls:
            asyncio.run(migrate_dsn(urls.database_url))
            aff, code = asyncio.run(_world(urls.database_url))
            path = f"/c/{code}?sub1=bench&sub2=wrk"
            env = _env(urls, work)

            rows = _rows(DEFAULT) + (_rows(OTHER) if other else [])
            with contextlib.ExitStack() as stack:
                ports, pids = [], []
                for _name, args, ready, own in rows:  # all up at once, idle unless measured
                    port = free_port()
                    pids.append(stack.enter_context(
                        process([*args, "--port", str(port)], {**env, **own}, port, ready)
                    ))  # fmt: skip
                    ports.append(port)
                for port in ports:
                    if warmup:
                        wrk(f"http://127.0.0.1:{port}{path}", warmup, connections)
                # Interleaved rounds: noise from other work on the machine falls on every row.
                runs: list[list[Result]] = [[] for _ in rows]
                for rnd in range(rounds):
                    for i, port in enumerate(ports):
                        r = wrk(f"http://127.0.0.1:{port}{path}", seconds, connections,
                                pid=pids[i])  # fmt: skip
                        runs[i].append(r)
                        print(f"  round {rnd + 1} {rows[i][0]}: {r.rps:,.0f}/s p50 {r.p50_ms:.2f} "
                              f"ms p99 {r.p99_ms:.2f} ms, server CPU {r.cpu_us:.0f} µs/request",
                              flush=True)  # fmt: skip
                for (name, *_), rs in zip(rows, runs, strict=True):
                    results.append(median(name, rs))
                if pause_ms:  # the same connections, each pausing: latency below saturation
                    script = pause_script(work, pause_ms)
                    pruns: dict[int, list[Result]] = {}
                    for _rnd in range(rounds):
                        for i, port in enumerate(ports):
                            if "naive" not in rows[i][0]:  # it cannot offer this rate
                                r = wrk(f"http://127.0.0.1:{port}{path}", seconds, connections,
                                        script, pids[i])  # fmt: skip
                                pruns.setdefault(i, []).append(r)
                    paced = [median(rows[i][0], rs) for i, rs in pruns.items()]
                answered = sum(_answered(p) for (n, *_), p in zip(rows, ports, strict=True)
                               if n.startswith("tracker"))  # fmt: skip
            t0 = time.monotonic()
            subprocess.run([sys.executable, "-m", "service.cli", "ingest", "--burst"], env=env,
                           cwd=ROOT, check=True, timeout=300)  # fmt: skip
            stored = asyncio.run(_count(urls.database_url, aff))
            ingest_s = time.monotonic() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _report_paced(paced, connections, pause_ms, seconds)
    code, figures = _report(results, answered, stored, ingest_s, connections, seconds)
    figures.update(seconds=seconds, rounds=rounds, connections=connections,
                   paced={r.name: {"rps": r.rps, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms}
                          for r in paced})  # fmt: skip
    summary.print(figures)
    return code


def _env(urls: ServerUrls, work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TRACKER_DATABASE_URL=urls.database_url, TRACKER_REDIS_URL=urls.redis_url,
        TRACKER_DATA_DIR=str(work), TRACKER_STREAM_PREFIX="bench", TRACKER_LOG_LEVEL="info",
        BENCH_REDIS_URL=urls.redis_url, PYTHONPATH=str(ROOT),
    )  # fmt: skip
    return env


def _report_paced(paced: list[Result], connections: int, pause_ms: int, seconds: int) -> None:
    if not paced:
        return
    print(
        f"\nPaced (open loop at a bounded rate): {connections} connections, each waiting "
        f"{pause_ms} ms before every request (at most {connections * 1000 // pause_ms:,} "
        f"requests/s offered), median of rounds of {seconds} s. Latency here is the "
        "server's own plus the loop's hiccups, not queueing behind 64 requests in flight.\n"
    )
    print("| server | requests/s | p50 ms | p99 ms | max ms | errors | server CPU µs/request |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in paced:
        print(f"| {r.name} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.max_ms:.2f} | "
              f"{r.bad} | {r.cpu_us:.1f} |")  # fmt: skip


def _report(results: list[Result], answered: int, stored: int, ingest_s: float,
            connections: int, seconds: int) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """Ratios against the baselines under the *same* server; the issue's targets checked
    under the default server, the other server's rows printed beside it when measured."""
    by = {r.name: r for r in results}
    raw, naive = by[f"raw ASGI 302 ({DEFAULT})"], by[f"naive FastAPI + XADD ({DEFAULT})"]
    tracker = by[f"tracker ({DEFAULT})"]
    print(
        f"\n{connections} connections, median of interleaved rounds of {seconds} s per row, "
        "one server process on CPU 0, wrk on CPU 1\n"
    )
    print("| server | clicks/s | p50 ms | p99 ms | vs naive, same server | vs raw ASGI, same server "
          "| errors | server CPU µs/request | raw's CPU / this CPU |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        same_raw, same_naive = (by[f"{k} ({_server(r.name)})"]
                                for k in ("raw ASGI 302", "naive FastAPI + XADD"))  # fmt: skip
        print(f"| {r.name} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
              f"{r.rps / same_naive.rps:.2f}x | {r.rps / same_raw.rps:.2f}x | {r.bad} | "
              f"{r.cpu_us:.1f} | {same_raw.cpu_us / r.cpu_us:.2f}x |")  # fmt: skip
    print(
        "\nThe CPU columns (server process and children, user + system, per answered request)"
        " do not depend on how much of CPU 0 other work left to the server; their ratio is what"
        " the throughput ratio would be on a quiet machine if the server were CPU-bound."
    )
    checks = {
        f">= 6x naive FastAPI ({DEFAULT})": tracker.rps >= 6 * naive.rps,
        f">= 0.7x raw ASGI ({DEFAULT})": tracker.rps >= 0.7 * raw.rps,
        "p99 <= 1.5x the raw 302's p99": tracker.p99_ms <= 1.5 * raw.p99_ms,
        "no errors": all(r.bad == 0 for r in results),
        f"every 302 in Postgres ({answered} answered, {stored} rows)": answered == stored,
    }
    print(f"\ningest --burst took {ingest_s:.1f} s for {stored} clicks")
    for what, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {what}")
    figures: dict[str, Any] = {
        "server": DEFAULT,
        "tracker_rps": tracker.rps, "raw_rps": raw.rps, "naive_rps": naive.rps,
        "tracker_p50_ms": tracker.p50_ms, "tracker_p99_ms": tracker.p99_ms,
        "raw_p50_ms": raw.p50_ms, "raw_p99_ms": raw.p99_ms, "naive_p99_ms": naive.p99_ms,
        "tracker_vs_raw": tracker.rps / raw.rps, "tracker_vs_naive": tracker.rps / naive.rps,
        "p99_vs_raw": tracker.p99_ms / raw.p99_ms,
        "tracker_cpu_us": tracker.cpu_us, "raw_cpu_us": raw.cpu_us, "naive_cpu_us": naive.cpu_us,
        "errors": sum(r.bad for r in results), "answered": answered, "stored": stored,
        "stored_ratio": stored / answered if answered else None,
        "checks": {what: ok for what, ok in checks.items()},
    }  # fmt: skip
    if f"tracker ({OTHER})" in by:
        o_raw, o_naive, o = (by[f"{k} ({OTHER})"]
                             for k in ("raw ASGI 302", "naive FastAPI + XADD", "tracker"))  # fmt: skip
        print(f"{OTHER} (option): tracker {o.rps:,.0f}/s against {tracker.rps:,.0f}/s under "
              f"{DEFAULT} ({o.cpu_us:.1f} against {tracker.cpu_us:.1f} µs CPU a click); "
              f"{o.rps / o_raw.rps:.2f}x raw and {o.rps / o_naive.rps:.2f}x naive under {OTHER}, "
              f"p99 {o.p99_ms:.2f} ms")  # fmt: skip
        figures.update(other_server=OTHER, other_tracker_rps=o.rps, other_raw_rps=o_raw.rps,
                       other_naive_rps=o_naive.rps, other_tracker_p99_ms=o.p99_ms,
                       other_raw_p99_ms=o_raw.p99_ms, other_tracker_cpu_us=o.cpu_us,
                       other_raw_cpu_us=o_raw.cpu_us, other_vs_other_raw=o.rps / o_raw.rps,
                       default_vs_other=tracker.rps / o.rps)  # fmt: skip
    return (0 if all(checks.values()) else 1), figures


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seconds", type=int, default=5, help="seconds per row and round (max 30)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians reported")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument(
        "--other",
        action="store_true",
        help=f"add the three rows under {OTHER} (the server that is not the default)",
    )
    p.add_argument(
        "--paced-rate",
        type=int,
        default=4000,
        help="also measure latency with each connection pausing so that at most this many "
        "requests/s are offered (0: skip)",
    )
    a = p.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    return run(min(a.seconds, 30), min(a.rounds, 9), min(a.warmup, 10), a.connections, a.other,
               min(max(a.paced_rate, 0), 50_000))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
