"""What the reader hands the writer: a prepared batch and the entries to acknowledge."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingest import streams
from ingest.dead_letter import Reject
from ingest.errors import POISON
from ingest.parse import Click, parse_wire
from ingest.prepare import Prepared

if TYPE_CHECKING:
    from ingest.worker import Worker


@dataclass
class Work:
    acks: dict[str, list[bytes]] = field(default_factory=dict)  # XACK after commit
    rejects: list[Reject] = field(default_factory=list)  # dead letters, added with the XACK
    prepared: Prepared = field(default_factory=Prepared)
    clicks: list[tuple[str, streams.Entries]] = field(default_factory=list)
    conversions: list[tuple[str, streams.Entries]] = field(default_factory=list)
    entries: int = 0


class WorkBuilder:
    def __init__(self, worker: Worker, click_streams: list[str]) -> None:
        self._w = worker
        self._click_streams = set(click_streams)

    async def build(self, resp: list[tuple[Any, Any]], redelivered: bool) -> Work:
        """Sort the entries of one read, set aside the unparseable and the
        over-delivered, and prepare the clicks for COPY."""
        work = Work()
        events: list[Click] = []
        controls = False
        max_deliveries = self._w.settings.max_deliveries
        for raw_stream, raw_entries in resp:
            stream = raw_stream.decode() if isinstance(raw_stream, bytes) else str(raw_stream)
            if not raw_entries:
                continue
            ids = work.acks.setdefault(stream, [])
            ids.extend(i for i, _ in raw_entries)
            self._w.inflight.update(i for i, _ in raw_entries)
            work.entries += len(raw_entries)
            # Entries re-read from the PEL whose payload was deleted come back as (id, None).
            entries = [(i, f) for i, f in raw_entries if f is not None]
            if redelivered and entries:
                counts = await streams.deliveries(self._w.redis, stream, self._w.group, entries)
                kept = []
                for i, f in entries:
                    n = counts.get(i, 1)
                    if n > max_deliveries:
                        payload = f.get(b"clicks") or f.get(b"conversion") or b""
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
        work.prepared = await self._w.clicks.prepare(events, controls=controls)
        return work

    async def split(self, work: Work) -> None:
        """Postgres refused the batch: write it entry by entry, dead-letter what it refuses."""
        refused: list[Reject] = []
        for stream, entries in work.clicks:
            for entry in entries:
                parsed = parse_wire([entry])
                prepared = await self._w.clicks.prepare(parsed.clicks, controls=parsed.controls)
                try:
                    await self._w.clicks.write(prepared)
                except POISON as exc:
                    payload = entry[1].get(b"clicks", b"")
                    refused.append(Reject(stream, entry[0].decode(), f"db: {exc}", payload))
        for stream, entries in work.conversions:
            for entry in entries:
                try:
                    work.rejects.extend(await self._w.handle_conversions(stream, [entry]))
                except POISON as exc:
                    payload = entry[1].get(b"conversion", b"")
                    refused.append(Reject(stream, entry[0].decode(), f"db: {exc}", payload))
        work.rejects.extend(refused)
