"""The bot benchmark (issue 19): how well the redirect tells people from machines, and what
it costs a click.

    python -m loadtests.bots.bench            # both corpora, then the per-click cost
    python -m loadtests.bots.bench --show 20  # also list what each classifier got wrong

Corpora, both pinned PyPI packages (nothing copied into this repository):

- crawlers: every example agent of the ``crawler-user-agents`` data set (the pinned
  version the tracker classifies with; MIT). Target: ≥ 99 % non-human.
- browsers: the real-world browser agents of ``fake-useragent``'s data (Apache-2.0; the
  ``test`` extra pins it). Target: ≤ 0.1 % non-human.

The baseline, measured in the same run: the hand-kept rules the tracker used before
(kept below, verbatim, as ``_old_agent``). The per-click cost is the redirect's, in
process (loadtests.redirect.inprocess), with the agents of both corpora cycling through
the front (cache hits once each was seen) and with the old rules swapped in; a cache
miss (a new agent) is timed apart. Ends with one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import time
from collections.abc import Callable
from functools import lru_cache
from importlib.metadata import version
from importlib.resources import files
from typing import Any

from crawleruseragents import CRAWLER_USER_AGENTS_DATA

import redirect.hit
from loadtests.redirect.inprocess import _front, _scope, _send
from loadtests.summary import Summary
from tracker.domain import classify as classify_mod

# -- the hand-kept rules before issue 19 (the baseline) ----------------------------------
_PREVIEW = (
    "slackbot", "slack-imgproxy", "slack-screenshot", "twitterbot", "facebookexternalhit",
    "facebot", "facebookcatalog", "meta-externalagent", "telegrambot", "discordbot", "whatsapp/",
    "linkedinbot", "skypeuripreview", "microsoftpreview", "embedly", "redditbot", "pinterestbot",
    "vkshare", "iframely", "mastodon/", "line-poker", "kakaotalk-scrap", "google-pagerenderer",
    "bitlybot", "quora link preview", "nuzzel", "zoombot", "mattermost", "rocket.chat", "bluesky",
    "cardyb", "preview",
)  # fmt: skip
_BOT = (
    "crawler", "spider", "crawl", "slurp", "headless", "curl/", "wget/", "python-requests",
    "python-urllib", "python-httpx", "httpx/", "aiohttp", "go-http-client", "java/", "okhttp",
    "libwww", "scrapy", "phantomjs", "lighthouse", "pingdom", "uptimerobot", "monitor",
    "apache-httpclient", "node-fetch", "axios/", "postmanruntime", "insomnia",
    "mediapartners-google", "adsbot-google", "google-inspectiontool", "feedfetcher", "gptbot",
    "claudebot", "ccbot", "bytespider", "petalbot", "yandex", "baiduspider", "semrush", "ahrefs",
    "mj12bot", "dotbot", "archive.org_bot", "ia_archiver", "httrack", "nutch", "zgrab", "masscan",
    "nmap", "nikto", "sqlmap", "selenium", "puppeteer", "playwright", "cypress",
)  # fmt: skip
_BOT_WORD = re.compile(r"bot(?:\b|[/-])")


def _old_agent_uncached(user_agent: str) -> str:
    ua = user_agent.strip().lower()
    if not ua:
        return "bot"
    if any(t in ua for t in _PREVIEW):
        return "preview"
    if _BOT_WORD.search(ua) or any(t in ua for t in _BOT):
        return "bot"
    return "human"


_old_agent = lru_cache(maxsize=8192)(_old_agent_uncached)


def _old_classify(method: str, user_agent: str, purpose: str = "") -> str:
    if method == "HEAD":
        return "head"
    if purpose and "prefetch" in purpose.lower():
        return "prefetch"
    return _old_agent(user_agent)


# -- corpora ------------------------------------------------------------------------------
def crawlers() -> list[str]:
    return sorted({i for d in CRAWLER_USER_AGENTS_DATA for i in d.get("instances", []) if i})


def browsers() -> list[str]:
    data = files("fake_useragent") / "data" / "browsers.jsonl"
    return sorted({json.loads(line)["useragent"] for line in data.read_text().splitlines() if line})


def _non_human(agents: list[str], verdict: Callable[[str], str]) -> tuple[float, list[str]]:
    """(share called non-human, those agents)."""
    machines = [a for a in agents if verdict(a) != "human"]
    return len(machines) / len(agents), machines


def _miss_us(agents: list[str], fn: Callable[[str], str]) -> float:
    t = time.perf_counter()
    for a in agents:
        fn(a)
    return (time.perf_counter() - t) / len(agents) * 1e6


async def _per_click(agents: list[bytes], n: int, rounds: int) -> float:
    """Best µs a click of the front, the agents cycling (every one seen before)."""
    front, sink = _front()
    scopes = []
    for ua in agents:
        s = _scope()
        s["headers"] = [(b"host", b"127.0.0.1:8000"), (b"user-agent", ua)]
        scopes.append(s)
    for s in scopes:  # warm: every agent classified once (the cache holds them all)
        await front(s, None, _send)
    sink._take()
    gc.collect()
    gc.freeze()
    best = float("inf")
    k = len(scopes)
    for _ in range(rounds):
        t = time.process_time()
        for i in range(n):
            await front(scopes[i % k], None, _send)
            if i % 200 == 199:
                sink._take()
        best = min(best, (time.process_time() - t) / n * 1e6)
    return best


async def main(show: int, clicks: int, rounds: int) -> None:
    bots, people = crawlers(), browsers()
    t0 = time.perf_counter()
    classify_mod.warm()
    build_s = time.perf_counter() - t0
    new = classify_mod.classify_agent
    new_bot, _ = _non_human(bots, new)
    new_fp, new_fp_wrong = _non_human(people, new)
    old_bot, _ = _non_human(bots, _old_agent)
    old_fp, _ = _non_human(people, _old_agent)
    print(f"crawler-user-agents {version('crawler-user-agents')}: {len(bots):,} crawler agents; "
          f"fake-useragent {version('fake-useragent')}: {len(people):,} browser agents")  # fmt: skip
    print(f"crawlers non-human: tracker {new_bot:.2%}, hand-kept rules {old_bot:.2%} "
          f"(target ≥ 99 %)")  # fmt: skip
    print(f"browsers non-human: tracker {new_fp:.3%} ({len(new_fp_wrong)}), hand-kept rules "
          f"{old_fp:.3%} (target ≤ 0.1 %)")  # fmt: skip
    for label, wrong in (("crawler called human", [a for a in bots if new(a) == "human"]),
                         ("browser called non-human", new_fp_wrong)):  # fmt: skip
        for a in wrong[:show]:
            print(f"  {label}: {a[:140]}")
    for a in [a for a in bots if _old_agent(a) == "human"][:show]:
        print(f"  the hand-kept rules called human: {a[:140]}")

    uncached = classify_mod.classify_agent.__wrapped__  # type: ignore[attr-defined]
    miss_new_b = _miss_us(people, uncached)
    miss_new_c = _miss_us(bots, uncached)
    miss_old_b = _miss_us(people, _old_agent_uncached)
    print(f"a new agent (cache miss): tracker {miss_new_b:.1f} µs a browser, {miss_new_c:.1f} µs "
          f"a crawler; hand-kept rules {miss_old_b:.1f} µs; pattern set built in {build_s:.2f} s")  # fmt: skip

    mix = [a.encode("latin-1", "replace") for a in people[:2000] + bots[:500]]
    new_us, old_us = [], []
    for _ in range(3):  # interleaved: the machine's speed moves
        redirect.hit.classify = classify_mod.classify
        new_us.append(await _per_click(mix, clicks, rounds))
        redirect.hit.classify = _old_classify
        old_us.append(await _per_click(mix, clicks, rounds))
    redirect.hit.classify = classify_mod.classify
    new_c, old_c = min(new_us), min(old_us)
    print(f"redirect per click, {len(mix):,} agents cycling: tracker {new_c:.2f} µs, with the "
          f"hand-kept rules {old_c:.2f} µs: {new_c - old_c:+.2f} µs (target within 5 µs)")  # fmt: skip
    figures: dict[str, Any] = {
        "crawler_user_agents": version("crawler-user-agents"),
        "fake_useragent": version("fake-useragent"),
        "crawlers": len(bots), "browsers": len(people),
        "crawlers_non_human": round(new_bot, 5), "browsers_non_human": round(new_fp, 6),
        "baseline_crawlers_non_human": round(old_bot, 5),
        "baseline_browsers_non_human": round(old_fp, 6),
        "miss_us_browser": round(miss_new_b, 2), "miss_us_crawler": round(miss_new_c, 2),
        "baseline_miss_us": round(miss_old_b, 2),
        "click_us": round(new_c, 2), "baseline_click_us": round(old_c, 2),
        "click_us_delta": round(new_c - old_c, 2),
        "targets_met": new_bot >= 0.99 and new_fp <= 0.001 and new_c - old_c <= 5,
    }  # fmt: skip
    Summary("loadtests.bots.bench").print(figures)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--show", type=int, default=0, help="list this many misclassified agents")
    p.add_argument("--clicks", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    asyncio.run(main(a.show, a.clicks, a.rounds))
