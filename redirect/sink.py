"""The click sink: an in-process batch flushed to the Redis stream, or to the spool.

``add`` serialises the click (orjson) and appends the bytes to the batch
being filled, a ``bytearray`` that already is the packed stream entry (a
JSON array): no I/O, no await, the visitor never waits; buffered clicks are
bytes, not dicts, so they give the garbage collector nothing to walk, and
the serialised click is copied and freed at once instead of being kept as
one more object (keeping 200 small ``bytes`` per batch cost 2 µs a click
more, in allocation). A background task seals the batch when it holds
``click_batch_max`` clicks or is ``click_batch_ms`` old and writes it to the next shard,
bounded by ``sink_deadline_s`` (click caps are reserved on the click path: redirect.caps). A write that fails or misses its deadline sends the
batch to the local spool, and the sink stays on the spool until a PING
answers again; then the spool is replayed into the streams in the
background while new batches go to Redis directly. Clicks are dropped (and
counted) only when both the in-process buffer and the spool are full.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson
from redis.asyncio import Redis

from redirect.spool import Segment, Spool
from schemas.events import WIRE_VERSION
from tracker import metrics, redis_keys
from tracker.resources import Services
from tracker.settings import Settings

log = logging.getLogger("tracker.redirect")
T = TypeVar("T")
_dumps = orjson.dumps

_PROBE_S = 0.2  # how often a PING checks whether Redis is back
_ADOPT_S = 10.0  # how often to look for spool folders of dead processes


class ClickSink:
    def __init__(self, streams: list[str], batch_max: int, batch_ms: int, buffer_max: int) -> None:
        self._streams = streams
        self._batch_max = batch_max
        self._batch_s = batch_ms / 1000
        self._buffer_max = buffer_max
        # The batch being filled: b"[" + click JSON + b"," for each click; and full ones.
        self._data = bytearray(b"[")
        self._n = 0  # clicks in _data
        self._sealed: list[tuple[bytes, int]] = []  # (packed entry, clicks)
        self._buffered = 0  # clicks in _data and _sealed
        self._full = asyncio.Event()
        self._redis: Redis | None = None
        self._settings = Settings.model_construct()
        self._spool: Spool | None = None
        self._io = ThreadPoolExecutor(1, thread_name_prefix="click-spool")
        self._task: asyncio.Task[None] | None = None
        self._replay_task: asyncio.Task[None] | None = None
        self._next_shard = 0
        self._closing = False
        self.redis_up = True

    def add(self, click: dict[str, Any]) -> None:
        """Buffer one click."""
        if self._buffered >= self._buffer_max:
            metrics.CLICKS_DROPPED.inc()
            return
        data = self._data
        data += _dumps(click)
        data += b","
        self._buffered += 1
        self._n = n = self._n + 1
        if n >= self._batch_max:
            self._seal()
            self._full.set()

    def _seal(self) -> None:
        data = self._data
        data[-1:] = b"]"  # the last comma closes the array
        self._sealed.append((bytes(data), self._n))
        self._data, self._n = bytearray(b"["), 0

    @property
    def buffered(self) -> int:
        return self._buffered

    def buffered_clicks(self) -> list[dict[str, Any]]:
        """The clicks waiting in the buffer, decoded (for tests and debugging)."""
        out: list[dict[str, Any]] = []
        for payload, _n in self._sealed:
            out += orjson.loads(payload)
        if self._n:
            out += orjson.loads(bytes(self._data[:-1]) + b"]")
        return out

    @property
    def spool(self) -> Spool | None:
        return self._spool

    async def start_with(self, services: Services) -> None:
        self._redis = services.redis
        self._settings = s = services.settings
        self._spool = Spool(s.spool_path, s.spool_max_bytes)
        await self._in_thread(self._spool.open)
        metrics.SPOOL_BYTES.set(self._spool.bytes)
        self._task = asyncio.create_task(self._run(), name="click-sink")

    async def stop(self, deadline_s: float = 5.0) -> None:
        """Flush what is buffered (to Redis, else to the spool), bounded by a deadline."""
        self._closing = True
        self._full.set()
        if self._replay_task:
            self._replay_task.cancel()
            await asyncio.gather(self._replay_task, return_exceptions=True)
        if self._task:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), deadline_s)
            except TimeoutError:
                self._task.cancel()
        left = self._buffered
        if left:
            metrics.CLICKS_DROPPED.inc(left)
            log.error("click sink: %d clicks not flushed before shutdown", left)
        if self._spool is not None:
            await self._in_thread(self._spool.close)
        self._io.shutdown(wait=True)

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._io, fn, *args)

    # -- the flush loop ---------------------------------------------------------------
    async def _run(self) -> None:
        next_probe = next_adopt = 0.0
        while True:
            try:
                await asyncio.wait_for(self._full.wait(), self._batch_s)
            except TimeoutError:
                pass
            self._full.clear()
            while self._buffered:
                await self._flush_one()
            metrics.CLICK_BUFFER.set(self._buffered)
            if self._closing:
                return
            now = time.monotonic()
            if not self.redis_up and now >= next_probe:
                next_probe = now + _PROBE_S
                self.redis_up = await self._ping()
            if now >= next_adopt and self._spool is not None:
                next_adopt = now + _ADOPT_S
                await self._in_thread(self._spool.adopt_orphans)
            if self.redis_up and self._spool is not None and self._spool.has_pending:
                if self._replay_task is None or self._replay_task.done():
                    self._replay_task = asyncio.create_task(self._replay(), name="spool-replay")

    def _take(self) -> tuple[bytes, int]:
        """The oldest batch: (packed entry, a JSON array of clicks; clicks)."""
        if not self._sealed:
            self._seal()
        batch = self._sealed.pop(0)
        self._buffered -= batch[1]
        return batch

    async def _flush_one(self) -> None:
        payload, n = self._take()
        if self.redis_up and await self._write(payload, n):
            metrics.SINK_BATCH.observe(n)
            return
        self.redis_up = False
        await self._to_spool(n, payload)

    async def _to_spool(self, count: int, payload: bytes) -> None:
        assert self._spool is not None
        try:
            ok = await self._in_thread(self._spool.append, count, payload)
        except OSError as exc:
            log.error("click spool: write failed: %r", exc)
            ok = False
        if ok:
            metrics.CLICKS_SPOOLED.inc(count)
        else:
            metrics.CLICKS_DROPPED.inc(count)
            log.error("click spool full or failing: %d clicks dropped", count)
        metrics.SPOOL_BYTES.set(self._spool.bytes)

    async def _write(self, payload: bytes, n: int) -> bool:
        """One packed entry, within the deadline."""
        assert self._redis is not None
        shard = self._next_shard
        self._next_shard = (shard + 1) % len(self._streams)
        stream = self._streams[shard]
        s = self._settings
        t0 = time.perf_counter()
        try:
            entry = {redis_keys.VERSION: WIRE_VERSION, redis_keys.CLICKS: payload}
            await asyncio.wait_for(self._redis.xadd(stream, entry), s.sink_deadline_s)  # type: ignore[arg-type]
        except Exception as exc:  # any failure: the batch goes to the spool
            metrics.SINK_FLUSH_ERRORS.inc()
            if self.redis_up:
                log.warning("click sink: Redis write failed, spooling: %r", exc)
            return False
        metrics.SINK_FLUSH_SECONDS.observe(time.perf_counter() - t0)
        metrics.STREAM_EVENTS_WRITTEN.labels(stream).inc(n)
        return True

    async def _ping(self) -> bool:
        assert self._redis is not None
        try:
            await asyncio.wait_for(self._redis.ping(), self._settings.sink_deadline_s)
        except Exception:
            return False
        log.info("click sink: Redis is back")
        return True

    # -- replay -----------------------------------------------------------------------
    async def _replay(self) -> None:
        """Write spooled batches to the streams, oldest first, until done or Redis fails."""
        assert self._spool is not None
        spool = self._spool
        while self.redis_up and not self._closing:
            seg: Segment | None = await self._in_thread(spool.next_segment)
            if seg is None:
                return
            lines = await self._in_thread(spool.read_lines, seg)
            if not lines:
                await self._in_thread(spool.done, seg)
                metrics.SPOOL_BYTES.set(spool.bytes)
                continue
            for count, payload, end in lines:
                try:
                    batch = orjson.loads(payload) if count else []
                except orjson.JSONDecodeError:
                    log.error("click spool: unreadable batch of %d clicks dropped", count)
                    metrics.CLICKS_DROPPED.inc(count)
                    batch, count = [], 0
                if batch and not await self._write(payload, len(batch)):
                    self.redis_up = False
                    return
                seg.offset = end
                metrics.CLICKS_REPLAYED.inc(count)
