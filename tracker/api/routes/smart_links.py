"""Smart links (issue 20, docs/adr/0110): one partner link, ordered routes to offers.

Admins write; a partner reads its own smart links (never their caps or fallback URL);
advertisers never see them (a smart link spans offers of several advertisers). Every
redirect process applies a change within ``link_refresh_s``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from schemas.entities import ListStatus, Page
from schemas.routing import (
    RouteIn,
    RoutePatch,
    SmartLink,
    SmartLinkIn,
    SmartLinkPatch,
    SmartRoute,
)
from schemas.targeting import targeting_json
from tracker.api.deps import AdminWrite, IdPath, IdQuery, Reader, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.api.routes.management.common import CursorQ, Limit, decode_cursor, found, page_of
from tracker.api.views import show
from tracker.domain import landing_urls
from tracker.domain.codes import unknown_code
from tracker.domain.hosts import on_domain, pick
from tracker.resources import Services
from tracker.store import listing, tracking_domains
from tracker.store import smart_links as store
from tracker.store.keys import Principal

router = APIRouter(prefix="/api/v1/smart-links", tags=["smart links"])
_LINK = "smart link"


def _refused(exc: store.Refused) -> ApiProblem:
    return ApiProblem(422, "invalid", exc.message, exc.field)


def _check_url(url: str | None, field: str) -> None:
    why = landing_urls.problem(url) if url is not None else None
    if why is not None:
        raise ApiProblem(422, "invalid", f"{field}: {why}", field)


def _check_targeting(data: dict[str, Any] | None, field: str) -> None:
    bad = unknown_code(data, field)
    if bad is not None:
        raise ApiProblem(422, "invalid", bad[1], bad[0])


def _partners_only(who: Principal) -> None:
    if who.role == "advertiser":
        raise ApiProblem(403, "forbidden", "smart links are the network's and its partners'")


async def _shown(services: Services, who: Principal, rows: list[dict[str, Any]]) -> list[Any]:
    """Rows with their routes and tracking URL (on the partner's or network's domain)."""
    every = await tracking_domains.every(services.pool)
    out = []
    for row in await store.with_routes(services.pool, rows):
        host = pick(every, None, row["affiliate_id"], link=True)
        url = f"{on_domain(services.settings.base_url, host)}/c/{row['code']}"
        out.append(show("SmartLink", who, {**row, "url": url}))
    return out


async def _visible(services: Services, who: Principal, link_id: int) -> dict[str, Any]:
    _partners_only(who)
    row = await listing.visible(services.pool, "tracking_links", link_id, who)
    if row is None or row["kind"] != "smart":
        raise ApiProblem(404, "not_found", f"smart link {link_id} not found", "id")
    return row


async def _writable(services: Services, link_id: int) -> dict[str, Any]:
    row = found(await store.get(services.pool, link_id), _LINK, link_id)
    if row["status"] == "archived":
        raise ApiProblem(409, "archived", f"smart link {link_id} is archived", "status")
    return row


@router.post("", status_code=201, response_model=SmartLink)
async def create_smart_link(body: SmartLinkIn, services: ServicesDep, who: AdminWrite) -> Any:
    """A smart link with its routes (at most ``MAX_ROUTES``): the redirect takes the first
    route by priority that takes the visitor, weighted among equal priorities."""
    _check_url(body.fallback_url, "fallback_url")
    for i, route in enumerate(body.routes):
        _check_targeting(targeting_json(route.targeting), f"routes.{i}.targeting")
    try:
        row = await store.create(services.pool, body)
    except store.Refused as exc:
        raise _refused(exc) from None
    return (await _shown(services, who, [row]))[0]


@router.get("", response_model=Page[SmartLink])
async def list_smart_links(services: ServicesDep, who: Reader,
                           status: ListStatus | None = None, affiliate_id: IdQuery = None,
                           cursor: CursorQ = None, limit: Limit = 100) -> Any:  # fmt: skip
    _partners_only(who)
    rows = await listing.page(services.pool, "tracking_links", who,
                              filters={"kind": "smart", "status": status,
                                       "affiliate_id": affiliate_id},
                              updated_since=None, after_id=decode_cursor(cursor), limit=limit)  # fmt: skip
    return page_of(await _shown(services, who, rows), limit)


@router.get("/{link_id}", response_model=SmartLink)
async def get_smart_link(link_id: IdPath, services: ServicesDep, who: Reader) -> Any:
    row = await _visible(services, who, link_id)
    return (await _shown(services, who, [row]))[0]


@router.patch("/{link_id}", response_model=SmartLink)
async def update_smart_link(link_id: IdPath, body: SmartLinkPatch, services: ServicesDep,
                            who: AdminWrite) -> Any:  # fmt: skip
    _check_url(body.fallback_url, "fallback_url")
    await _writable(services, link_id)
    row = await store.update(services.pool, link_id, body.model_dump(exclude_unset=True))
    if row is None:  # archived meanwhile
        raise ApiProblem(409, "archived", f"smart link {link_id} is archived", "status")
    return (await _shown(services, who, [row]))[0]


@router.post("/{link_id}/archive", response_model=SmartLink)
async def archive_smart_link(link_id: IdPath, services: ServicesDep, who: AdminWrite) -> Any:
    """Retire the smart link: it stops taking clicks within 2 s; its clicks stay."""
    found(await store.get(services.pool, link_id), _LINK, link_id)
    row = found(await listing.archive(services.pool, "tracking_links", link_id), _LINK, link_id)
    return (await _shown(services, who, [row]))[0]


@router.post("/{link_id}/routes", status_code=201, response_model=SmartRoute)
async def add_route(link_id: IdPath, body: RouteIn, services: ServicesDep,
                    who: AdminWrite) -> Any:  # fmt: skip
    """Add a route (a smart link has at most 20 that are not archived: 422 past it)."""
    link = await _writable(services, link_id)
    _check_targeting(targeting_json(body.targeting), "targeting")
    try:
        row = await store.add_route(services.pool, link, body)
    except store.Refused as exc:
        raise _refused(exc) from None
    return show("SmartRoute", who, row)


@router.patch("/{link_id}/routes/{route_id}", response_model=SmartRoute)
async def update_route(link_id: IdPath, route_id: IdPath, body: RoutePatch,
                       services: ServicesDep, who: AdminWrite) -> Any:  # fmt: skip
    """Change a route's order, weight, targeting, caps or state; live within 2 s."""
    await _writable(services, link_id)
    route = found(await store.get_route(services.pool, link_id, route_id), "route", route_id)
    if route["status"] == "archived":
        raise ApiProblem(409, "archived", f"route {route_id} is archived", "status")
    changes = body.model_dump(exclude_unset=True)
    if "targeting" in changes:
        changes["targeting"] = targeting_json(body.targeting)
        _check_targeting(changes["targeting"], "targeting")
    row = await store.update_route(services.pool, link_id, route_id, changes)
    if row is None:
        raise ApiProblem(409, "archived", f"route {route_id} is archived", "status")
    return show("SmartRoute", who, row)


@router.post("/{link_id}/routes/{route_id}/archive", response_model=SmartRoute)
async def archive_route(link_id: IdPath, route_id: IdPath, services: ServicesDep,
                        who: AdminWrite) -> Any:  # fmt: skip
    """Retire a route: no visitor takes it within 2 s; clicks keep its id for reports."""
    found(await store.get(services.pool, link_id), _LINK, link_id)
    row = found(await store.archive_route(services.pool, link_id, route_id), "route", route_id)
    return show("SmartRoute", who, row)
