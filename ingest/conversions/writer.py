"""Conversion entries → rows, attributed and priced, exactly once.

A batch is processed in one transaction, each conversion by ``ingest/convert.py``.
A postback can arrive before its click has reached Postgres (the redirect
batches clicks for a few ms, the click stream may lag): such an entry is
put back on the stream with a not-before time and the old one is
acknowledged, so it is retried for a bounded time without ever failing (see
docs/adr/0030). The conversion id makes every retry idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg
from pydantic import ValidationError
from redis.asyncio import Redis

from ingest.conversions.one import WAIT, process
from ingest.dead_letter import Reject, dead_letter
from ingest.streams import Entries
from schemas.events import ConversionEvent
from tracker import metrics, redis_keys
from tracker.logs import bind
from tracker.settings import Settings
from tracker.store.conversion_rows import lock_ids
from tracker.store.offer_rules import RulesCache

log = logging.getLogger("tracker.ingest")

# Errors of one conversion's own data (a value out of range, a bad time zone in its
# offer's settings): retrying cannot help. Connection errors are not here: they retry.
_POISON = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, ValueError,
           ArithmeticError, LookupError)  # fmt: skip

# After this long, a click not in Postgres while the click streams are drained is not coming.
_DRAINED_GRACE_S = 5.0


def parse_conversion(fields: dict[bytes, bytes]) -> ConversionEvent:
    """Raise ValueError with a reason when the entry cannot be processed."""
    payload = fields.get(redis_keys.CONVERSION_B, b"")
    try:
        ev = ConversionEvent.model_validate_json(payload)
        Decimal(ev.amount)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"invalid: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    except InvalidOperation:
        raise ValueError("invalid: amount: not a decimal number") from None
    return ev


class ConversionWriter:
    def __init__(
        self, pool: asyncpg.Pool, redis: Redis | None = None, settings: Settings | None = None
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._settings = settings
        self._rules = RulesCache(settings.conversion_rules_cache_s if settings else 0.0)

    async def write(self, events: list[ConversionEvent]) -> int:
        inserted = done = 0
        stored: Counter[str] = Counter()  # conversions inserted, by status
        now = time.time()
        due: list[ConversionEvent] = []
        later: list[ConversionEvent] = []
        for e in events:
            waits = e.not_before is not None and e.not_before > now and self._redis is not None
            (later if waits else due).append(e)
        try:
            # One transaction for the batch: one commit (one WAL flush) for many conversions.
            # Each conversion sees the ones before it, exactly as if committed one by one.
            async with self._pool.acquire() as conn, conn.transaction():
                await lock_ids(conn, [ev.conversion_id for ev in due])
                results: list[str] = [await self._process(conn, ev) for ev in due]
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError, *_POISON) as exc:
            # Two workers' batches crossed on a click or a cap, or one conversion cannot be
            # stored: nothing was kept; redo the batch one conversion per transaction (no
            # deadlock possible) and set aside only the conversion that fails by itself.
            log.warning("conversion batch rolled back (%r); retrying one by one", exc)
            results = []
            async with self._pool.acquire() as conn:
                for ev in due:
                    try:
                        async with conn.transaction():
                            results.append(await self._process(conn, ev))
                    except _POISON as bad:
                        await self._set_aside(ev, bad)
                        results.append("")
        for ev, result in zip(due, results, strict=True):
            if result == WAIT:
                later.append(ev.model_copy(update={"attempt": ev.attempt + 1,
                    "not_before": time.time() + min(0.05 * 2**ev.attempt, 2.0)}))  # fmt: skip
                metrics.CONVERSIONS_DEFERRED.inc()
                continue
            done += 1
            if result:
                inserted += 1
                stored[result] += 1
        if later:
            await self._requeue(later)
            if done == 0:  # nothing due in this batch: do not spin on the stream
                wait_s = min(e.not_before or now for e in later) - time.time()
                await asyncio.sleep(min(max(wait_s, 0.005), 0.05))
        for status, n in stored.items():
            metrics.CONVERSIONS.labels(status).inc(n)
        metrics.ROWS_INGESTED.labels("conversions").inc(inserted)
        metrics.ROWS_DUPLICATE.labels("conversions").inc(done - inserted)
        return inserted

    async def _process(self, conn: asyncpg.Connection, ev: ConversionEvent) -> str:
        click = str(ev.click_id) if ev.click_id else None
        with bind(conversion_id=str(ev.conversion_id), click_id=click):
            return await process(conn, ev, self._may_wait, self._rules)

    async def handle(self, stream: str, entries: Entries) -> list[Reject]:
        """The conversion entries of one stream: write the good ones, return the ones that
        cannot be parsed (dead-lettered with the XACK)."""
        good: list[ConversionEvent] = []
        rejects: list[Reject] = []
        for raw_id, fields in entries:
            try:
                good.append(parse_conversion(fields))
            except ValueError as exc:
                payload = fields.get(redis_keys.CONVERSION_B, b"")
                rejects.append(Reject(stream, raw_id.decode(), str(exc), payload))
        await self.write(good)
        return rejects

    async def _set_aside(self, ev: ConversionEvent, exc: BaseException) -> None:
        """A conversion that fails on its own data goes to the dead-letter stream with the
        reason, instead of failing (and re-delivering) its whole batch."""
        log.error("conversion %s cannot be stored: %r", ev.conversion_id, exc)
        if self._redis is None or self._settings is None:
            raise exc
        await dead_letter(self._redis, redis_keys.of(self._settings).dead_letter_stream(), source="conversions",
                          entry_id=str(ev.conversion_id), reason=f"unstorable: {exc!r}",
                          payload=ev.model_dump_json().encode())  # fmt: skip

    async def _requeue(self, events: list[ConversionEvent]) -> None:
        assert self._redis is not None and self._settings is not None
        keys = redis_keys.of(self._settings)
        async with self._redis.pipeline(transaction=False) as pipe:
            for ev in events:
                pipe.xadd(
                    keys.conversion_stream(ev.conversion_id),
                    {redis_keys.CONVERSION: ev.model_dump_json()},
                )
            await pipe.execute()

    async def _may_wait(self, click_at: datetime) -> bool:
        if self._redis is None or self._settings is None:
            return False
        age = time.time() - click_at.timestamp()
        if not -60 < age < self._settings.conversion_click_wait_s:
            return False
        return age < _DRAINED_GRACE_S or not await self._clicks_drained()

    async def _clicks_drained(self) -> bool:
        assert self._redis is not None and self._settings is not None
        for stream in redis_keys.of(self._settings).click_streams():
            groups: Any = await self._redis.xinfo_groups(stream)
            for g in groups:
                if g["name"].decode() != self._settings.consumer_group:
                    continue
                if int(g["pending"]):
                    return False
                lag = g.get("lag")  # Redis >= 7; on 6.2 compare the last ids instead
                if lag is None:
                    info: Any = await self._redis.xinfo_stream(stream)
                    if info["length"] and g["last-delivered-id"] != info["last-generated-id"]:
                        return False
                elif int(lag):
                    return False
        return True
