"""Worker heartbeat in Redis, and the check behind ``tracker ingest --check``.

A worker writes its heartbeat when it commits a batch or finds nothing to
do; a worker stuck on a backlog it cannot write (Postgres down, a batch
failing over and over) stops beating, and the check fails once every
heartbeat is older than the allowed age. Keys expire on their own. They
share one hash tag, so on Redis Cluster they live on one node and the check
scans only that node: another node away does not make the check fail.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from redis.asyncio import Redis, RedisCluster

from tracker.redis_keys import RedisKeys


async def beat(redis: Redis, keys: RedisKeys, consumer: str, ttl_s: int, rows: int) -> None:
    value = orjson.dumps({"at": time.time(), "rows": rows})
    await redis.set(keys.health(consumer), value, ex=ttl_s * 2)


async def check(redis: Redis, keys: RedisKeys, max_age_s: float, consumer: str | None = None
                ) -> tuple[bool, list[str]]:  # fmt: skip
    """(healthy, one line per worker seen): healthy when a heartbeat is recent enough."""
    pattern = keys.health(consumer or "*")
    where: dict[str, Any] = {}
    if isinstance(redis, RedisCluster):
        await redis.initialize()
        where["target_nodes"] = redis.get_node_from_key(keys.health("x"))
    now = time.time()
    lines: list[str] = []
    healthy = False
    async for k in redis.scan_iter(match=pattern, count=200, **where):
        raw: Any = await redis.get(k)
        if raw is None:
            continue
        data = orjson.loads(raw)
        age = now - float(data["at"])
        ok = age <= max_age_s
        healthy |= ok
        name = (k.decode() if isinstance(k, bytes) else str(k)).rsplit(":", 1)[-1]
        lines.append(
            f"{name}: last progress {age:.1f}s ago, {data['rows']} rows ({'ok' if ok else 'STALE'})"
        )
    return healthy, lines
