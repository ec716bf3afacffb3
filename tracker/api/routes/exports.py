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
from tracker.api.views import columns as visible_columns
from tracker.api.views import reduced_columns
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


_RESOURCE = {"clicks": "ClickExport", "impressions": "ImpressionExport",
             "conversions": "ConversionExport"}  # fmt: skip


async def _body(services: ServicesDep, who: Principal, table: str, all_columns: tuple[str, ...],
                start: datetime, end: datetime, fmt: Format) -> AsyncIterator[bytes]:  # fmt: skip
    """The rows ``who`` may see, with the columns it may see (docs/visibility.md)."""
    aff = who.affiliate_id if who.role == "affiliate" else None
    adv = who.advertiser_id if who.role == "advertiser" else None
    columns = visible_columns(_RESOURCE[table], who, all_columns)
    reduced = reduced_columns(_RESOURCE[table], who, columns)
    if fmt == "ndjson":
        async for chunk in stream_ndjson(
            services.pool,
            table,
            columns,
            start,
            end,
            affiliate_id=aff,
            advertiser_id=adv,
            reduced=reduced,
        ):
            yield chunk
        return
    head = io.StringIO()
    csv.writer(head, lineterminator="\n").writerow(columns)
    yield head.getvalue().encode()
    async for rows in stream_rows(
        services.pool,
        table,
        columns,
        start,
        end,
        affiliate_id=aff,
        advertiser_id=adv,
        reduced=reduced,
    ):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerows([[_encode(v) for v in row] for row in rows])
        yield buf.getvalue().encode()


def _response(body: AsyncIterator[bytes], fmt: Format, name: str) -> StreamingResponse:
    media = "application/x-ndjson" if fmt == "ndjson" else "text/csv; charset=utf-8"
    return StreamingResponse(body, media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})  # fmt: skip


_FILES = {
    200: {
        "description": "the rows, one JSON object a line (ndjson) or CSV with a header line; "
        "the columns a key sees are in docs/visibility.md",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.get("/clicks", response_class=StreamingResponse, responses=_FILES)  # type: ignore[arg-type]
async def export_clicks(
    services: ServicesDep, who: Reader,
    date_from: Annotated[datetime, Query(alias="from")], date_to: Annotated[datetime, Query(alias="to")],
    format: Format = "ndjson",
) -> StreamingResponse:  # fmt: skip
    start, end = _range(date_from, date_to)
    return _response(
        _body(services, who, "clicks", CLICK_COLUMNS, start, end, format), format, "clicks"
    )


@router.get("/impressions", response_class=StreamingResponse, responses=_FILES)  # type: ignore[arg-type]
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


@router.get("/conversions", response_class=StreamingResponse, responses=_FILES)  # type: ignore[arg-type]
async def export_conversions(
    services: ServicesDep, who: Reader,
    date_from: Annotated[datetime, Query(alias="from")], date_to: Annotated[datetime, Query(alias="to")],
    format: Format = "ndjson",
) -> StreamingResponse:  # fmt: skip
    start, end = _range(date_from, date_to)
    return _response(
        _body(services, who, "conversions", CONVERSION_COLUMNS, start, end, format), format,
        "conversions",
    )  # fmt: skip
