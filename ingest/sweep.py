"""The periodic sweep: gauges, claiming what dead consumers left, trimming.

Only one worker at a time claims and trims (a Redis lock with a TTL, freed
by compare-and-delete); every worker refreshes its gauges. Claimed entries
are checked against ``max_deliveries`` like any redelivered entry. Every
command names one stream (Redis Cluster: one slot), and a shard whose node
is away is skipped until the next sweep while the others are swept.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from ingest import partitions, streams
from ingest.enrich import DailySalts
from ingest.errors import TRANSIENT, transient
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


MAINTAIN_EVERY_S = 3600.0


class Sweeper:
    def __init__(self, worker: Worker) -> None:
        self._w = worker
        self.lock_key = f"{worker.settings.stream_prefix}:ingest:sweep-lock"
        self._release = worker.redis.register_script(_RELEASE)
        self._next_maintenance = 0.0

    async def maintain(self) -> None:
        """Partitions ahead, retention, old salts: at start, then hourly (advisory-locked)."""
        if time.monotonic() < self._next_maintenance:
            return
        w = self._w
        today = datetime.now(UTC).date()
        try:
            dropped = await partitions.maintain(
                w.pool, today, ahead_days=w.settings.partitions_ahead_days,
                retention_days=w.settings.retention_days,
            )  # fmt: skip
            if dropped is not None:
                await DailySalts.forget_old(w.pool, today)
        except TRANSIENT:
            raise
        except asyncpg.PostgresError:  # upkeep logs and keeps going; ingest goes on
            log.exception("partition maintenance failed; trying again in a minute")
            self._next_maintenance = time.monotonic() + 60
            return
        self._next_maintenance = time.monotonic() + MAINTAIN_EVERY_S

    async def sweep(self) -> list[Work]:
        w = self._w
        await self.maintain()
        states = {}
        for s in w.streams:
            try:
                states[s] = await streams.state(w.redis, s, w.group)
            except TRANSIENT as exc:
                _skip(s, exc)
        token = uuid.uuid4().hex
        ttl_ms = int(max(w.settings.ingest_sweep_s * 4, 10) * 1000)
        try:
            if not states or not await w.redis.set(self.lock_key, token, nx=True, px=ttl_ms):
                return []
        except TRANSIENT as exc:
            _skip(self.lock_key, exc)
            return []
        try:
            works = []
            for stream, st in states.items():
                try:
                    if st.pending:
                        works.extend(await self._claim(stream))
                    await streams.trim(w.redis, stream, st)
                    await self._forget_consumers(stream)
                except TRANSIENT as exc:
                    _skip(stream, exc)
            return works
        finally:
            try:
                await self._release(keys=[self.lock_key], args=[token])
            except TRANSIENT as exc:  # the lock expires by itself
                _skip(self.lock_key, exc)

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
            # Our own batches in flight are idle too when a write is slow: not claimed twice.
            entries = [e for e in entries if e[0] not in w.inflight]
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


def _skip(key: str, exc: BaseException) -> None:
    """A shard's node away: log, and sweep it next time. Any other error reply is a bug."""
    if not transient(exc):
        raise exc
    log.warning("sweep: %s skipped this time: %r", key, exc)
