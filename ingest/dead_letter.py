"""The dead-letter stream: what cannot be processed, with the reason, never lost."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from tracker import metrics


async def dead_letter(
    redis: Redis, dlq: str, *, source: str, entry_id: str, reason: str, payload: bytes
) -> None:
    await redis.xadd(
        dlq,
        {
            "source": source,
            "entry_id": entry_id,
            "reason": reason[:1000],
            "payload": payload[:65536],
            "at_ms": str(int(time.time() * 1000)),
        },
    )
    metrics.DEAD_LETTERED.labels(reason.split(":", 1)[0]).inc()
