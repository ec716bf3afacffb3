"""Distribution benchmark (issue 20): how close weights hold, whether targeting sends
every visitor where its rules say, and what a smart link costs against a plain link.

    flock /tmp/tracker-bench.lock .venv/bin/python -m loadtests.distribution.bench   # ~2 min

1. ``weight_max_abs_error``: 100k distinct visitors (in process, the redirect front
   driven directly: loadtests.distribution.inprocess) click a smart link of three routes
   weighted 50/30/20; the largest gap between a route's share and its weight. The first
   2,000 visitors then click again: ``sticky_moved`` of them were sent elsewhere (0).
2. ``targeting_mismatches``: a table of visitors (place, agent, language) x rules (every
   rule kind), each rule as a route's targeting and as an offer's, against the route the
   facts written beside the visitors say (0).
3. ``smart_link_vs_plain``: ``tracker serve`` with a GeoIP database, 127.0.0.1 its trusted
   proxy, a plain link and a smart link of three routes with country and device rules,
   all made through the API; wrk (CPU 1) against the server (CPU 0), the two links in
   interleaved rounds of the same server and run, visitors rotating over 64 addresses in
   four countries and two agents (a Lua script, the same for both links). The ratio of
   clicks/s (target >= 0.9), and of server CPU per click, which does not depend on how
   much of CPU 0 the machine's other work left to the server.

The last line is one JSON object with the figures (loadtests/summary.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from loadtests.distribution.inprocess import (
    AGENTS,
    Front,
    cached_offer,
    cached_route,
    targeting_table,
    weights,
)
from loadtests.ingest.data import build_asn_db, build_geo_db
from loadtests.redirect.bench import TRACKER, process
from loadtests.redirect.wrk import Result, median, wrk
from loadtests.summary import Summary
from tracker.runtime.embedded_pg import free_port
from tracker.runtime.servers import servers
from tracker.settings import Settings
from tracker.store.keys import create_key
from tracker.store.migrate import migrate_dsn

DESKTOP, MOBILE = AGENTS[0][0], AGENTS[1][0]
# 16 addresses in each of US (10.1), DE (10.2), FR (10.3) and BR (10.4)
ADDRESSES = [f"10.{net}.{i}.{i + 7}" for net in (1, 2, 3, 4) for i in range(16)]
# the smart link: A takes US and DE phones and tablets, B US, DE and FR desktops (the same
# priority, weights 60/40), C (priority 2) every country but India: the rest
ROUTES = [({"countries": {"allow": ["US", "DE"]}, "devices": {"allow": ["mobile", "tablet"]}}, 1, 60),
          ({"countries": {"allow": ["US", "DE", "FR"]}, "devices": {"allow": ["desktop"]}}, 1, 40),
          ({"countries": {"deny": ["IN"]}}, 2, 100)]  # fmt: skip


def expected(ip: str, ua: str) -> str:
    country = {"1": "US", "2": "DE", "3": "FR", "4": "BR"}[ip.split(".")[1]]
    if ua == MOBILE and country in ("US", "DE"):
        return "a"
    if ua == DESKTOP and country in ("US", "DE", "FR"):
        return "b"
    return "c"


def _script(folder: Path) -> Path:
    """wrk: each request the next visitor (address x agent), for both links alike."""
    path = folder / "visitors.lua"
    ips = ", ".join(f'"{ip}"' for ip in ADDRESSES)
    uas = ", ".join(f'"{ua}"' for ua in (DESKTOP, MOBILE))
    path.write_text(f"""local ips = {{{ips}}}
