"""Traffic-quality reports: ``/api/v1/reports/traffic`` and ``/api/v1/reports/ctit``.

Every key reads them, scoped like the main report: a partner key its own rows, an
advertiser key its offers', an admin everything.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query

from schemas.traffic import CtitQuery, CtitReport, TrafficQuery, TrafficReport
from tracker.api.deps import Reader, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.store import traffic_reports as store
from tracker.store.keys import Principal

router = APIRouter(prefix="/api/v1/reports", tags=["traffic quality"])
_NAMES = {"offer": "offer", "partner": "partner", "day": "day"}


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiProblem(422, "invalid", f"unknown time zone {tz!r}", "tz") from None


def _range(date_from: datetime | None, date_to: datetime | None, zone: ZoneInfo,
           days: int) -> tuple[datetime, datetime]:  # fmt: skip
    def aware(value: datetime) -> datetime:
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)

    try:
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        end = aware(date_to) if date_to else now + timedelta(hours=1)
        start = aware(date_from) if date_from else end - timedelta(days=days)
    except OverflowError:
        raise ApiProblem(422, "invalid", "a time out of range", "from") from None
    if start >= end:
        raise ApiProblem(422, "invalid", "'from' must be before 'to'", "from")
    if end - start > timedelta(days=400):
        raise ApiProblem(422, "invalid", "a report spans at most 400 days", "to")
    return start, end


def _dims(group_by: str) -> list[str]:
    dims = list(dict.fromkeys(group_by.split(",")))
    if len(dims) != len(group_by.split(",")):
        raise ApiProblem(422, "invalid", "a dimension is named twice", "group_by")
    return dims


def _tenant(who: Principal) -> dict[str, int | None]:
    return {"affiliate_id": who.affiliate_id if who.role == "affiliate" else None,
            "advertiser_id": who.advertiser_id if who.role == "advertiser" else None}  # fmt: skip


def _own(who: Principal, affiliate_id: int | None) -> int | None:
    """A partner key reads only its own rows: another partner's id finds nothing."""
    if who.role == "affiliate" and affiliate_id is not None and affiliate_id != who.affiliate_id:
        raise ApiProblem(404, "not_found", f"affiliate {affiliate_id} not found", "affiliate_id")
    return affiliate_id


@router.get("/traffic", response_model=TrafficReport, response_model_by_alias=True)
async def traffic_report(services: ServicesDep, who: Reader,
                         q: Annotated[TrafficQuery, Query()]) -> Any:  # fmt: skip
    """Gross, human, unique, bot, preview, prefetch, blocked, datacenter and flagged clicks
    side by side, by offer, partner and local day. Only human clicks are paid, take a
    unique slot or count toward a click cap."""
    zone = _zone(q.tz)
    start, end = _range(q.date_from, q.date_to, zone, 7)
    dims = _dims(q.group_by)
    scope = _tenant(who)
    affiliate_id = _own(who, q.affiliate_id)
    if scope["affiliate_id"] is not None:
        affiliate_id = scope["affiliate_id"]
    rows, totals = await store.traffic(
        services.pool, dims, start, end, q.tz, offer_id=q.offer_id, affiliate_id=affiliate_id,
        advertiser_id=scope["advertiser_id"], limit=q.limit,
    )  # fmt: skip
    return {"group_by": dims, "tz": q.tz, "from": start, "to": end, "rows": rows,
            "totals": totals}  # fmt: skip


@router.get("/ctit", response_model=CtitReport, response_model_by_alias=True)
async def ctit_report(services: ServicesDep, who: Reader,
                      q: Annotated[CtitQuery, Query()]) -> Any:  # fmt: skip
    """Click-to-conversion time: for the conversions of the range attributed to a click,
    how long after the click each came, in buckets from under 10 s to over 30 days, and
    the median. A peak under 10 s is the mark of click injection; a long flat tail the
    mark of click spamming."""
    start, end = _range(q.date_from, q.date_to, ZoneInfo("UTC"), 30)
    dims = _dims(q.group_by)
    scope = _tenant(who)
    affiliate_id = _own(who, q.affiliate_id)
    if scope["affiliate_id"] is not None:
        affiliate_id = scope["affiliate_id"]
    rows = await store.ctit(
        services.pool, dims, start, end, offer_id=q.offer_id, affiliate_id=affiliate_id,
        advertiser_id=scope["advertiser_id"], limit=q.limit,
    )  # fmt: skip
    return {"group_by": dims, "from": start, "to": end, "rows": rows}
