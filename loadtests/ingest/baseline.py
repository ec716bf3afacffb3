"""The per-entry consumer baseline: one click per stream entry, the simplest loop.

XREADGROUP → build records → ``copy_records_to_table`` → XACK, without
enrichment, staging or rollups: the design the issue measured at about 22k
rows/s, spending its time in Python.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis

COLUMNS = ("click_id", "created_at", "link_id", "link_code", "offer_id", "affiliate_id",
           "sub1", "sub2", "sub3", "user_agent", "referer", "click_class")  # fmt: skip


async def fill_one_per_entry(redis: Redis, stream: str, clicks: list[dict[str, Any]]) -> None:
    for start in range(0, len(clicks), 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for c in clicks[start : start + 1000]:
                pipe.xadd(stream, {"v": "1", "click": orjson.dumps(c)})
            await pipe.execute()


async def consume_per_entry(redis: Redis, pool: asyncpg.Pool, stream: str, n: int) -> float:
    """Consume n one-click entries; return the seconds it took."""
    group = "baseline"
    await redis.xgroup_create(stream, group, id="0", mkstream=True)
    done = 0
    t0 = time.perf_counter()
    deadline = t0 + 120
    while done < n and time.perf_counter() < deadline:
        resp: Any = await redis.xreadgroup(group, "b", {stream: ">"}, count=500, block=100)
        for _, entries in resp or []:
            records = []
            for _, fields in entries:
                c = orjson.loads(fields[b"click"])
                subs = (c.get("subs") or []) + [None] * 3
                records.append((
                    uuid.UUID(c["click_id"]), datetime.fromtimestamp(c["ts"], UTC), c["link_id"],
                    c["link_code"], c["offer_id"], c["aff_id"], subs[0], subs[1], subs[2],
                    c["ua"], c["referer"], c["cls"],
                ))  # fmt: skip
            async with pool.acquire() as conn:
                await conn.copy_records_to_table("clicks", records=records, columns=COLUMNS)
            await redis.xack(stream, group, *[i for i, _ in entries])
            done += len(entries)
    return time.perf_counter() - t0
