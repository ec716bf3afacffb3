"""``GET /api/v1/reports``: grouped metrics, scoped to the caller's tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from schemas.reports import METRICS, Report, ReportQuery
from tracker.api.deps import Reader, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.api.json import JSON
from tracker.api.views import audience_of
from tracker.store.reports import engine, sql

router = APIRouter(prefix="/api/v1", tags=["reports"])

_DESCRIPTION = """Clicks, impressions, conversions by status and money, grouped by up to five
dimensions in the caller's time zone, with a totals row.

Exact whichever source answers: from `rollup_spans` when grouped and filtered only by partner,
offer and time and `from`/`to` fall on quarter hours (every zone in use, including +05:30 and
+05:45, and across DST changes); from the stored rows otherwise.

Roles: an admin key sees everything; an advertiser key only its offers, with `revenue` (its
cost) but `payout`, `profit` and `epc` null; a partner key only its own rows, with `revenue`,
`profit` and `rpc` null. Sorting by a field the caller may not see is refused (422)."""


def _aware(value: datetime, tz: ZoneInfo) -> datetime:
    # A time without an offset is read in the report's time zone.
    return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(UTC)


@router.get("/reports", response_model=Report, response_model_by_alias=True,
            description=_DESCRIPTION)  # fmt: skip
async def get_report(services: ServicesDep, who: Reader, q: Annotated[ReportQuery, Query()]) -> Any:
    zone = ZoneInfo(q.tz)
    now = datetime.now(UTC)
    try:
        end = (
            _aware(q.date_to, zone)
            if q.date_to
            else now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        )
        start = _aware(q.date_from, zone) if q.date_from else end - timedelta(days=7)
    except OverflowError:
        raise ApiProblem(422, "invalid", "a time out of range", "from") from None
    if start >= end:
        raise ApiProblem(422, "invalid", "'from' must be before 'to'", "from")
    if end - start > timedelta(days=400):
        raise ApiProblem(422, "invalid", "a report spans at most 400 days", "to")
    dims = q.dimensions()
    if q.sort is not None:
        name = q.sort.lstrip("-")
        if name not in METRICS and name not in dims:
            raise ApiProblem(422, "invalid", f"sort by {name!r}: group by it first", "sort")
        if name in engine.hidden(audience_of(who)):
            raise ApiProblem(422, "invalid", f"{name!r} is not visible to this key", "sort")
    spec = sql.Spec(
        dims=dims, start=start, end=end, tz=q.tz, filters=q.filters(),
        affiliate_id=who.affiliate_id if who.role == "affiliate" else None,
        advertiser_id=who.advertiser_id if who.role == "advertiser" else None,
    )  # fmt: skip
    answer = await engine.run(services.pool, spec, audience_of(who), sort=q.sort, limit=q.limit)
    # Rendered at once by orjson: thousands of rows through the response model cost more
    # than the query (the model still documents the answer; tests check its shape).
    return JSON({
        "group_by": answer.dims, "tz": q.tz, "from": start, "to": end,
        "currency": answer.currency, "source": answer.source,
        "total_rows": answer.total_rows, "rows": answer.rows, "totals": answer.totals,
    })  # fmt: skip
