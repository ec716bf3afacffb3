"""The redirect's own cost per click, without a server: µs of CPU per call of the front.

    python -m loadtests.redirect.inprocess            # best of 7 x 20k clicks
    python -m loadtests.redirect.inprocess --profile  # + cProfile of one round

The front is driven directly with the benchmark's request (same link template,
query and user agent as ``loadtests.redirect.bench``), link, offer and partner
cached, and the sink's batch taken every 200 clicks, as its 20 ms flush does at
~10k clicks/s (a bench that never empties the sink measures allocation of the
ever-growing buffer instead). No I/O: uvicorn's own work (~65-75 µs a request
here) is not in this figure; see docs/notes/issue-3.md for how the two add up.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import time
from typing import Any

from loadtests.summary import Summary
from redirect.caps import ClickCaps
from redirect.catalog import CachedLink, CachedOffer
from redirect.front import RedirectFront
from redirect.links import LinkCache
from redirect.sink import ClickSink
from tracker import redis_keys
from tracker.domain.macros import compile_template
from tracker.settings import Settings

LANDING = "https://shop.example/landing?cid={click_id}&a={aff_id}&s1={sub1}&s2={sub2}&d={device}"
UA = b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
TAKE_EVERY = 200


def _front() -> tuple[RedirectFront, ClickSink]:
    links = LinkCache(1.0)
    offer = CachedOffer(1, compile_template(LANDING), None, "active", None, (), 30 * 86_400,
                        False, None, None, True)  # fmt: skip
    links.offer_map[1] = offer
    links.link_map["bench1"] = CachedLink(1, "bench1", 1, 7, (), True)
    links.affiliate_map[7] = True
    sink = ClickSink(["s"], 500, 20, 10**9)
    settings = Settings.model_construct()
    caps = ClickCaps(redis_keys.of(settings), 0.25)
    return RedirectFront(None, links, sink, None, caps, settings), sink


def _scope() -> dict[str, Any]:
    """What uvicorn hands the app for wrk's request."""
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5555), "scheme": "http",
            "method": "GET", "root_path": "", "path": "/c/bench1", "raw_path": b"/c/bench1",
            "query_string": b"sub1=bench&sub2=wrk",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", UA)], "state": {}}  # fmt: skip


async def _send(message: dict[str, Any]) -> None:
    pass


async def _round(front: RedirectFront, sink: ClickSink, n: int) -> float:
    t = time.process_time()
    for i in range(n):
        await front(_scope(), None, _send)
        if i % TAKE_EVERY == TAKE_EVERY - 1:
            sink._take()
    return (time.process_time() - t) / n * 1e6


async def main(rounds: int, n: int, profile: bool) -> None:
    front, sink = _front()
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 1_000)  # as `tracker serve` runs
    summary = Summary("loadtests.redirect.inprocess")
    times = [await _round(front, sink, n) for _ in range(rounds)]
    print(f"best {min(times):.1f} µs a click, median {sorted(times)[len(times) // 2]:.1f} µs "
          f"({rounds} rounds of {n:,})")  # fmt: skip
    if profile:
        prof = cProfile.Profile()
        prof.enable()
        await _round(front, sink, n)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    summary.print({"best_us_per_click": min(times),
                   "median_us_per_click": sorted(times)[len(times) // 2],
                   "rounds": rounds, "clicks_per_round": n})  # fmt: skip


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--clicks", type=int, default=20_000)
    p.add_argument("--profile", action="store_true")
    a = p.parse_args()
    asyncio.run(main(min(a.rounds, 50), min(a.clicks, 1_000_000), a.profile))