local uas = {{{uas}}}
local n = 0
request = function()
  n = n + 1
  wrk.headers["X-Forwarded-For"] = ips[(n % #ips) + 1]
  wrk.headers["User-Agent"] = uas[(math.floor(n / #ips) % #uas) + 1]
  return wrk.format(nil, nil)
end
""")
    return path


async def _world(base: str, dsn: str) -> tuple[str, str]:
    """(plain link code, smart link code), made through the API with an admin key."""
    conn = await asyncpg.connect(dsn)
    try:
        token = (await create_key(conn, "admin", label="distribution bench")).token
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=base, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"}) as api:  # fmt: skip

        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            r = await api.post(f"/api/v1/{path}", json=body)
            assert r.status_code == 201, (path, r.text)
            out: dict[str, Any] = r.json()
            return out

        adv = await post("advertisers", {"name": "bench"})
        aff = await post("affiliates", {"name": "bench"})
        offers = {}
        for name in ("plain", "a", "b", "c"):
            offers[name] = await post("offers", {
                "advertiser_id": adv["id"], "name": name, "default_payout": "1.00",
                "landing_url": f"https://{name}.example/l?cid={{click_id}}&a={{aff_id}}&s1={{sub1}}",
                "fallback_url": "https://fallback.example/"})  # fmt: skip
        plain = await post("links", {"offer_id": offers["plain"]["id"], "affiliate_id": aff["id"]})
        smart = await post("smart-links", {
            "affiliate_id": aff["id"], "name": "bench", "fallback_url": "https://fallback.example/",
            "routes": [{"offer_id": offers[n]["id"], **({"targeting": t} if t else {}), "priority": p, "weight": w}
                       for n, (t, p, w) in zip("abc", ROUTES, strict=True)]})  # fmt: skip
    return plain["code"], smart["code"]


def _check_routes(base: str, code: str) -> int:
    """Each visitor of the rotation once: how many went elsewhere than expected."""
    wrong = 0
    with httpx.Client(base_url=base, timeout=10) as http:
        for ua in (DESKTOP, MOBILE):
            for ip in ADDRESSES:
                r = http.get(f"/c/{code}", headers={"X-Forwarded-For": ip, "User-Agent": ua})
                host = httpx.URL(r.headers.get("location", "")).host if r.status_code == 302 else ""
                wrong += host != f"{expected(ip, ua)}.example"
    return wrong


def served(seconds: int, rounds: int, warmup: int, connections: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="tracker-dist-bench-"))
    base = Settings(data_dir=work, database_url=os.environ.get("TRACKER_DATABASE_URL"),
                    redis_url=os.environ.get("TRACKER_REDIS_URL"))  # fmt: skip
    try:
        with servers(base, owner=True) as urls:
            asyncio.run(migrate_dsn(urls.database_url))
            env = dict(os.environ)
            env.update(
                TRACKER_DATABASE_URL=urls.database_url, TRACKER_REDIS_URL=urls.redis_url,
                TRACKER_DATA_DIR=str(work), TRACKER_STREAM_PREFIX="distbench",
                TRACKER_LOG_LEVEL="info", TRACKER_TRUSTED_PROXIES='["127.0.0.1/32"]',
                TRACKER_GEOIP_DB=str(build_geo_db(work / "geo.mmdb")),
                TRACKER_ASN_DB=str(build_asn_db(work / "asn.mmdb",
                                                [("10.1.0.0/16", 16509, "AMAZON-02")])),
            )  # fmt: skip
            port = free_port()
            with process([*TRACKER, "--port", str(port)], env, port, "/healthz") as pid:
                url = f"http://127.0.0.1:{port}"
                plain, smart = asyncio.run(_world(url, urls.database_url))
                wrong = _check_routes(url, smart)
                script = _script(work)
                rows = {"plain": f"{url}/c/{plain}", "smart": f"{url}/c/{smart}"}
                for target in rows.values():
                    if warmup:
                        wrk(target, warmup, connections, script)
                runs: dict[str, list[Result]] = {k: [] for k in rows}
                for rnd in range(rounds):  # interleaved: other work falls on both alike
                    for name, target in rows.items():
                        r = wrk(target, seconds, connections, script, pid)
                        runs[name].append(r)
                        print(f"  round {rnd + 1} {name} link: {r.rps:,.0f}/s p99 "
                              f"{r.p99_ms:.2f} ms, server CPU {r.cpu_us:.0f} µs/click, "
                              f"{r.bad} errors", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    p, s = median("plain", runs["plain"]), median("smart", runs["smart"])
    pairs = list(zip(runs["plain"], runs["smart"], strict=True))  # the same round's two runs
    return {"plain_rps": p.rps, "smart_rps": s.rps, "plain_p99_ms": p.p99_ms,
            "smart_p99_ms": s.p99_ms, "plain_cpu_us": p.cpu_us, "smart_cpu_us": s.cpu_us,
            "smart_link_vs_plain": _median([b.rps / a.rps for a, b in pairs]),
            "cpu_plain_vs_smart": _median([a.cpu_us / b.cpu_us for a, b in pairs]),
            "errors": p.bad + s.bad, "route_check_wrong": wrong}  # fmt: skip


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


async def _cost(front: Front, code: str, clicks: int) -> float:
    """µs of this process's CPU per click of ``code`` (the bench's visitor rotation)."""
    t0 = time.process_time()
    for i in range(clicks):
        await front.where(code, ADDRESSES[i % len(ADDRESSES)], (DESKTOP, MOBILE)[i // 64 % 2])
    return (time.process_time() - t0) / clicks * 1e6


async def in_process_cost(front: Front, rounds: int, clicks: int) -> tuple[float, float]:
    """(plain, smart) µs per click of the front alone, best of interleaved rounds: what the
    decision itself costs, without the server's share or the machine's other work."""
    plain, taken = front.ident(), [front.ident() for _ in ROUTES]
    for o in (plain, *taken):
        front.add_offer(cached_offer(o))
    front.add_link("cost-plain", plain)
    front.add_link("cost-smart", 0, tuple(cached_route(front.ident(), o, p, w, t) for o, (t, p, w)
                                          in zip(taken, ROUTES, strict=True)))  # fmt: skip
    best = {"cost-plain": float("inf"), "cost-smart": float("inf")}
    for _ in range(rounds):
        for code in best:
            best[code] = min(best[code], await _cost(front, code, clicks))
    return best["cost-plain"], best["cost-smart"]


def run(clicks: int, seconds: int, rounds: int, warmup: int, connections: int) -> int:
    summary = Summary("loadtests.distribution.bench")
    with tempfile.TemporaryDirectory() as tmp:
        front = Front(Path(tmp))
        t0 = time.monotonic()
        w = asyncio.run(weights(front, clicks, min(2000, clicks)))
        t = asyncio.run(targeting_table(front))
        inproc_s = time.monotonic() - t0
        plain_us, smart_us = asyncio.run(in_process_cost(front, 5, 10_000))
    print(f"weights {w['weights']}: shares {[round(x, 4) for x in w['shares']]} over "
          f"{clicks:,} visitors, largest gap {w['max_abs_error']:.4f}; {w['sticky_moved']} of "
          f"{w['sticky_checked']:,} returning visitors sent elsewhere")  # fmt: skip
    print(f"targeting: {t['visitors']} visitors x {t['rules']} rules, {t['cases']:,} clicks "
          f"(as a route's and as an offer's targeting): {t['mismatches']} mismatches "
          f"{t['examples']} ({inproc_s:.1f} s in process)")  # fmt: skip
    print(f"in process, the front alone: plain link {plain_us:.1f} µs, smart link {smart_us:.1f}"
          f" µs of CPU a click (+{smart_us - plain_us:.1f} µs: visitor hash, facts, routes)")  # fmt: skip
    s = served(seconds, rounds, warmup, connections)
    print(f"\n{connections} connections, median of {rounds} interleaved rounds of {seconds} s,"
          " one tracker process on CPU 0, wrk on CPU 1; ratios: median of each round's own")  # fmt: skip
    print("| link | clicks/s | p99 ms | server CPU µs/click |\n| --- | ---: | ---: | ---: |")
    print(f"| plain | {s['plain_rps']:,.0f} | {s['plain_p99_ms']:.2f} | {s['plain_cpu_us']:.1f} |")
    print(f"| smart, 3 routes, geo + device rules | {s['smart_rps']:,.0f} | "
          f"{s['smart_p99_ms']:.2f} | {s['smart_cpu_us']:.1f} |")  # fmt: skip
    checks = {
        "weight_max_abs_error <= 0.02": w["max_abs_error"] <= 0.02,
        "returning visitors keep their route": w["sticky_moved"] == 0,
        "targeting_mismatches == 0": t["mismatches"] == 0,
        "smart_link_vs_plain >= 0.9": s["smart_link_vs_plain"] >= 0.9,
        "every visitor of the rotation on its expected route": s["route_check_wrong"] == 0,
        "no errors under load": s["errors"] == 0,
    }
    for what, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {what}")
    summary.print({
        "weight_max_abs_error": w["max_abs_error"], "weights": w["weights"],
        "weight_shares": w["shares"], "weight_clicks": clicks, "sticky_moved": w["sticky_moved"],
        "targeting_mismatches": t["mismatches"], "targeting_cases": t["cases"],
        "targeting_rules": t["rules"], "targeting_visitors": t["visitors"], **s,
        "inprocess_plain_us": plain_us, "inprocess_smart_us": smart_us,
        "inprocess_extra_us": smart_us - plain_us,
        "seconds": seconds, "rounds": rounds, "connections": connections, "checks": checks,
    })  # fmt: skip
    return 0 if all(checks.values()) else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--clicks", type=int, default=100_000, help="simulated visitors (weights)")
    p.add_argument("--seconds", type=int, default=5, help="seconds per link and round (max 30)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians reported")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--connections", type=int, default=64)
    a = p.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    return run(min(max(a.clicks, 1), 1_000_000), min(a.seconds, 30), min(max(a.rounds, 1), 9),
               min(a.warmup, 10), a.connections)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
