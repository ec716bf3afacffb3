"""Lookups and reports, scoped to the caller's tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query

from schemas.api import Click, GroupBy, Report, ReportRow
from tracker.api.deps import Reader, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.api.routes.conversions import shown, visible_to
from tracker.store import clicks, reports
from tracker.store import conversions as conversion_store

router = APIRouter(prefix="/api/v1", tags=["reads"])


@router.get("/clicks/{click_id}", response_model=Click)
async def get_click(click_id: UUID, services: ServicesDep, who: Reader) -> Any:
    """A click with the conversions attributed to it (those the caller may see)."""
    row = await clicks.get_click(services.pool, click_id)
    visible = row is not None and (
        who.role == "admin"
        or (who.role == "affiliate" and row["affiliate_id"] == who.affiliate_id)
        or (
            who.role == "advertiser"
            and await services.pool.fetchval(
                "SELECT advertiser_id FROM offers WHERE id = $1", row["offer_id"]
            )
            == who.advertiser_id
        )
    )
    if not visible or row is None:
        raise ApiProblem(404, "not_found", f"click {click_id} not found", "click_id")
    row["ip_trunc"] = str(row["ip_trunc"]) if row["ip_trunc"] is not None else None
    found = await conversion_store.of_click(services.pool, click_id)
    row["conversions"] = [shown(who, c) for c in found if visible_to(who, c)]
    return row


def _aware(value: datetime, tz: ZoneInfo) -> datetime:
    # A time without an offset is read in the report's time zone.
    return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(UTC)


@router.get("/reports", response_model=Report, response_model_by_alias=True)
async def get_report(
    services: ServicesDep,
    who: Reader,
    group_by: GroupBy = "affiliate",
    date_from: Annotated[
        datetime | None, Query(alias="from", description="default: 7 days ago")
    ] = None,
    date_to: Annotated[datetime | None, Query(alias="to", description="default: now")] = None,
    tz: Annotated[str, Query(max_length=64, description="IANA time zone")] = "UTC",
) -> Any:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiProblem(422, "invalid", f"unknown time zone {tz!r}", "tz") from None
    now = datetime.now(UTC)
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    end = _aware(date_to, zone) if date_to else next_hour
    start = _aware(date_from, zone) if date_from else end - timedelta(days=7)
    if start >= end:
        raise ApiProblem(422, "invalid", "'from' must be before 'to'", "from")
    if end - start > timedelta(days=400):
        raise ApiProblem(422, "invalid", "a report spans at most 400 days", "to")
    source, rows = await reports.report(
        services.pool, group_by, start, end, tz,
        affiliate_id=who.affiliate_id if who.role == "affiliate" else None,
        advertiser_id=who.advertiser_id if who.role == "advertiser" else None,
    )  # fmt: skip
    hide_money = who.role == "affiliate"
    out = []
    for r in rows:
        if hide_money:
            r["revenue"] = Decimal(0)
        out.append(ReportRow(**r))
    totals = ReportRow(
        key="total",
        gross_clicks=sum(r.gross_clicks for r in out),
        unique_clicks=sum(r.unique_clicks for r in out),
        human_clicks=sum(r.human_clicks for r in out),
        bot_clicks=sum(r.bot_clicks for r in out),
        conversions=sum(r.conversions for r in out),
        revenue=sum((r.revenue for r in out), Decimal(0)),
        payout=sum((r.payout for r in out), Decimal(0)),
    )
    return Report(
        group_by=group_by,
        tz=tz,
        date_from=start,
        date_to=end,
        source=source,
        rows=out,
        totals=totals,
    )
