"""The ingest worker: consumer groups on every shard, write, commit, then XACK.

Two tasks joined by a one-slot queue: the reader reads the next entries and
prepares them (parse, enrich, judge uniqueness, format COPY text) while the
writer commits the previous batch, so Python and Postgres work at the same
time. Acknowledge only after commit: a crash between the two replays the
batch, and the idempotent inserts make the replay a no-op. Entries left
pending by a dead consumer are claimed back by a periodic sweep.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Any

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from ingest import health, streams
from ingest.batch import Work, WorkBuilder
from ingest.clicks.enrich import DailySalts, Enricher
from ingest.clicks.unique import UniqueJudge
from ingest.clicks.writer import ClickWriter
from ingest.conversions.writer import ConversionWriter
from ingest.dead_letter import Reject, ack
from ingest.errors import POISON, TRANSIENT, transient
from ingest.faults import Faults
from ingest.reads import Reply, ShardReader
from ingest.sweep import Sweeper
from tracker import metrics, redis_keys
from tracker.geoip import Asn, Geo
from tracker.redis_client import away
from tracker.settings import Settings

log = logging.getLogger("tracker.ingest")

BATCH_BYTES = 2_000_000  # about 5,000 clicks of the wire format


class Worker:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        redis: Redis,
        *,
        consumer: str | None = None,
        claim_idle_ms: int | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.redis = redis
        self.group = settings.consumer_group
        self.keys = redis_keys.of(settings)
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.claim_idle_ms = (
            settings.ingest_claim_idle_ms if claim_idle_ms is None else claim_idle_ms
        )
        self.geo = Geo(settings.geoip_db)
        self.asn = Asn(settings.asn_db, frozenset(settings.datacenter_asns))
        self.clicks = ClickWriter(
            pool,
            UniqueJudge(redis, self.keys, settings.unique_window_s),
            Enricher(self.geo, DailySalts(), self.asn),
            settings.db_timeout_s,
        )
        self.conversions = ConversionWriter(pool, redis, settings)
        self.streams = self.keys.click_streams() + self.keys.conversion_streams()
        self.inflight: set[bytes] = set()  # entry ids read or claimed, not yet acknowledged
        self.builder = WorkBuilder(redis, self.group, self.keys.click_streams(),
                                   settings.max_deliveries, self.inflight, self.clicks,
                                   self.conversions.handle)  # fmt: skip
        self.reader = ShardReader(redis, self.group, self.consumer, self.streams,
                                  settings.ingest_batch_entries, settings.ingest_block_ms)  # fmt: skip
        self.sweeper = Sweeper(settings, pool, redis, group=self.group, consumer=self.consumer,
                               streams=self.streams, claim_idle_ms=self.claim_idle_ms,
                               inflight=self.inflight,
                               build=lambda resp: self.builder.build(resp, True))  # fmt: skip
        self.faults = Faults()
        self._stop = asyncio.Event()
        self.last_progress = time.monotonic()
        self.rows_written = 0
        self._last_beat = 0.0

    # -- lifecycle -------------------------------------------------------------
    def stop(self) -> None:
        """Stop reading; the batch in hand is finished and committed."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def ensure_groups(self) -> None:
        for stream in self.streams:
            await streams.ensure_group(self.redis, stream, self.group)

    async def run(self, *, burst: bool = False) -> None:
        """Consume until stopped; with ``burst``, until every stream is drained."""
        await self.retrying(self.ensure_groups)
        queue: asyncio.Queue[Work | None] = asyncio.Queue(maxsize=1)
        reader = asyncio.create_task(self._reader(queue, burst), name="ingest-reader")
        writer = asyncio.create_task(self._writer(queue), name="ingest-writer")
        try:
            await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            reader.cancel()
            writer.cancel()
            raise
        if writer.done():  # the writer only ends early by failing: stop reading too
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            writer.result()
            return
        try:
            reader.result()
        finally:
            await queue.put(None)  # the writer commits what it has, then ends
            await writer

    async def retrying(self, fn: Any, *, until_stopped: bool = True) -> Any:
        """Call ``fn`` until it succeeds, backing off on transient failures."""
        backoff = 0.05
        while True:
            try:
                return await fn()
            except Exception as exc:
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    log.warning("consumer group lost (Redis restarted without AOF?): re-creating")
                    await self.retrying(self.ensure_groups, until_stopped=until_stopped)
                    continue
                if not transient(exc):
                    raise
                if isinstance(exc, asyncpg.InternalClientError):
                    self.pool.expire_connections()
                if until_stopped and self.stopping:
                    return None
                log.warning("ingest waiting for its servers (%.1fs): %r", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    # -- reading ---------------------------------------------------------------
    async def _reader(self, queue: asyncio.Queue[Work | None], burst: bool) -> None:
        await self._own_pending(queue)
        next_sweep = 0.0
        while not self.stopping:
            if time.monotonic() >= next_sweep:
                for work in await self.retrying(self.sweeper.sweep) or []:
                    await queue.put(work)
                next_sweep = time.monotonic() + self.settings.ingest_sweep_s
            resp = await self.retrying(self._read_batch)
            if resp is None:
                continue
            work = await self.retrying(lambda r=resp: self.builder.build(r, False))
            if work is None:
                continue
            if work.entries:
                await queue.put(work)
            elif queue.empty():
                await self.progress(idle=True)
                if burst and await self.retrying(self._drained):
                    return

    async def _read_batch(self) -> Reply:
        """New entries, cut by time (the first read blocks up to ingest_block_ms) or by
        size: while reads come back full, read again at once, up to BATCH_BYTES of payload
        (small entries, or bad ones among good, would otherwise make many small batches).
        A read again asks for as many entries as should fill the batch, judged by the
        entries so far, so that small entries do not cost a round trip per few of them."""
        new = dict.fromkeys(self.streams, ">")
        resp = last = await self._read(new)
        size = sum(len(f.get(redis_keys.CLICKS_B, b"")) for _, es in resp for _, f in es if f)
        count = full = self.settings.ingest_batch_entries
        for _ in range(20):  # bounded
            if size >= BATCH_BYTES or not any(len(es) >= count for _, es in last):
                break
            read = sum(len(es) for _, es in resp)
            count = max(full, min(full * 5, (BATCH_BYTES - size) * read // max(size, 1)))
            last = await self._read(new, block=False, count=count)
            if not any(es for _, es in last):
                break
            resp += last
            size += sum(len(f.get(redis_keys.CLICKS_B, b"")) for _, es in last for _, f in es if f)
        return resp

    async def _own_pending(self, queue: asyncio.Queue[Work | None]) -> None:
        """Entries already pending under our name (a process of that name died), page by
        page, once, before anything new is read or claimed."""
        cursors = dict.fromkeys(self.streams, "0-0")
        for _ in range(100_000):  # bounded; every page moves a cursor forward
            if not cursors or self.stopping:
                return
            resp = await self.retrying(lambda c=dict(cursors): self._read(c))
            if resp is None:
                return
            done = set(cursors)
            for raw_stream, entries in resp:
                stream = raw_stream.decode() if isinstance(raw_stream, bytes) else raw_stream
                if entries:
                    cursors[stream] = entries[-1][0].decode()
                    done.discard(stream)
            for stream in done:
                cursors.pop(stream, None)
            work = await self.retrying(lambda r=resp: self.builder.build(r, True))
            if work is not None and work.entries:
                await queue.put(work)

    async def _read(self, start: dict[str, str], block: bool = True,
                    count: int | None = None) -> Reply:  # fmt: skip
        return await self.reader.read(start, block, count)

    async def _drained(self) -> bool:
        for stream in self.streams:
            st = await streams.state(self.redis, stream, self.group)
            if st.lag or st.pending:
                return False
        return True

    # -- writing ---------------------------------------------------------------
    async def _writer(self, queue: asyncio.Queue[Work | None]) -> None:
        while True:
            work = await queue.get()
            if work is None:
                return
            t0 = time.perf_counter()
            await self._commit(work)
            self.faults.after_commit()
            acked = [i for ids in work.acks.values() for i in ids]
            # ack() drops each slot it has done from work.acks: a retry redoes only the rest.
            await self.retrying(
                lambda w=work: ack(
                    self.redis,
                    self.group,
                    self.keys,
                    w.acks,
                    w.rejects,
                ),
                until_stopped=False,
            )
            self.inflight.difference_update(acked)
            metrics.INGEST_BATCH_SECONDS.labels("all").observe(time.perf_counter() - t0)
            metrics.INGEST_BATCH_ROWS.observe(work.prepared.rows)
            self.rows_written += work.prepared.rows
            await self.progress()

    async def _commit(self, work: Work) -> None:
        """Write the batch; retry while the servers are away; split it on bad data."""
        backoff = 0.05
        while True:
            try:
                await self.clicks.write(work.prepared)
                rejects: list[Reject] = []
                for stream, entries in work.conversions:
                    rejects += await self.conversions.handle(stream, entries)
                work.rejects += rejects
                return
            except POISON as exc:
                log.warning("batch refused by Postgres (%r): writing entry by entry", exc)
                await self.retrying(lambda: self.builder.split(work), until_stopped=False)
                return
            except TRANSIENT as exc:
                if isinstance(exc, asyncpg.InternalClientError):
                    self.pool.expire_connections()
                log.warning("ingest write failed, retrying in %.1fs: %r", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def progress(self, *, idle: bool = False) -> None:
        self.last_progress = time.monotonic()
        metrics.INGEST_LAST_PROGRESS.set(time.time())
        if self.last_progress - self._last_beat >= 1.0:
            self._last_beat = self.last_progress
            try:
                await health.beat(self.redis, self.keys, self.consumer,
                                  self.settings.ingest_health_ttl_s, self.rows_written)  # fmt: skip
            except Exception as exc:
                if not away(exc):
                    raise
                log.debug("heartbeat not written: %r", exc)
