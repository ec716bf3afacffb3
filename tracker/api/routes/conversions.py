"""Conversions: read one (with its decision record and history), list them, change a status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from schemas.conversions import Conversion, ConversionPage, Status, StatusIn
from schemas.types import MAX_ID, TEXT
from tracker.api.deps import IdQuery, Reader, ServicesDep, require
from tracker.api.errors import ApiProblem
from tracker.api.views import show
from tracker.store import conversions as store
from tracker.store.keys import Principal

router = APIRouter(prefix="/api/v1", tags=["conversions"])
Writer = Annotated[Principal, require("write")]


def visible_to(who: Principal, row: dict[str, Any]) -> bool:
    return (
        who.role == "admin"
        or (who.role == "advertiser" and row["advertiser_id"] == who.advertiser_id)
        or (who.role == "affiliate" and row["affiliate_id"] == who.affiliate_id)
    )


def shown(who: Principal, row: dict[str, Any]) -> dict[str, Any]:
    """A conversion, its decision record and its history as ``who`` may see them."""
    return show("Conversion", who, row)


@router.get("/conversions/lookup", response_model=ConversionPage)
async def lookup(
    services: ServicesDep,
    who: Reader,
    advertiser_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    txn_id: Annotated[str, Query(min_length=1, max_length=255, pattern=TEXT)],
) -> Any:
    """The conversions of one merchant transaction id (one per goal), each with its
    attribution decision record and status history."""
    rows = [
        r for r in await store.by_txn(services.pool, advertiser_id, txn_id) if visible_to(who, r)
    ]
    if not rows:  # none, or none of this caller's: the same answer
        raise ApiProblem(404, "not_found", f"no conversion with txn_id {txn_id!r}", "txn_id")
    return ConversionPage(items=[shown(who, r) for r in rows])  # type: ignore[misc]


@router.get("/conversions/{conversion_id}", response_model=Conversion)
async def get_conversion(conversion_id: UUID, services: ServicesDep, who: Reader) -> Any:
    row = await store.get(services.pool, conversion_id)
    if row is None or not visible_to(who, row):
        raise ApiProblem(404, "not_found", f"conversion {conversion_id} not found", "conversion_id")
    return shown(who, row)


@router.get("/conversions", response_model=ConversionPage)
async def list_conversions(
    services: ServicesDep,
    who: Reader,
    advertiser_id: IdQuery = None,
    affiliate_id: IdQuery = None,
    offer_id: IdQuery = None,
    status: Status | None = None,
    after: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    if who.role == "advertiser":
        advertiser_id = who.advertiser_id
    elif who.role == "affiliate":
        affiliate_id = who.affiliate_id
    rows = await store.search(services.pool, advertiser_id=advertiser_id, affiliate_id=affiliate_id,
                              offer_id=offer_id, status=status, after=after, limit=limit)  # fmt: skip
    items = [shown(who, r) for r in rows]
    return ConversionPage(items=items,  # type: ignore[arg-type]
                          next_after=rows[-1]["conversion_id"] if len(rows) == limit else None)  # fmt: skip


@router.post("/conversions/{conversion_id}/status", response_model=Conversion)
async def set_status(
    conversion_id: UUID, body: StatusIn, services: ServicesDep, who: Writer
) -> Any:
    if who.role == "affiliate":
        raise ApiProblem(403, "forbidden", "partners cannot change a conversion's status")
    async with services.pool.acquire() as conn, conn.transaction():
        # The same lock the worker takes for this conversion id.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 5))", str(conversion_id)
        )
        row = await store.lock(conn, conversion_id)
        if row is None or not visible_to(who, dict(row)):
            raise ApiProblem(
                404, "not_found", f"conversion {conversion_id} not found", "conversion_id"
            )
        await store.change_status(conn, row, body.status, actor=f"api:key{who.key_id}",
                                  at=datetime.now(UTC), reason=body.reason or "api")  # fmt: skip
    return await get_conversion(conversion_id, services, who)
