"""Clean counts end to end (issue 19): known bot and browser agents through the redirect,
the worker, and back through the export and the traffic report; only human clicks take
the visitor's unique slot (a prefetch or a preview before the click never does)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from redis.asyncio import Redis

from ingest.worker import Worker
from tests.redirect.helpers import CHROME, make_link, make_offer
from tracker.settings import Settings

BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "python-requests/2.31.0",
    "Mozilla/5.0 (compatible; Qwantify/2.4w; +https://www.qwant.com/)/2.4w",  # the list's only
    "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
]
PREVIEWS = ["Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "WhatsApp/2.23.20.0 A"]
BROWSERS = [
    CHROME,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
]


async def test_known_agents_read_back_and_only_humans_take_unique_slots(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer = await make_offer(api)
    link = await make_link(api, offer)
    path = f"/c/{link['code']}"
    async with httpx.AsyncClient(base_url=service) as http:
        for ua in BOTS + PREVIEWS:
            assert (await http.get(path, headers={"User-Agent": ua})).status_code == 302
        for ua in BROWSERS:
            # the browser prefetches the link, then the person clicks it: one unique human
            r = await http.get(path, headers={"User-Agent": ua, "Sec-Purpose": "prefetch"})
            assert r.status_code == 302
            assert (await http.get(path, headers={"User-Agent": ua})).status_code == 302
        # a preview with a browser's agent (Safari's top sites), then the person's click
        await http.get(path, headers={"User-Agent": BROWSERS[1], "X-Purpose": "preview"})
        await http.get(path, headers={"User-Agent": BROWSERS[1]})  # the same visitor again
    await Worker(settings, pool, redis, consumer="t").run(burst=True)

    now = datetime.now(UTC)
    span = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }
    r = await api.get("/api/v1/exports/clicks", params=span)
    rows = [json.loads(line) for line in r.text.splitlines()]
    mine = [row for row in rows if row["affiliate_id"] == link["affiliate_id"]]
    by_class: dict[str, list[dict[str, object]]] = {}
    for row in mine:
        by_class.setdefault(str(row["click_class"]), []).append(row)
    assert sorted(str(x["user_agent"]) for x in by_class["bot"]) == sorted(BOTS)
    assert sorted(str(x["user_agent"]) for x in by_class["preview"]) == sorted(
        [*PREVIEWS, BROWSERS[1]]
    )
    assert len(by_class["prefetch"]) == len(BROWSERS)
    humans = by_class["human"]
    assert len(humans) == len(BROWSERS) + 1
    # every browser's first click is unique although its prefetch came first; the repeat isn't
    assert sum(bool(x["is_unique"]) for x in humans) == len(BROWSERS)
    assert not any(x["is_unique"] for cls in ("bot", "preview", "prefetch") for x in by_class[cls])

    report = await api.get("/api/v1/reports/traffic",
                           params={**span, "affiliate_id": link["affiliate_id"], "group_by": "partner"})  # fmt: skip
    assert report.status_code == 200, report.text
    [row] = report.json()["rows"]
    n = len(mine)
    assert (row["gross"], row["human"], row["unique"], row["bot"], row["preview"],
            row["prefetch"], row["blocked"]) == (n, len(BROWSERS) + 1, len(BROWSERS), len(BOTS),
                                                 len(PREVIEWS) + 1, len(BROWSERS), 0)  # fmt: skip
    # the main report agrees: bot clicks are the non-human ones, uniques only human
    main = await api.get("/api/v1/reports", params={**span, "group_by": "partner",
                                                    "partner": str(link["affiliate_id"])})  # fmt: skip
    totals = main.json()["totals"]
    assert (totals["gross_clicks"], totals["unique_clicks"], totals["human_clicks"],
            totals["bot_clicks"]) == (n, len(BROWSERS), len(BROWSERS) + 1, n - len(BROWSERS) - 1)  # fmt: skip
