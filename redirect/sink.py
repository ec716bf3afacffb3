"""The click sink: an in-process batch flushed to the Redis stream.

``add`` is a list append (no I/O); a background task writes the buffer as
one packed stream entry when it holds ``click_batch_max`` clicks or is
``click_batch_ms`` old. A failed write keeps the batch for the next try;
the buffer is bounded and what overflows it is counted as dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas.events import WIRE_VERSION
from tracker import metrics
from tracker.services import Services

log = logging.getLogger("tracker.redirect")


class ClickSink:
    def __init__(self, streams: list[str], batch_max: int, batch_ms: int, buffer_max: int) -> None:
        self._streams = streams
        self._batch_max = batch_max
        self._batch_s = batch_ms / 1000
        self._buffer_max = buffer_max
        self._buffer: list[dict[str, Any]] = []
        self._full = asyncio.Event()
        self._redis: Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._next_shard = 0
        self._closing = False

    def add(self, click: dict[str, Any]) -> None:
        buf = self._buffer
        if len(buf) >= self._buffer_max:
            metrics.CLICKS_DROPPED.inc()
            return
        buf.append(click)
        if len(buf) >= self._batch_max:
            self._full.set()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    async def start_with(self, services: Services) -> None:
        self._redis = services.redis
        self._task = asyncio.create_task(self._run(), name="click-sink")

    async def stop(self, deadline_s: float = 5.0) -> None:
        """Flush what is buffered, bounded by a deadline; count what is left."""
        self._closing = True
        self._full.set()
        if self._task:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), deadline_s)
            except TimeoutError:
                self._task.cancel()
        left = len(self._buffer)
        if left:
            metrics.CLICKS_DROPPED.inc(left)
            log.error("click sink: %d clicks not flushed before shutdown", left)

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                await asyncio.wait_for(self._full.wait(), self._batch_s)
            except TimeoutError:
                pass
            self._full.clear()
            while self._buffer:
                if await self.flush_once():
                    backoff = 0.05
                else:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 1.0)
                    if self._closing and backoff >= 1.0:
                        return  # Redis is away and we are closing: stop() counts the rest
            if self._closing:
                return

    async def flush_once(self) -> bool:
        """Write up to one batch; on failure the clicks stay at the head of the buffer."""
        assert self._redis is not None
        batch = self._buffer[: self._batch_max]
        if not batch:
            return True
        stream = self._streams[self._next_shard]
        self._next_shard = (self._next_shard + 1) % len(self._streams)
        payload = orjson.dumps(batch)
        t0 = time.perf_counter()
        try:
            await self._redis.xadd(stream, {"v": WIRE_VERSION, "clicks": payload})
        except (RedisError, OSError) as exc:
            metrics.SINK_FLUSH_ERRORS.inc()
            log.warning("click sink: Redis write failed, keeping %d clicks: %r", len(batch), exc)
            return False
        del self._buffer[: len(batch)]
        metrics.SINK_FLUSH_SECONDS.observe(time.perf_counter() - t0)
        metrics.SINK_BATCH.observe(len(batch))
        metrics.STREAM_EVENTS_WRITTEN.labels(stream).inc(len(batch))
        metrics.CLICK_BUFFER.set(len(self._buffer))
        return True
