"""What the reader hands the writer: a prepared batch and the entries to acknowledge."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from ingest import streams
from ingest.clicks.parse import Click, parse_wire
from ingest.clicks.prepare import Prepared
from ingest.clicks.writer import ClickWriter
from ingest.dead_letter import Reject
from ingest.errors import POISON
from tracker import redis_keys

# Writes a stream's conversion entries; returns what must be dead-lettered.
ConversionHandler = Callable[[str, streams.Entries], Awaitable[list[Reject]]]


@dataclass
class Work:
    acks: dict[str, list[bytes]] = field(default_factory=dict)  # XACK after commit
    rejects: list[Reject] = field(default_factory=list)  # dead letters, added with the XACK
    prepared: Prepared = field(default_factory=Prepared)
    clicks: list[tuple[str, streams.Entries]] = field(default_factory=list)
    conversions: list[tuple[str, streams.Entries]] = field(default_factory=list)
    entries: int = 0


class WorkBuilder:
    def __init__(self, redis: Redis, group: str, click_streams: list[str], max_deliveries: int,
                 inflight: set[bytes], clicks: ClickWriter,
                 conversions: ConversionHandler) -> None:  # fmt: skip
        self._redis = redis
        self._group = group
        self._click_streams = set(click_streams)
        self._max_deliveries = max_deliveries
        self._inflight = inflight  # the worker's: entry ids read or claimed, not yet acked
        self._clicks = clicks
        self._conversions = conversions

    async def build(self, resp: list[tuple[Any, Any]], redelivered: bool) -> Work:
        """Sort the entries of one read, set aside the unparseable and the
        over-delivered, and prepare the clicks for COPY."""
        work = Work()
        events: list[Click] = []
        controls = False
        max_deliveries = self._max_deliveries
        for raw_stream, raw_entries in resp:
            stream = raw_stream.decode() if isinstance(raw_stream, bytes) else str(raw_stream)
            if not raw_entries:
                continue
            ids = work.acks.setdefault(stream, [])
            ids.extend(i for i, _ in raw_entries)
            self._inflight.update(i for i, _ in raw_entries)
            work.entries += len(raw_entries)
            # Entries re-read from the PEL whose payload was deleted come back as (id, None).
            entries = [(i, f) for i, f in raw_entries if f is not None]
            if redelivered and entries:
                counts = await streams.deliveries(self._redis, stream, self._group, entries)
                kept = []
                for i, f in entries:
                    n = counts.get(i, 1)
                    if n > max_deliveries:
                        payload = (
                            f.get(redis_keys.CLICKS_B) or f.get(redis_keys.CONVERSION_B) or b""
                        )
                        why = f"deliveries: delivered {n} times without being committed"
                        work.rejects.append(Reject(stream, i.decode(), why, payload))
                    else:
                        kept.append((i, f))
                entries = kept
            if not entries:
                continue
            if stream in self._click_streams:
                parsed = parse_wire(entries)
                events.extend(parsed.clicks)
                controls = controls or parsed.controls
                work.rejects.extend(Reject(stream, *r) for r in parsed.rejects)
                work.clicks.append((stream, entries))
            else:
                work.conversions.append((stream, entries))
        work.prepared = await self._clicks.prepare(events, controls=controls)
        return work

    async def split(self, work: Work) -> None:
        """Postgres refused the batch: write it entry by entry, dead-letter what it refuses."""
        refused: list[Reject] = []
        for stream, entries in work.clicks:
            for entry in entries:
                parsed = parse_wire([entry])
                prepared = await self._clicks.prepare(parsed.clicks, controls=parsed.controls)
                try:
                    await self._clicks.write(prepared)
                except POISON as exc:
                    payload = entry[1].get(redis_keys.CLICKS_B, b"")
                    refused.append(Reject(stream, entry[0].decode(), f"db: {exc}", payload))
        for stream, entries in work.conversions:
            for entry in entries:
                try:
                    work.rejects.extend(await self._conversions(stream, [entry]))
                except POISON as exc:
                    payload = entry[1].get(redis_keys.CONVERSION_B, b"")
                    refused.append(Reject(stream, entry[0].decode(), f"db: {exc}", payload))
        work.rejects.extend(refused)
