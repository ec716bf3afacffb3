"""XREADGROUP over many stream shards, one call per hash slot.

On Redis Cluster a command may name several keys only when they share a
slot (CROSSSLOT otherwise), so the streams are read in slot groups: click
shard ``i`` and conversion shard ``i`` carry the same tag and share one
call; on a single Redis the same groups are used, so both run one code path.
Groups are read concurrently; a group whose node is away is skipped for a
short backoff while the others go on, and only when every group fails does
the error reach the worker's retry loop. A blocking read first tries every
group without blocking, so a busy shard is never held up by idle ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from ingest.errors import transient
from tracker.domain.shards import by_slot

log = logging.getLogger("tracker.ingest")

Reply = list[tuple[bytes, Any]]
_BACKOFF_MAX_S = 2.0


class ShardReader:
    def __init__(self, redis: Redis, group: str, consumer: str, streams: list[str],
                 count: int, block_ms: int) -> None:  # fmt: skip
        self._redis = redis
        self._group = group
        self._consumer = consumer
        self._count = count
        self._block_ms = block_ms
        self.groups = by_slot(streams)
        self._slot_of = {s: n for n, g in enumerate(self.groups) for s in g}
        self._away: dict[int, tuple[float, float]] = {}  # group → (retry at, backoff)

    async def read(self, start: dict[str, str], block: bool = True,
                   count: int | None = None) -> Reply:  # fmt: skip
        """Entries after each stream's id in ``start`` (``>``: new ones), up to ``count``
        (default: the batch's entries) a stream. With ``block``, waits up to block_ms when
        nothing is there (new entries only)."""
        count = count or self._count
        parts: dict[int, dict[str, str]] = {}
        for stream, at in start.items():
            parts.setdefault(self._slot_of[stream], {})[stream] = at
        block = block and ">" in start.values()
        if block and len(parts) > 1:
            reply = await self._round(parts, False, count)
            if any(entries for _, entries in reply):
                return reply
        return await self._round(parts, block, count)

    async def _round(self, parts: dict[int, dict[str, str]], block: bool, count: int) -> Reply:
        now = time.monotonic()
        due = [n for n in parts if self._away.get(n, (0.0, 0.0))[0] <= now] or list(parts)
        results = await asyncio.gather(
            *(self._one(parts[n], block, count) for n in due), return_exceptions=True
        )
        reply: Reply = []
        failed: list[BaseException] = []
        for n, res in zip(due, results, strict=True):
            if isinstance(res, BaseException):
                if isinstance(res, ResponseError) and "NOGROUP" in str(res):
                    raise res  # the worker re-creates the groups
                if not transient(res):
                    raise res
                failed.append(res)
                backoff = min(self._away.get(n, (0.0, 0.05))[1] * 2, _BACKOFF_MAX_S)
                self._away[n] = (time.monotonic() + backoff, backoff)
                log.warning("ingest: shards %s unreadable for %.1fs: %r",
                            self.groups[n], backoff, res)  # fmt: skip
            else:
                self._away.pop(n, None)
                reply.extend(res)
        if failed and len(failed) == len(due):
            raise failed[0]
        return reply

    async def _one(self, start: dict[str, str], block: bool, count: int) -> Reply:
        where: Any = start
        resp: Any = await self._redis.xreadgroup(
            self._group, self._consumer, where, count=count,
            block=self._block_ms if block else None,
        )  # fmt: skip
        return list(resp or [])
