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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from redis.asyncio import Redis

from ingest import partitions, streams
from ingest.batch import Work
from ingest.clicks.enrich import DailySalts
from ingest.errors import TRANSIENT, transient
from tracker import metrics, redis_keys
from tracker.settings import Settings
from tracker.store import price_terms

log = logging.getLogger("tracker.ingest")

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
CONSUMER_FORGET_MS = 3_600_000  # consumers idle this long with nothing pending are removed


MAINTAIN_EVERY_S = 3600.0


# Turns claimed entries of one stream into a batch for the writer.
Build = Callable[[list[tuple[Any, Any]]], Awaitable[Work]]


class Sweeper:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, redis: Redis, *, group: str,
                 consumer: str, streams: list[str], claim_idle_ms: int, inflight: set[bytes],
                 build: Build) -> None:  # fmt: skip
        self._settings = settings
        self._pool = pool
        self._redis = redis
        self._group = group
        self._consumer = consumer
        self._streams = streams
        self._claim_idle_ms = claim_idle_ms
        self._inflight = inflight  # the worker's own batches in flight: never claimed
        self._build = build
        self.lock_key = redis_keys.of(settings).sweep_lock()
        self._release = redis.register_script(_RELEASE)
        self._next_maintenance = 0.0

    async def maintain(self) -> None:
        """Partitions ahead, retention, old salts: at start, then hourly (advisory-locked)."""
        if time.monotonic() < self._next_maintenance:
            return
        today = datetime.now(UTC).date()
        try:
            dropped = await partitions.maintain(
                self._pool, today, ahead_days=self._settings.partitions_ahead_days,
                retention_days=self._settings.retention_days,
            )  # fmt: skip
            if dropped is not None:
                await DailySalts.forget_old(self._pool, today)
        except TRANSIENT:
            raise
        except asyncpg.PostgresError:  # upkeep logs and keeps going; ingest goes on
            log.exception("partition maintenance failed; trying again in a minute")
            self._next_maintenance = time.monotonic() + 60
            return
        self._next_maintenance = time.monotonic() + MAINTAIN_EVERY_S

    async def sweep(self) -> list[Work]:
        await self.maintain()
        states = {}
        for s in self._streams:
            try:
                states[s] = await streams.state(self._redis, s, self._group)
            except TRANSIENT as exc:
                _skip(s, exc)
        await self._dead_letter_gauges()
        token = uuid.uuid4().hex
        ttl_ms = int(max(self._settings.ingest_sweep_s * 4, 10) * 1000)
        try:
            if not states or not await self._redis.set(self.lock_key, token, nx=True, px=ttl_ms):
                return []
        except TRANSIENT as exc:
            _skip(self.lock_key, exc)
            return []
        try:
            await self._price_terms_due()
            works = []
            for stream, st in states.items():
                try:
                    if st.pending:
                        works.extend(await self._claim(stream))
                    await streams.trim(self._redis, stream, st)
                    await self._forget_consumers(stream)
                except TRANSIENT as exc:
                    _skip(stream, exc)
            return works
        finally:
            try:
                await self._release(keys=[self.lock_key], args=[token])
            except TRANSIENT as exc:  # the lock expires by itself
                _skip(self.lock_key, exc)

    async def _price_terms_due(self) -> None:
        """An offer's scheduled money terms shown in its fields once they fall due (pricing
        reads the dated terms themselves, docs/adr/0081)."""
        try:
            async with self._pool.acquire() as conn:
                await price_terms.apply_due(conn)
        except TRANSIENT:
            raise
        except asyncpg.PostgresError:  # upkeep logs and keeps going; ingest goes on
            log.exception("applying due price terms failed; trying again at the next sweep")

    async def _dead_letter_gauges(self) -> None:
        """How many entries each dead-letter stream holds (what alerts watch grow)."""
        for stream in redis_keys.of(self._settings).dead_letter_streams():
            try:
                metrics.DEAD_LETTER_LENGTH.labels(stream).set(int(await self._redis.xlen(stream)))
            except TRANSIENT as exc:
                _skip(stream, exc)

    async def _claim(self, stream: str) -> list[Work]:
        works = []
        cursor = "0-0"
        for _ in range(100):  # bounded: at most 100 pages per sweep
            reply: Any = await self._redis.xautoclaim(
                stream, self._group, self._consumer, self._claim_idle_ms, cursor,
                count=self._settings.ingest_batch_entries,
            )  # fmt: skip
            cursor_b, entries = reply[0], reply[1]
            # Our own batches in flight are idle too when a write is slow: not claimed twice.
            entries = [e for e in entries if e[0] not in self._inflight]
            if entries:
                metrics.CLAIMED.labels(stream).inc(len(entries))
                log.info("claimed %d pending entries of %s", len(entries), stream)
                works.append(await self._build([(stream, entries)]))
            cursor = cursor_b.decode() if isinstance(cursor_b, bytes) else str(cursor_b)
            if cursor == "0-0":
                break
        return works

    async def _forget_consumers(self, stream: str) -> None:
        for c in await self._redis.xinfo_consumers(stream, self._group):
            name = c["name"].decode() if isinstance(c["name"], bytes) else str(c["name"])
            if (
                name != self._consumer
                and int(c["pending"]) == 0
                and int(c["idle"]) > CONSUMER_FORGET_MS
            ):
                await self._redis.xgroup_delconsumer(stream, self._group, name)


def _skip(key: str, exc: BaseException) -> None:
    """A shard's node away: log, and sweep it next time. Any other error reply is a bug."""
    if not transient(exc):
        raise exc
    log.warning("sweep: %s skipped this time: %r", key, exc)
