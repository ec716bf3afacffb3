"""Click caps: per-offer click counters kept in Redis beside the stream.

The sink adds each flushed batch's counted clicks (kind click, not HEAD) to
a per-day and an all-time hash per shard; the link cache's refresher reads
them for offers that have a cap and marks those over it. A cap is therefore
soft: it is enforced within one refresh interval plus one batch, and clicks
spooled while Redis is away are counted when they are replayed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

_DAY_TTL_S = 3 * 86_400


def utc_day(ts: float | None = None) -> str:
    return time.strftime("%Y%m%d", time.gmtime(time.time() if ts is None else ts))


def counted(batch: Iterable[dict[str, Any]]) -> Counter[int]:
    """Clicks per offer that count toward a cap."""
    c: Counter[int] = Counter()
    for click in batch:
        if click.get("kind", "click") == "click" and click.get("cls") != "head":
            c[click["offer_id"]] += 1
    return c


def counter_commands(day_key: str, total_key: str, counts: Counter[int]) -> list[tuple[Any, ...]]:
    cmds: list[tuple[Any, ...]] = []
    for offer_id, n in counts.items():
        cmds.append(("HINCRBY", day_key, offer_id, n))
        cmds.append(("HINCRBY", total_key, offer_id, n))
    if cmds:
        cmds.append(("EXPIRE", day_key, _DAY_TTL_S))
    return cmds
