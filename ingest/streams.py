"""Consumer-group state of a stream: groups, gauges, delivery counts, trimming.

Trimming never removes a pending entry: ``XTRIM MINID`` (which, before
Redis 8.2, removes pending entries too) is given the oldest pending id, or
the group's last-delivered id when nothing is pending (see docs/adr/0020).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from tracker import metrics

Entries = list[tuple[bytes, dict[bytes, bytes]]]


def id_ms(entry_id: bytes | str) -> int:
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(raw.split("-", 1)[0])


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


@dataclass
class State:
    length: int = 0
    pending: int = 0
    lag: int = 0  # entries not yet delivered (capped at 10,000 on Redis < 7)
    oldest_pending_s: float = 0.0
    lag_s: float = 0.0
    oldest_pending_id: str | None = None
    last_delivered_id: str = "0-0"


async def state(redis: Redis, stream: str, group: str) -> State:
    """Read the group's state and publish it on the gauges."""
    st = State(length=int(await redis.xlen(stream)))
    now_ms = time.time() * 1000
    for g in await redis.xinfo_groups(stream):
        if _s(g["name"]) != group:
            continue
        st.pending = int(g["pending"])
        st.last_delivered_id = _s(g["last-delivered-id"])
        lag = g.get("lag")  # Redis >= 7
        undelivered: Any = await redis.xrange(
            stream, min=f"({st.last_delivered_id}", max="+", count=1 if lag is not None else 10_000
        )
        st.lag = int(lag) if lag is not None else len(undelivered)
        if undelivered:
            st.lag_s = max(0.0, (now_ms - id_ms(undelivered[0][0])) / 1000)
    if st.pending:
        summary: Any = await redis.xpending(stream, group)
        if summary and summary.get("min"):
            st.oldest_pending_id = _s(summary["min"])
            st.oldest_pending_s = max(0.0, (now_ms - id_ms(st.oldest_pending_id)) / 1000)
    metrics.STREAM_LENGTH.labels(stream).set(st.length)
    metrics.STREAM_PENDING.labels(stream).set(st.pending)
    metrics.STREAM_LAG.labels(stream).set(st.lag)
    metrics.STREAM_LAG_SECONDS.labels(stream).set(st.lag_s)
    metrics.OLDEST_PENDING_SECONDS.labels(stream).set(st.oldest_pending_s)
    return st


async def trim(redis: Redis, stream: str, st: State) -> int:
    """Remove the entries below the oldest pending one (all acknowledged)."""
    floor = st.oldest_pending_id or st.last_delivered_id
    if floor == "0-0":
        return 0
    removed = int(await redis.xtrim(stream, minid=floor, approximate=False))
    if removed:
        metrics.STREAM_TRIMMED.labels(stream).inc(removed)
    return removed


async def deliveries(redis: Redis, stream: str, group: str, entries: Entries) -> dict[bytes, int]:
    """How many times each of these (pending) entries has been delivered."""
    if not entries:
        return {}
    ids = [i for i, _ in entries]
    rows: Any = await redis.xpending_range(
        stream, group, min=ids[0], max=ids[-1], count=len(ids) + 1000
    )
    wanted = set(ids)
    return {r["message_id"]: int(r["times_delivered"]) for r in rows if r["message_id"] in wanted}
