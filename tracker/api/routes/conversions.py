"""Conversions: read one (with its decision record and history), list them, change a status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query

from schemas.conversions import Conversion, ConversionPage, Status, StatusIn
from schemas.money import DecisionOverrideIn
from schemas.types import MAX_ID, TEXT
from tracker.api.deps import AdminWrite, IdQuery, Reader, ServicesDep, require
from tracker.api.errors import ApiProblem
from tracker.api.views import show
from tracker.store import conversion_changes as changes
from tracker.store import conversion_rows as rows
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


_BUSY: dict[int | str, dict[str, Any]] = {
    503: {"description": "the worker holds the conversion past the lock timeout: retry"}
}


async def _change(conversion_id: UUID, services: ServicesDep, who: Principal,
                  do: Callable[[Any, Any], Awaitable[Any]]) -> Any:  # fmt: skip
    """Lock the conversion (the worker's locks, in the same order), check the caller may see
    it, apply ``do(conn, row)`` through the one conversion path, answer the new state. A
    deadlock with a worker's batch is retried; a lock held past half the database timeout
    (a busy worker) is a 503 to retry, never a 500."""
    wait_ms = int(services.settings.db_timeout_s * 500)
    for attempt in range(3):
        try:
            async with services.pool.acquire() as conn, conn.transaction():
                await conn.execute(f"SET LOCAL lock_timeout = {wait_ms}")
                row = await rows.lock(conn, conversion_id)
                if row is None or not visible_to(who, dict(row)):
                    raise ApiProblem(404, "not_found", f"conversion {conversion_id} not found",
                                     "conversion_id")  # fmt: skip
                try:
                    await do(conn, row)
                except changes.Refused as exc:
                    raise ApiProblem(exc.status, exc.code, exc.message, "status") from None
            break
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            if attempt == 2:
                raise _busy() from None
        except (asyncpg.LockNotAvailableError, TimeoutError):
            raise _busy() from None
    return await get_conversion(conversion_id, services, who)


def _busy() -> ApiProblem:
    return ApiProblem(503, "busy", "the conversion is being written by the worker: retry",
                      "conversion_id", headers={"Retry-After": "1"})  # fmt: skip


@router.post("/conversions/{conversion_id}/status", response_model=Conversion, responses=_BUSY)
async def set_status(
    conversion_id: UUID, body: StatusIn, services: ServicesDep, who: Writer
) -> Any:
    """Set the merchant's status (an advertiser's or an admin's key). Unlike a postback it may
    move back (re-approve a rejected sale); like one, it goes through the tracker's gates: a
    fraud or goal rule keeps the conversion rejected, a full cap keeps it held or rejected,
    a missing currency rate keeps it held (docs/adr/0080)."""
    if who.role == "affiliate":
        raise ApiProblem(403, "forbidden", "partners cannot change a conversion's status")

    async def do(conn: Any, row: Any) -> Any:
        return await changes.set_status(conn, row, body.status, actor=f"api:key{who.key_id}",
                                        reason=body.reason or "api")  # fmt: skip

    return await _change(conversion_id, services, who, do)


@router.post("/conversions/{conversion_id}/override", response_model=Conversion,
             responses={409: {"description": "nothing to override, no partner to pay, no "
                              "currency rate, or a full cap"}, **_BUSY})  # fmt: skip
async def override(
    conversion_id: UUID, body: DecisionOverrideIn, services: ServicesDep, who: AdminWrite
) -> Any:
    """Override the tracker's decision (admin keys only): waive the fraud or goal rule that
    rejected the conversion, or take a cap again after raising it, and set ``status``.
    Recorded in the history and in the decision record's ``overrides`` (key, time, gate,
    reason). Refused (409) when there is no partner to pay, no currency rate (add it: that
    re-prices the conversion), or the cap is still full: a cap is never overshot."""

    async def do(conn: Any, row: Any) -> Any:
        return await changes.override(conn, row, body.status, actor=f"api:key{who.key_id}",
                                      reason=body.reason)  # fmt: skip

    return await _change(conversion_id, services, who, do)
