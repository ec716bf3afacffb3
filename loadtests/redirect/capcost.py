"""What a click cap costs a click: the redirect in process, a plain offer against a capped
one whose every human click reserves its place in Redis (redirect.caps), same run.

    python -m loadtests.redirect.capcost      # starts its own Redis on 127.0.0.1

Wall time per click (the reservation is one round trip to Redis on the loopback) and CPU
time of this process per click; an uncapped offer never calls Redis. Ends with one JSON
line of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from loadtests.redirect.inprocess import _front, _scope, _send
from loadtests.summary import Summary
from redirect.catalog import CachedLink, CachedOffer
from tracker.redis_client import open_redis
from tracker.runtime.embedded_redis import EmbeddedRedis
from tracker.settings import Settings


async def _round(front: object, sink: object, code: str, n: int) -> tuple[float, float]:
    scope = _scope()
    scope["path"] = f"/c/{code}"
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        await front(dict(scope), None, _send)  # type: ignore[operator]
        if i % 200 == 199:
            sink._take()  # type: ignore[attr-defined]
    return ((time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6)


async def main(n: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp))
        url = await asyncio.to_thread(server.start)
        settings = Settings.model_construct()
        redis = open_redis(settings, url)
        try:
            front, sink = _front()
            front.caps.start(redis)
            plain = front.links.offer_map[1]
            capped = CachedOffer(2, plain.template, None, "active", None, (), plain.cookie_max_age,
                                 False, 10**12, None, False)  # fmt: skip
            front.links.offer_map[2] = capped
            front.links.link_map["capped"] = CachedLink(2, "capped", 2, 7, (), True)
            out: dict[str, list[tuple[float, float]]] = {"plain": [], "capped": []}
            for _ in range(rounds):  # interleaved
                out["plain"].append(await _round(front, sink, "bench1", n))
                out["capped"].append(await _round(front, sink, "capped", n))
            best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in out.items()}
            used = await front.caps.used(2)
        finally:
            await redis.aclose()
            await asyncio.to_thread(server.stop)
    (pw, pc), (cw, cc) = best["plain"], best["capped"]
    print(f"plain offer: {pw:.1f} µs wall, {pc:.1f} µs CPU a click; capped offer: {cw:.1f} µs "
          f"wall, {cc:.1f} µs CPU a click ({cw / pw:.1f}x wall); {used[1]:,} places reserved")  # fmt: skip
    Summary("loadtests.redirect.capcost").print({
        "plain_wall_us": round(pw, 1), "plain_cpu_us": round(pc, 1),
        "capped_wall_us": round(cw, 1), "capped_cpu_us": round(cc, 1),
        "capped_over_plain_wall": round(cw / pw, 2), "reserved": used[1]})  # fmt: skip


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--clicks", type=int, default=5_000)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    asyncio.run(main(a.clicks, a.rounds))
