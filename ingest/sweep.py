"""The periodic sweep: gauges, claiming what dead consumers left, trimming.

Only one worker at a time claims and trims (a Redis lock with a TTL, freed
by compare-and-delete); every worker refreshes its gauges. Claimed entries
are checked against ``max_deliveries`` like any redelivered entry.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from ingest import streams
from tracker import metrics

if TYPE_CHECKING:
    from ingest.batch import Work
    from ingest.worker import Worker

log = logging.getLogger("tracker.ingest")

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
CONSUMER_FORGET_MS = 3_600_000  # consumers idle this long with nothing pending are removed


class Sweeper:
    def __init__(self, worker: Worker) -> None:
        self._w = worker
        self.lock_key = f"{worker.settings.stream_prefix}:ingest:sweep-lock"
        self._release = worker.redis.register_script(_RELEASE)

    async def sweep(self) -> list[Work]:
        w = self._w
        states = {s: await streams.state(w.redis, s, w.group) for s in w.streams}
        token = uuid.uuid4().hex
        ttl_ms = int(max(w.settings.ingest_sweep_s * 4, 10) * 1000)
        if not await w.redis.set(self.lock_key, token, nx=True, px=ttl_ms):
            return []
        try:
            works = []
            for stream, st in states.items():
                if st.pending:
                    works.extend(await self._claim(stream))
                await streams.trim(w.redis, stream, st)
                await self._forget_consumers(stream)
            return works
        finally:
            await self._release(keys=[self.lock_key], args=[token])

    async def _claim(self, stream: str) -> list[Work]:
        w = self._w
        works = []
        cursor = "0-0"
        for _ in range(100):  # bounded: at most 100 pages per sweep
            reply: Any = await w.redis.xautoclaim(
                stream, w.group, w.consumer, w.claim_idle_ms, cursor,
                count=w.settings.ingest_batch_entries,
            )  # fmt: skip
            cursor_b, entries = reply[0], reply[1]
            if entries:
                metrics.CLAIMED.labels(stream).inc(len(entries))
                log.info("claimed %d pending entries of %s", len(entries), stream)
                works.append(await w.builder.build([(stream, entries)], redelivered=True))
            cursor = cursor_b.decode() if isinstance(cursor_b, bytes) else str(cursor_b)
            if cursor == "0-0":
                break
        return works

    async def _forget_consumers(self, stream: str) -> None:
        w = self._w
        for c in await w.redis.xinfo_consumers(stream, w.group):
            name = c["name"].decode() if isinstance(c["name"], bytes) else str(c["name"])
            if (
                name != w.consumer
                and int(c["pending"]) == 0
                and int(c["idle"]) > CONSUMER_FORGET_MS
            ):
                await w.redis.xgroup_delconsumer(stream, w.group, name)
