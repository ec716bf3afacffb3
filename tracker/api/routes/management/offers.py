"""Offers and tracking links: admins write; advertisers read their own, partners the ones
they promote (never the revenue). Changes reach every redirect within ``link_refresh_s``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from schemas.api import Link, LinkIn, LinkPatch, Offer, OfferIn, OfferPatch
from schemas.entities import ListStatus, Page
from tracker.api.deps import AdminWrite, IdPath, IdQuery, Reader, ServicesDep
from tracker.api.errors import ApiProblem
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
from tracker.domain import landing_urls
from tracker.domain.hosts import on_domain, pick
from tracker.resources import Services
from tracker.store import entities, listing, tracking_domains
from tracker.store.keys import Principal

router = APIRouter(prefix="/api/v1", tags=["management"])


async def _links(services: Services, who: Principal,
                 rows: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """The links with their URLs on the right tracking domain (docs/adr/0096)."""
    base = services.settings.base_url
    every = await tracking_domains.every(services.pool)
    advertisers = (
        await tracking_domains.advertisers_of(services.pool, [r["offer_id"] for r in rows])
        if every else {}
    )  # fmt: skip
    out = []
    for row in rows:
        host = pick(every, advertisers.get(row["offer_id"]), row["affiliate_id"], link=True)
        on = on_domain(base, host)
        urls = {"url": f"{on}/c/{row['code']}", "impression_url": f"{on}/i/{row['code']}"}
        out.append(show("Link", who, {**row, **urls}))
    return out


async def _link(services: Services, who: Principal, row: dict[str, Any]) -> dict[str, Any]:
    return (await _links(services, who, [row]))[0]


def _destinations(body: OfferIn | OfferPatch) -> None:
    """Landing and fallback URLs as a browser will read their Location (docs/adr/0086)."""
    for field in ("landing_url", "fallback_url"):
        url = getattr(body, field)
        why = landing_urls.problem(url) if url is not None else None
        if why is not None:
            raise ApiProblem(422, "invalid", f"{field}: {why}", field)


@router.post("/offers", status_code=201, response_model=Offer)
async def create_offer(body: OfferIn, services: ServicesDep, who: AdminWrite) -> Any:
    _destinations(body)
    return show("Offer", who, await entities.create_offer(services.pool, body))


@router.get("/offers", response_model=Page[Offer])
async def list_offers(services: ServicesDep, who: Reader, status: ListStatus | None = None,
                      advertiser_id: IdQuery = None, updated_since: UpdatedSince = None,
                      cursor: CursorQ = None, limit: Limit = 100) -> Any:  # fmt: skip
    rows = await listing.page(services.pool, "offers", who,
                              filters={"status": status, "advertiser_id": advertiser_id},
                              updated_since=utc(updated_since), after_id=decode_cursor(cursor),
                              limit=limit)  # fmt: skip
    return page_of(show_all("Offer", who, rows), limit)


@router.get("/offers/{offer_id}", response_model=Offer)
async def get_offer(offer_id: IdPath, services: ServicesDep, who: Reader) -> Any:
    row = await listing.visible(services.pool, "offers", offer_id, who)
    return show("Offer", who, found(row, "offer", offer_id))


@router.patch("/offers/{offer_id}", response_model=Offer)
async def update_offer(offer_id: IdPath, body: OfferPatch, services: ServicesDep,
                       who: AdminWrite) -> Any:  # fmt: skip
    """Every redirect process applies the change within ``link_refresh_s`` (≤ 2 s).
    ``default_payout``, ``default_revenue`` and ``currency`` are dated terms: they apply to
    conversions from ``money_from`` on (default now; later ones are scheduled and shown here
    when they fall due), earlier conversions keep their price; the history is
    ``GET /offers/{id}/price-terms`` (docs/adr/0081)."""
    _destinations(body)
    not_archived(found(await entities.get_offer(services.pool, offer_id), "offer", offer_id),
                 "offer")  # fmt: skip
    row = await entities.update_offer(services.pool, offer_id, body, f"api:key{who.key_id}")
    return show("Offer", who, found(row, "offer", offer_id))


@router.post("/offers/{offer_id}/archive", response_model=Offer)
async def archive_offer(offer_id: IdPath, services: ServicesDep, who: AdminWrite) -> Any:
    """Retire the offer: its links stop taking clicks within 2 s; its history stays."""
    row = await listing.archive(services.pool, "offers", offer_id)
    return show("Offer", who, found(row, "offer", offer_id))


@router.post("/links", status_code=201, response_model=Link)
async def create_link(body: LinkIn, services: ServicesDep, who: AdminWrite) -> Any:
    return await _link(services, who, await entities.create_link(services.pool, body))


@router.get("/links", response_model=Page[Link])
async def list_links(services: ServicesDep, who: Reader, status: ListStatus | None = None,
                     offer_id: IdQuery = None, affiliate_id: IdQuery = None,
                     updated_since: UpdatedSince = None, cursor: CursorQ = None,
                     limit: Limit = 100) -> Any:  # fmt: skip
    rows = await listing.page(services.pool, "tracking_links", who,
                              filters={"status": status, "offer_id": offer_id,
                                       "affiliate_id": affiliate_id},
                              updated_since=utc(updated_since), after_id=decode_cursor(cursor),
                              limit=limit)  # fmt: skip
    return page_of(await _links(services, who, rows), limit)


@router.get("/links/{link_id}", response_model=Link)
async def get_link(link_id: IdPath, services: ServicesDep, who: Reader) -> Any:
    row = await listing.visible(services.pool, "tracking_links", link_id, who)
    return await _link(services, who, found(row, "link", link_id))


@router.patch("/links/{link_id}", response_model=Link)
async def update_link(link_id: IdPath, body: LinkPatch, services: ServicesDep,
                      who: AdminWrite) -> Any:  # fmt: skip
    not_archived(found(await entities.get_link(services.pool, link_id), "link", link_id), "link")
    row = found(await entities.update_link(services.pool, link_id, body), "link", link_id)
    return await _link(services, who, row)


@router.post("/links/{link_id}/archive", response_model=Link)
async def archive_link(link_id: IdPath, services: ServicesDep, who: AdminWrite) -> Any:
    """Retire the link: it stops taking clicks within 2 s; its clicks stay."""
    row = await listing.archive(services.pool, "tracking_links", link_id)
    return await _link(services, who, found(row, "link", link_id))
