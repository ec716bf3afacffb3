"""The dead-letter streams: what cannot be processed, with the reason, never lost.

Dead letters are added in the same MULTI/EXEC as the XACK of their entries,
so an entry is either still pending or acknowledged *and* dead-lettered: a
crash in between never writes a dead letter twice. A MULTI on Redis Cluster
may touch one slot only, so each shard has its own dead-letter stream
carrying the shard's hash tag (``<prefix>:dead-letter:{tag}``), and a batch
that spans shards is acknowledged with one MULTI per slot (docs/adr/0050).
Readers take the union of every dead-letter stream (``RedisKeys.dead_letter_streams``, ``read_all``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from tracker import metrics, redis_keys
from tracker.domain.shards import by_slot
from tracker.settings import Settings


@dataclass(frozen=True)
class Reject:
    source: str  # the stream it came from
    entry_id: str
    reason: str  # "kind: detail"; the kind labels the metric
    payload: bytes


async def read_all(redis: Redis, settings: Settings, count: int = 10_000
                   ) -> list[tuple[str, bytes, dict[bytes, bytes]]]:  # fmt: skip
    """(dead-letter stream, entry id, fields) of up to ``count`` letters per stream."""
    out: list[tuple[str, bytes, dict[bytes, bytes]]] = []
    for key in redis_keys.of(settings).dead_letter_streams():
        entries: Any = await redis.xrange(key, count=count)
        out.extend((key, i, f) for i, f in entries)
    return out


async def count_all(redis: Redis, settings: Settings) -> int:
    return sum([int(await redis.xlen(k)) for k in redis_keys.of(settings).dead_letter_streams()])


def _fields(r: Reject, now: str) -> Any:
    return {"source": r.source, "entry_id": r.entry_id, "reason": r.reason[:1000],
            "payload": r.payload[:65536], "at_ms": now}  # fmt: skip


async def ack(redis: Redis, group: str, keys: redis_keys.RedisKeys, acks: dict[str, list[bytes]],
              rejects: list[Reject]) -> None:  # fmt: skip
    """XACK the entries and add their dead letters: one MULTI per slot, each atomic.

    A slot done is removed from ``acks`` and ``rejects``, so a retry after a failure
    (a node away) redoes only the slots not yet done and never adds a letter twice.
    """
    streams = list(dict.fromkeys([s for s, ids in acks.items() if ids] +
                                 [r.source for r in rejects]))  # fmt: skip
    now = str(int(time.time() * 1000))
    for slot_streams in by_slot(streams):
        mine = set(slot_streams)
        letters = [r for r in rejects if r.source in mine]
        async with redis.pipeline(transaction=True) as pipe:
            for r in letters:
                pipe.xadd(keys.dead_letter_of(r.source), _fields(r, now))
            for stream in slot_streams:
                if acks.get(stream):
                    pipe.xack(stream, group, *acks[stream])
            await pipe.execute()
        for stream in slot_streams:
            acks.pop(stream, None)
        rejects[:] = [r for r in rejects if r.source not in mine]
        for r in letters:
            metrics.DEAD_LETTERED.labels(r.reason.split(":", 1)[0]).inc()


async def dead_letter(
    redis: Redis, dlq: str, *, source: str, entry_id: str, reason: str, payload: bytes
) -> None:
    """One dead letter on its own, into stream ``dlq`` as given (no acknowledgement)."""
    now = str(int(time.time() * 1000))
    await redis.xadd(dlq, _fields(Reject(source, entry_id, reason, payload), now))
    metrics.DEAD_LETTERED.labels(reason.split(":", 1)[0]).inc()
