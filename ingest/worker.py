"""The ingest worker: consumer groups on every shard, write, commit, then XACK.

Acknowledge only after commit: a crash between the two replays the batch,
and the idempotent inserts make the replay a no-op. Entries left pending by
a dead consumer are claimed back by a periodic sweep (XAUTOCLAIM).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ingest.clicks import ClickWriter, parse_entries
from ingest.conversions import ConversionWriter, parse_conversion
from ingest.dead_letter import dead_letter
from ingest.enrich import UniqueJudge
from schemas.events import ConversionEvent
from tracker import metrics
from tracker.settings import Settings

log = logging.getLogger("tracker.ingest")

Entries = list[tuple[bytes, dict[bytes, bytes]]]


class Worker:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        redis: Redis,
        *,
        consumer: str | None = None,
        claim_idle_ms: int = 30_000,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.group = settings.consumer_group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.claim_idle_ms = claim_idle_ms
        self.clicks = ClickWriter(
            pool, UniqueJudge(redis, settings.stream_prefix, settings.unique_window_s)
        )
        self.conversions = ConversionWriter(pool, redis, settings)
        self.click_streams = settings.click_streams()
        self.conversion_streams = settings.conversion_streams()
        self._stop = asyncio.Event()
        self.last_progress = time.monotonic()
        self._handlers: dict[str, Callable[[str, Entries], Awaitable[None]]] = {
            **{s: self._handle_clicks for s in self.click_streams},
            **{s: self._handle_conversions for s in self.conversion_streams},
        }

    # -- lifecycle -------------------------------------------------------------
    def stop(self) -> None:
        """Stop reading; the batch in hand is finished and committed."""
        self._stop.set()

    async def ensure_groups(self) -> None:
        for stream in self._handlers:
            try:
                await self.redis.xgroup_create(stream, self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def run(self, *, burst: bool = False) -> None:
        """Consume until stopped; with ``burst``, until every stream is drained."""
        backoff = 0.1
        await self._until_redis(self.ensure_groups)
        # Our own pending entries first (this consumer name crashed before XACK).
        await self._until_redis(lambda: self._read("0"))
        next_sweep = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_sweep:
                    await self.sweep()
                    next_sweep = time.monotonic() + max(self.claim_idle_ms / 2000, 1.0)
                got = await self._read(">")
                backoff = 0.1
                if burst and got == 0 and await self._drained():
                    return
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    log.warning("consumer group lost (Redis restarted without AOF?): re-creating")
                    await self.ensure_groups()
                    continue
                raise
            except (RedisConnectionError, RedisTimeoutError, OSError, asyncpg.PostgresConnectionStatusError,
                    asyncpg.CannotConnectNowError, asyncpg.InterfaceError, TimeoutError) as exc:  # fmt: skip
                log.warning("ingest paused, retrying in %.1fs: %r", backoff, exc)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _until_redis(self, fn: Callable[[], Awaitable[object]]) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                await fn()
                return
            except (RedisError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("ingest waiting for its servers: %r", exc)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            pass

    # -- reading ---------------------------------------------------------------
    async def _read(self, start: str) -> int:
        block = None if start == "0" else self.settings.ingest_block_ms
        resp: Any = await self.redis.xreadgroup(
            self.group,
            self.consumer,
            dict.fromkeys(self._handlers, start),
            count=self.settings.ingest_batch_entries,
            block=block,
        )
        total = 0
        for raw_stream, entries in resp or []:
            stream = raw_stream.decode()
            if entries:
                total += len(entries)
                await self._process(stream, entries)
        return total

    async def _process(self, stream: str, entries: Entries) -> None:
        # Entries re-read from the PEL whose payload is gone come back as (id, None).
        entries = [(i, f) for i, f in entries if f is not None]
        if not entries:
            return
        t0 = time.perf_counter()
        await self._handlers[stream](stream, entries)
        await self.redis.xack(stream, self.group, *[i for i, _ in entries])
        metrics.INGEST_BATCH_SECONDS.labels(stream).observe(time.perf_counter() - t0)
        self.last_progress = time.monotonic()

    async def _handle_clicks(self, stream: str, entries: Entries) -> None:
        parsed = parse_entries(entries)
        await self.clicks.write(parsed.clicks)
        for entry_id, reason, payload in parsed.rejects:
            await dead_letter(
                self.redis, self.settings.dead_letter_stream(),
                source=stream, entry_id=entry_id, reason=reason, payload=payload,
            )  # fmt: skip

    async def _handle_conversions(self, stream: str, entries: Entries) -> None:
        good: list[ConversionEvent] = []
        for raw_id, fields in entries:
            try:
                good.append(parse_conversion(fields))
            except ValueError as exc:
                await dead_letter(
                    self.redis, self.settings.dead_letter_stream(), source=stream,
                    entry_id=raw_id.decode(), reason=str(exc), payload=fields.get(b"conversion", b""),
                )  # fmt: skip
        await self.conversions.write(good)

    # -- recovery and state ------------------------------------------------------
    async def sweep(self) -> int:
        """Claim entries another consumer left pending too long, and process them."""
        claimed = 0
        for stream in self._handlers:
            cursor = "0-0"
            for _ in range(100):  # bounded: at most 100 pages per sweep
                reply: Any = await self.redis.xautoclaim(
                    stream, self.group, self.consumer, self.claim_idle_ms, cursor,
                    count=self.settings.ingest_batch_entries,
                )  # fmt: skip
                cursor_b, entries = reply[0], reply[1]
                if entries:
                    claimed += len(entries)
                    metrics.CLAIMED.labels(stream).inc(len(entries))
                    await self._process(stream, entries)
                cursor = cursor_b.decode() if isinstance(cursor_b, bytes) else cursor_b
                if cursor == "0-0":
                    break
        return claimed

    async def _drained(self) -> bool:
        drained = True
        for stream in self._handlers:
            lag, pending = await self.group_state(stream)
            if lag or pending:
                drained = False
        return drained

    async def group_state(self, stream: str) -> tuple[int, int]:
        """(entries not yet delivered, entries pending) for our group; updates the gauges."""
        lag = pending = 0
        for group in await self.redis.xinfo_groups(stream):
            if group["name"].decode() != self.group:
                continue
            pending = int(group["pending"])
            lag_value = group.get("lag")  # Redis >= 7
            if lag_value is None:  # Redis 6.2: compare ids instead of counting
                info = await self.redis.xinfo_stream(stream)
                last = info["last-generated-id"]
                lag = int(info["length"] > 0 and group["last-delivered-id"] != last)
            else:
                lag = int(lag_value)
        metrics.STREAM_LAG.labels(stream).set(lag)
        metrics.STREAM_PENDING.labels(stream).set(pending)
        return lag, pending
