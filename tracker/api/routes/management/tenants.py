"""Advertisers and partners (affiliates): admins write; tenants read what concerns them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from schemas.api import Advertiser, AdvertiserIn, Affiliate, AffiliateIn
from schemas.entities import AdvertiserPatch, ListStatus, Page, TenantPatch
from tracker.api.deps import AdminWrite, IdPath, Reader, ServicesDep
from tracker.api.routes.management.common import (
    CursorQ,
    Limit,
    UpdatedSince,
    decode_cursor,
    found,
    not_archived,
    page_of,
    utc,
)
from tracker.api.views import show, show_all
from tracker.resources import Services
from tracker.store import entities, listing
from tracker.store.keys import Principal

router = APIRouter(prefix="/api/v1", tags=["management"])


_RESOURCE = {"advertisers": "Advertiser", "affiliates": "Affiliate"}


async def _patch(services: Services, table: str, what: str, ident: int, body: TenantPatch,
                 who: Principal) -> Any:  # fmt: skip
    row = found(await entities.get_row(services.pool, table, ident), what, ident)
    not_archived(row, what)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if table == "advertisers" and "in_house" in changes:
        services.key_cache.clear()  # this process's keys see the change at once
    row = found(await entities.update_row(services.pool, table, ident, changes), what, ident)
    return show(_RESOURCE[table], who, row)


async def _list(services: Services, table: str, who: Principal, status: str | None,
                updated_since: Any, cursor: str | None, limit: int) -> Any:  # fmt: skip
    rows = await listing.page(services.pool, table, who, filters={"status": status},
                              updated_since=utc(updated_since), after_id=decode_cursor(cursor),
                              limit=limit)  # fmt: skip
    return page_of(show_all(_RESOURCE[table], who, rows), limit)


@router.post("/advertisers", status_code=201, response_model=Advertiser)
async def create_advertiser(body: AdvertiserIn, services: ServicesDep, who: AdminWrite) -> Any:
    return show("Advertiser", who, await entities.create_advertiser(services.pool, body))


@router.get("/advertisers", response_model=Page[Advertiser])
async def list_advertisers(services: ServicesDep, who: Reader, status: ListStatus | None = None,
                           updated_since: UpdatedSince = None, cursor: CursorQ = None,
                           limit: Limit = 100) -> Any:  # fmt: skip
    return await _list(services, "advertisers", who, status, updated_since, cursor, limit)


@router.get("/advertisers/{advertiser_id}", response_model=Advertiser)
async def get_advertiser(advertiser_id: IdPath, services: ServicesDep, who: Reader) -> Any:
    row = await listing.visible(services.pool, "advertisers", advertiser_id, who)
    return show("Advertiser", who, found(row, "advertiser", advertiser_id))


@router.patch("/advertisers/{advertiser_id}", response_model=Advertiser)
async def update_advertiser(advertiser_id: IdPath, body: AdvertiserPatch, services: ServicesDep,
                            who: AdminWrite) -> Any:  # fmt: skip
    """`in_house` reaches every process's keys within `TRACKER_API_KEY_CACHE_S`."""
    return await _patch(services, "advertisers", "advertiser", advertiser_id, body, who)


@router.post("/advertisers/{advertiser_id}/archive", response_model=Advertiser)
async def archive_advertiser(advertiser_id: IdPath, services: ServicesDep,
                             who: AdminWrite) -> Any:  # fmt: skip
    """Archive the advertiser and its offers: their links stop taking clicks within 2 s."""
    row = await listing.archive(services.pool, "advertisers", advertiser_id)
    return show("Advertiser", who, found(row, "advertiser", advertiser_id))


@router.post("/affiliates", status_code=201, response_model=Affiliate)
async def create_affiliate(body: AffiliateIn, services: ServicesDep, who: AdminWrite) -> Any:
    return show("Affiliate", who, await entities.create_affiliate(services.pool, body))


@router.get("/affiliates", response_model=Page[Affiliate])
async def list_affiliates(services: ServicesDep, who: Reader, status: ListStatus | None = None,
                          updated_since: UpdatedSince = None, cursor: CursorQ = None,
                          limit: Limit = 100) -> Any:  # fmt: skip
    return await _list(services, "affiliates", who, status, updated_since, cursor, limit)


@router.get("/affiliates/{affiliate_id}", response_model=Affiliate)
async def get_affiliate(affiliate_id: IdPath, services: ServicesDep, who: Reader) -> Any:
    row = await listing.visible(services.pool, "affiliates", affiliate_id, who)
    return show("Affiliate", who, found(row, "affiliate", affiliate_id))


@router.patch("/affiliates/{affiliate_id}", response_model=Affiliate)
async def update_affiliate(affiliate_id: IdPath, body: TenantPatch, services: ServicesDep,
                           who: AdminWrite) -> Any:  # fmt: skip
    return await _patch(services, "affiliates", "affiliate", affiliate_id, body, who)


@router.post("/affiliates/{affiliate_id}/archive", response_model=Affiliate)
async def archive_affiliate(affiliate_id: IdPath, services: ServicesDep,
                            who: AdminWrite) -> Any:  # fmt: skip
    """Archive the partner: its links stop taking clicks within 2 s."""
    row = await listing.archive(services.pool, "affiliates", affiliate_id)
    return show("Affiliate", who, found(row, "affiliate", affiliate_id))
