"""Exports of raw clicks, impressions and conversions as NDJSON or CSV: no row limit,
constant memory. ``params`` (a click's custom parameters) is a JSON object in NDJSON and
its JSON text in CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.responses import StreamingResponse

from tracker.api.deps import Reader, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.store.exports import (
    CLICK_COLUMNS,
    CONVERSION_COLUMNS,
    IMPRESSION_COLUMNS,
    stream_ndjson,
    stream_rows,
)
from tracker.store.keys import Principal

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])

Format = Literal["ndjson", "csv"]


def _range(date_from: datetime, date_to: datetime) -> tuple[datetime, datetime]:
    start = date_from if date_from.tzinfo else date_from.replace(tzinfo=UTC)
    end = date_to if date_to.tzinfo else date_to.replace(tzinfo=UTC)
    if start >= end:
        raise ApiProblem(422, "invalid", "'from' must be before 'to'", "from")
    if end - start > timedelta(days=400):
        raise ApiProblem(422, "invalid", "an export spans at most 400 days", "to")
    return start, end


def _encode(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return value if value is None or isinstance(value, (int, bool, str)) else str(value)


async def _body(services: ServicesDep, who: Principal, table: str, columns: tuple[str, ...],
                start: datetime, end: datetime, fmt: Format) -> AsyncIterator[bytes]:  # fmt: skip
    aff = who.affiliate_id if who.role == "affiliate" else None
    adv = who.advertiser_id if who.role == "advertiser" else None
    if fmt == "ndjson":
        async for chunk in stream_ndjson(
            services.pool, table, columns, start, end, affiliate_id=aff, advertiser_id=adv
        ):
            yield chunk
        return
    head = io.StringIO()
    csv.writer(head, lineterminator="\n").writerow(columns)
    yield head.getvalue().encode()
    async for rows in stream_rows(
        services.pool, table, columns, start, end, affiliate_id=aff, advertiser_id=adv
    ):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerows([[_encode(v) for v in row] for row in rows])
        yield buf.getvalue().encode()


def _response(body: AsyncIterator[bytes], fmt: Format, name: str) -> StreamingResponse:
    media = "application/x-ndjson" if fmt == "ndjson" else "text/csv; charset=utf-8"
    return StreamingResponse(body, media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})  # fmt: skip


@router.get("/clicks", response_class=StreamingResponse)
async def export_clicks(
    services: ServicesDep, who: Reader,
    date_from: Annotated[datetime, Query(alias="from")], date_to: Annotated[datetime, Query(alias="to")],
    format: Format = "ndjson",
) -> StreamingResponse:  # fmt: skip
    start, end = _range(date_from, date_to)
    return _response(
        _body(services, who, "clicks", CLICK_COLUMNS, start, end, format), format, "clicks"
    )


@router.get("/impressions", response_class=StreamingResponse)
async def export_impressions(
    services: ServicesDep, who: Reader,
    date_from: Annotated[datetime, Query(alias="from")], date_to: Annotated[datetime, Query(alias="to")],
    format: Format = "ndjson",
) -> StreamingResponse:  # fmt: skip
    """Impressions (pixel hits) with the same fields as clicks, less the unique verdict."""
    start, end = _range(date_from, date_to)
    return _response(
        _body(services, who, "impressions", IMPRESSION_COLUMNS, start, end, format), format,
        "impressions",
    )  # fmt: skip


@router.get("/conversions", response_class=StreamingResponse)
async def export_conversions(
    services: ServicesDep, who: Reader,
    date_from: Annotated[datetime, Query(alias="from")], date_to: Annotated[datetime, Query(alias="to")],
    format: Format = "ndjson",
) -> StreamingResponse:  # fmt: skip
    start, end = _range(date_from, date_to)
    columns: tuple[str, ...] = CONVERSION_COLUMNS
    if who.role == "affiliate":  # partners never see what the advertiser pays
        columns = tuple(c for c in columns if c not in ("revenue", "amount", "advertiser_id"))
    return _response(
        _body(services, who, "conversions", columns, start, end, format), format, "conversions"
    )
