"""Cap periods in the offer's time zone (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Cap:
    id: int
    affiliate_id: int | None  # None: the whole offer
    period: str  # day, month, total
    metric: str  # conversions, payout
    limit: Decimal


def period_key(period: str, at: datetime, tz: str) -> str:
    local = at.astimezone(ZoneInfo(tz))
    if period == "day":
        return local.strftime("%Y-%m-%d")
    if period == "month":
        return local.strftime("%Y-%m")
    return "total"


def month_bounds(at: datetime, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants that start this local month and the next."""
    zone = ZoneInfo(tz)
    local = at.astimezone(zone)
    start = datetime(local.year, local.month, 1, tzinfo=zone)
    nxt = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), nxt.astimezone(UTC)


def applicable(caps: list[Cap], affiliate_id: int) -> list[Cap]:
    """Caps of the offer that apply to this partner, in id order (lock order)."""
    return sorted((c for c in caps if c.affiliate_id in (None, affiliate_id)), key=lambda c: c.id)


def usage(cap: Cap, payout: Decimal) -> Decimal:
    return Decimal(1) if cap.metric == "conversions" else payout
