"""The dead-letter stream: what cannot be processed, with the reason, never lost.

Dead letters are added in the same MULTI/EXEC as the XACK of their entries,
so an entry is either still pending or acknowledged *and* dead-lettered: a
crash in between never writes a dead letter twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from tracker import metrics


@dataclass(frozen=True)
class Reject:
    source: str  # the stream it came from
    entry_id: str
    reason: str  # "kind: detail"; the kind labels the metric
    payload: bytes


async def ack(redis: Redis, group: str, dlq: str, acks: dict[str, list[bytes]],
              rejects: list[Reject]) -> None:  # fmt: skip
    """XACK the entries and add the dead letters, atomically."""
    if not rejects and not any(acks.values()):
        return
    now = str(int(time.time() * 1000))
    async with redis.pipeline(transaction=True) as pipe:
        for r in rejects:
            pipe.xadd(
                dlq,
                {
                    "source": r.source,
                    "entry_id": r.entry_id,
                    "reason": r.reason[:1000],
                    "payload": r.payload[:65536],
                    "at_ms": now,
                },
            )
        for stream, ids in acks.items():
            if ids:
                pipe.xack(stream, group, *ids)
        await pipe.execute()
    for r in rejects:
        metrics.DEAD_LETTERED.labels(r.reason.split(":", 1)[0]).inc()


async def dead_letter(
    redis: Redis, dlq: str, *, source: str, entry_id: str, reason: str, payload: bytes
) -> None:
    """One dead letter on its own (no acknowledgement with it)."""
    await ack(redis, "", dlq, {}, [Reject(source, entry_id, reason, payload)])
