"""An offer's landers (issue 20, docs/adr/0110): landing URLs split by weight.

Admins write; an offer's advertiser reads them (they are its pages); partners never do
(a partner sends traffic through its link, never around it: docs/adr/0085). Weights,
pauses and new landers reach every redirect within ``link_refresh_s``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from schemas.routing import Lander, LanderIn, LanderPatch
from tracker.api.deps import AdminWrite, IdPath, Reader, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.api.routes.management.common import found, not_archived, offer_or_404
from tracker.api.views import show, show_all
from tracker.domain import landing_urls
from tracker.store import entities
from tracker.store import landers as store

router = APIRouter(prefix="/api/v1/offers/{offer_id}/landers", tags=["landers"])


def _check_url(url: str | None) -> None:
    why = landing_urls.problem(url) if url is not None else None
    if why is not None:
        raise ApiProblem(422, "invalid", f"url: {why}", "url")


async def _live_offer(services: Any, offer_id: int) -> None:
    offer = found(await entities.get_offer(services.pool, offer_id), "offer", offer_id)
    not_archived(offer, "offer")


@router.post("", status_code=201, response_model=Lander)
async def create_lander(offer_id: IdPath, body: LanderIn, services: ServicesDep,
                        who: AdminWrite) -> Any:  # fmt: skip
    """Add a lander. While an offer has active landers, each visitor gets one of them by
    weight (and keeps it: docs/adr/0110) instead of the offer's landing URL."""
    _check_url(body.url)
    await _live_offer(services, offer_id)
    try:
        row = await store.create(services.pool, offer_id, body.model_dump())
    except store.TooMany as exc:
        raise ApiProblem(422, "invalid", str(exc), "offer_id") from None
    return show("Lander", who, row)


@router.get("", response_model=list[Lander])
async def list_landers(offer_id: IdPath, services: ServicesDep, who: Reader) -> Any:
    """Every lander of the offer (at most 20 not archived), archived ones too."""
    if who.role == "affiliate":
        raise ApiProblem(403, "forbidden", "landers are the advertiser's pages")
    await offer_or_404(services.pool, offer_id, who)
    return show_all("Lander", who, await store.of_offer(services.pool, offer_id))


@router.patch("/{lander_id}", response_model=Lander)
async def update_lander(offer_id: IdPath, lander_id: IdPath, body: LanderPatch,
                        services: ServicesDep, who: AdminWrite) -> Any:  # fmt: skip
    """Change a weight, pause or resume a lander, or change its URL: live within 2 s."""
    _check_url(body.url)
    row = found(await store.get(services.pool, offer_id, lander_id), "lander", lander_id)
    if row["status"] == "archived":
        raise ApiProblem(409, "archived", f"lander {lander_id} is archived", "status")
    updated = await store.update(services.pool, offer_id, lander_id,
                                 body.model_dump(exclude_unset=True))  # fmt: skip
    if updated is None:
        raise ApiProblem(409, "archived", f"lander {lander_id} is archived", "status")
    return show("Lander", who, updated)


@router.post("/{lander_id}/archive", response_model=Lander)
async def archive_lander(offer_id: IdPath, lander_id: IdPath, services: ServicesDep,
                         who: AdminWrite) -> Any:  # fmt: skip
    """Retire a lander: no visitor gets it within 2 s; its clicks keep its id."""
    row = await store.archive(services.pool, offer_id, lander_id)
    return show("Lander", who, found(row, "lander", lander_id))
