"""``GET /api/v1/reports/landers``: an offer's landers compared (issue 20, split tests).

Every key reads it, scoped like the other reports: an admin sees every click, an
advertiser its own offers' (without EPC unless in-house), a partner its own clicks
(without lander names: the pages are the advertiser's).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from schemas.routing import LanderReport, LanderReportQuery
from tracker.api.deps import Reader, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.api.routes.management.common import offer_or_404
from tracker.api.views import show_all
from tracker.domain.split_test import NONE, compare, per_click, rate
from tracker.store import lander_reports as store

router = APIRouter(prefix="/api/v1/reports", tags=["landers"])


def _range(date_from: datetime | None, date_to: datetime | None) -> tuple[datetime, datetime]:
    def aware(value: datetime) -> datetime:
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)

    try:
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        end = aware(date_to) if date_to else now + timedelta(hours=1)
        start = aware(date_from) if date_from else end - timedelta(days=30)
    except OverflowError:
        raise ApiProblem(422, "invalid", "a time out of range", "from") from None
    if start >= end:
        raise ApiProblem(422, "invalid", "'from' must be before 'to'", "from")
    if end - start > timedelta(days=400):
        raise ApiProblem(422, "invalid", "a report spans at most 400 days", "to")
    return start, end


@router.get("/landers", response_model=LanderReport, response_model_by_alias=True)
async def lander_report(services: ServicesDep, who: Reader,
                        q: Annotated[LanderReportQuery, Query()]) -> Any:  # fmt: skip
    """Clicks, conversions, CR and EPC of each lander of an offer, each compared with the
    control by a two-proportion z-test on CR (z, p-value, confidence)."""
    await offer_or_404(services.pool, q.offer_id, who)
    start, end = _range(q.date_from, q.date_to)
    partner = who.affiliate_id if who.role == "affiliate" else None
    rows = await store.variants(services.pool, q.offer_id, start, end, partner)
    ids = [r["lander_id"] for r in rows]
    if q.control is not None and q.control not in ids:
        raise ApiProblem(422, "invalid", f"lander {q.control} is not one of this offer's",
                         "control")  # fmt: skip
    control = (
        q.control if q.control is not None else max(rows, key=lambda r: r["clicks"])["lander_id"]
    )
    base = next(r for r in rows if r["lander_id"] == control)
    out = []
    for r in rows:
        mine = r["lander_id"] == control
        z = NONE if mine else compare((base["clicks"], base["conversions"]),
                                      (r["clicks"], r["conversions"]))  # fmt: skip
        out.append({**r, "cr": rate(r["conversions"], r["clicks"]),
                    "epc": per_click(r["payout"], r["clicks"]), "control": mine,
                    "z": z.z, "p_value": z.p_value, "confidence": z.confidence})  # fmt: skip
    return {"offer_id": q.offer_id, "from": start, "to": end, "control": control,
            "rows": show_all("LanderRow", who, out)}  # fmt: skip
