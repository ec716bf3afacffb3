"""Lookups and reports, scoped to the caller's tenant."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from fastapi import APIRouter

from schemas.api import Click
from tracker.api.deps import Reader, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.api.routes.conversions import visible_to
from tracker.api.views import show
from tracker.domain.partner_render import network_param
from tracker.store import clicks
from tracker.store import conversions as conversion_store

router = APIRouter(prefix="/api/v1", tags=["reads"])


@router.get("/clicks/{click_id}", response_model=Click)
async def get_click(click_id: UUID, services: ServicesDep, who: Reader) -> Any:
    """A click with the conversions attributed to it (those the caller may see)."""
    row = await clicks.get_click(services.pool, click_id)
    visible = row is not None and (
        who.role == "admin"
        or (who.role == "affiliate" and row["affiliate_id"] == who.affiliate_id)
        or (
            who.role == "advertiser"
            and await services.pool.fetchval(
                "SELECT advertiser_id FROM offers WHERE id = $1", row["offer_id"]
            )
            == who.advertiser_id
        )
    )
    if not visible or row is None:
        raise ApiProblem(404, "not_found", f"click {click_id} not found", "click_id")
    row["ip_trunc"] = str(row["ip_trunc"]) if row["ip_trunc"] is not None else None
    # jsonb as text; the network's own trk_* parameters are never shown
    params = orjson.loads(row["params"]) if row["params"] else {}
    row["params"] = {k: v for k, v in params.items() if not network_param(k)} or None
    found = await conversion_store.of_click(services.pool, click_id)
    row["conversions"] = [c for c in found if visible_to(who, c)]
    return show("Click", who, row)
