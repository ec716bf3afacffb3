"""Create and read advertisers, affiliates, offers and tracking links (admin keys)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from schemas.api import (
    Advertiser,
    AdvertiserIn,
    Affiliate,
    AffiliateIn,
    Link,
    LinkIn,
    LinkPatch,
    Offer,
    OfferIn,
    OfferPatch,
)
from tracker.api.deps import AdminRead, AdminWrite, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.store import entities

router = APIRouter(prefix="/api/v1", tags=["management"])


def _found(row: dict[str, Any] | None, what: str, ident: int) -> dict[str, Any]:
    if row is None:
        raise ApiProblem(404, "not_found", f"{what} {ident} not found", "id")
    return row


def _link(services: ServicesDep, row: dict[str, Any]) -> Link:
    return Link(**row, url=f"{services.settings.base_url}/c/{row['code']}")


@router.post("/advertisers", status_code=201, response_model=Advertiser)
async def create_advertiser(body: AdvertiserIn, services: ServicesDep, _: AdminWrite) -> Any:
    return await entities.create_advertiser(services.pool, body)


@router.get("/advertisers/{advertiser_id}", response_model=Advertiser)
async def get_advertiser(advertiser_id: int, services: ServicesDep, _: AdminRead) -> Any:
    return _found(
        await entities.get_advertiser(services.pool, advertiser_id), "advertiser", advertiser_id
    )


@router.post("/affiliates", status_code=201, response_model=Affiliate)
async def create_affiliate(body: AffiliateIn, services: ServicesDep, _: AdminWrite) -> Any:
    return await entities.create_affiliate(services.pool, body)


@router.get("/affiliates/{affiliate_id}", response_model=Affiliate)
async def get_affiliate(affiliate_id: int, services: ServicesDep, _: AdminRead) -> Any:
    return _found(
        await entities.get_affiliate(services.pool, affiliate_id), "affiliate", affiliate_id
    )


@router.post("/offers", status_code=201, response_model=Offer)
async def create_offer(body: OfferIn, services: ServicesDep, _: AdminWrite) -> Any:
    return await entities.create_offer(services.pool, body)


@router.get("/offers/{offer_id}", response_model=Offer)
async def get_offer(offer_id: int, services: ServicesDep, _: AdminRead) -> Any:
    return _found(await entities.get_offer(services.pool, offer_id), "offer", offer_id)


@router.patch("/offers/{offer_id}", response_model=Offer)
async def update_offer(
    offer_id: int, body: OfferPatch, services: ServicesDep, _: AdminWrite
) -> Any:
    """Every redirect process applies the change within ``link_refresh_s`` (≤ 2 s)."""
    return _found(await entities.update_offer(services.pool, offer_id, body), "offer", offer_id)


@router.post("/links", status_code=201, response_model=Link)
async def create_link(body: LinkIn, services: ServicesDep, _: AdminWrite) -> Any:
    return _link(services, await entities.create_link(services.pool, body))


@router.get("/links/{link_id}", response_model=Link)
async def get_link(link_id: int, services: ServicesDep, _: AdminRead) -> Any:
    return _link(services, _found(await entities.get_link(services.pool, link_id), "link", link_id))


@router.patch("/links/{link_id}", response_model=Link)
async def update_link(link_id: int, body: LinkPatch, services: ServicesDep, _: AdminWrite) -> Any:
    row = _found(await entities.update_link(services.pool, link_id, body), "link", link_id)
    return _link(services, row)
