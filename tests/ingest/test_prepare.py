"""The batch loop's fast rows are the careful rows, and rollups follow the rows' own times."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis

from ingest.clicks.parse import parse_wire
from ingest.clicks.rows import CLICK_COLUMNS, own_fields
from ingest.worker import Worker
from schemas.events import WIRE_VERSION
from tests.ingest.helpers import click, raw_counts, rollup, setup_offer
from tracker.settings import Settings


def _odd_clicks(offer: int, aff: int) -> list[dict[str, Any]]:
    """Clicks with every kind of value the fast path must leave to the careful one."""
    hour = (int(time.time()) // 3600) * 3600
    odd: list[dict[str, Any]] = [
        {"subs": []},
        {"subs": ["a"] * 10},
        {"subs": [None, "x", None]},
        {"ip": "2001:db8::7"},
        {"ip": ""},
        {"ip": "10.1.2.300"},
        {"ua": ""},
        {"ua": "tab\there\\"},
        {"referer": "x\\y\nz"},
        {"source": "a\tb"},
        {"link_code": "c\rd"},
        {"params": {"q": 'a"b\tc', "n": "1"}},
        {"params": {"gclid": "g1"}},
        {"link_id": None, "link_code": ""},
        {"cls": "head"},
        {"cls": "bot"},
        {"cls": "prefetch"},
        {"cls": "blocked", "rule": "ua\tblock\\list"},
        {"kind": "impression"},
        {"ts": hour - 0.0000004},  # shown as the next hour's first microsecond
        {"ts": hour - 0.5},
    ]
    return [click(offer, aff, i, **over) for i, over in enumerate(odd * 3)]


def _entries(clicks: list[dict[str, Any]]) -> list[tuple[bytes, dict[bytes, bytes]]]:
    payload = orjson.dumps(clicks)
    return [(b"1-1", {b"v": WIRE_VERSION.encode(), b"clicks": payload})]


async def test_fast_rows_equal_careful_rows(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await setup_offer(pool)
    worker = Worker(settings, pool, redis, consumer="t")
    parsed = parse_wire(_entries(_odd_clicks(offer, aff)))
    assert not parsed.rejects and not parsed.controls
    fast = await worker.clicks.prepare(parsed.clicks, controls=False)
    careful = await worker.clicks.prepare(parsed.clicks, controls=True)
    assert fast.click_text == careful.click_text
    assert fast.impression_text == careful.impression_text
    assert fast.spans.args() == careful.spans.args()
    rows = fast.click_text.decode().split("\n")[:-1]
    clicks = [c for c in parsed.clicks if c.kind == "click"]
    assert len(rows) == len(clicks) == fast.clicks
    for row, c in zip(rows, clicks, strict=True):
        assert row.startswith(own_fields(c) + "\t")
        assert row.count("\t") == len(CLICK_COLUMNS) - 1  # every value that held a tab was escaped


async def test_odd_batch_is_written_and_rolled_up_by_the_rows_own_time(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await setup_offer(pool)
    worker = Worker(settings, pool, redis, consumer="t")
    parsed = parse_wire(_entries(_odd_clicks(offer, aff)))
    await worker.clicks.write(await worker.clicks.prepare(parsed.clicks, controls=False))
    got = await pool.fetch(
        "SELECT source, referer, params FROM clicks WHERE affiliate_id = $1", aff
    )
    assert {r["source"] for r in got} >= {"a\tb", None}
    assert "x\\y\nz" in {r["referer"] for r in got}
    assert await rollup(pool, aff) == await raw_counts(pool, aff)


async def test_a_value_that_reads_as_null_is_kept(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await setup_offer(pool)
    worker = Worker(settings, pool, redis, consumer="t")
    clicks = [click(offer, aff, 0, source="\x01"), click(offer, aff, 1, source="plain")]
    parsed = parse_wire(_entries(clicks))
    assert parsed.controls  # the payload held \u0001: every row goes the careful way
    await worker.clicks.write(await worker.clicks.prepare(parsed.clicks, controls=True))
    got = await pool.fetch("SELECT source FROM clicks WHERE affiliate_id = $1", aff)
    assert sorted(r["source"] for r in got) == ["\x01", "plain"]


async def test_the_judge_writes_the_key_that_key_names(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await setup_offer(pool)
    worker = Worker(settings, pool, redis, consumer="t")
    parsed = parse_wire(_entries([click(offer, aff, i, ip=f"10.9.0.{i}") for i in range(40)]))
    judge = worker.clicks._unique
    assert await judge.judge(parsed.clicks) == [True] * 40
    assert await judge.judge(parsed.clicks) == [True] * 40  # a replay agrees with itself
    for c in parsed.clicks:
        assert await redis.get(judge.key(c.offer_id, c.ip, c.ua)) == c.click_id.encode()
