"""Tracking domains (admins register them) and what a merchant puts on its site for an
offer, on the right domain (issue 18, docs/adr/0096)."""

from __future__ import annotations

import html
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Query, Response

from schemas.api import ErrorBody
from schemas.browser import OfferSdk
from schemas.domains import TlsCheck, TrackingDomain, TrackingDomainIn
from schemas.entities import Page
from schemas.types import TEXT
from tracker.api import sdk_script
from tracker.api.deps import AdminRead, AdminWrite, IdPath, IdQuery, Reader, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.api.routes.management.common import CursorQ, Limit, decode_cursor, found, page_of
from tracker.domain.hosts import host_name, on_domain, own_host, pick
from tracker.store import conversion_rules, listing
from tracker.store import tracking_domains as domains

router = APIRouter(tags=["tracking domains"])


@router.post("/api/v1/tracking-domains", status_code=201, response_model=TrackingDomain)
async def register(body: TrackingDomainIn, services: ServicesDep, _: AdminWrite) -> Any:
    """Register a hostname (its DNS points at the tracker). From the first one on, the
    tracker answers only its registered hostnames and its own (``TRACKER_PUBLIC_URL``),
    in every process within ``link_refresh_s``."""
    return await domains.create(services.pool, body)


@router.get("/api/v1/tracking-domains", response_model=Page[TrackingDomain])
async def list_domains(services: ServicesDep, _: AdminRead, advertiser_id: IdQuery = None,
                       affiliate_id: IdQuery = None, cursor: CursorQ = None,
                       limit: Limit = 100) -> Any:  # fmt: skip
    rows = await domains.page(services.pool, decode_cursor(cursor), limit, advertiser_id,
                              affiliate_id)  # fmt: skip
    return page_of(rows, limit)


@router.get("/api/v1/tracking-domains/{domain_id}", response_model=TrackingDomain)
async def get_domain(domain_id: IdPath, services: ServicesDep, _: AdminRead) -> Any:
    return found(await domains.get(services.pool, domain_id), "tracking domain", domain_id)


@router.delete("/api/v1/tracking-domains/{domain_id}", status_code=204, response_class=Response)
async def unregister(domain_id: IdPath, services: ServicesDep, _: AdminWrite) -> Response:
    """Stop answering on the hostname (within ``link_refresh_s``); links handed out on it
    stop working, so hand out new ones first."""
    if not await domains.delete(services.pool, domain_id):
        raise ApiProblem(404, "not_found", f"tracking domain {domain_id} not found", "id")
    return Response(status_code=204)


@router.get("/tls-check", response_model=TlsCheck, responses={404: {"model": ErrorBody}})
async def tls_check(domain: Annotated[str, Query(max_length=253, pattern=TEXT)],
                    services: ServicesDep) -> Any:  # fmt: skip
    """For a TLS front that gets certificates on demand (Caddy's ``on_demand_tls`` ``ask``):
    200 for a registered tracking domain or the tracker's own host, else 404, so that no
    certificate is requested for a name that merely points at the tracker. No key; answered
    on any Host."""
    name = host_name(domain.encode()).decode()
    if name == own_host(services.settings.base_url) or name in await domains.hostnames(
        services.pool
    ):
        return TlsCheck(hostname=name)
    raise ApiProblem(404, "not_found", f"{name[:100]} is not a tracking domain", "domain")


def click_param(landing_url: str) -> str:
    """The landing page's query parameter that carries ``{click_id}`` (click_id if none)."""
    for key, value in parse_qsl(urlsplit(landing_url).query, keep_blank_values=True):
        if value == "{click_id}":
            return key
    return "click_id"


@router.get("/api/v1/offers/{offer_id}/sdk", response_model=OfferSdk)
async def offer_sdk(offer_id: IdPath, services: ServicesDep, who: Reader) -> Any:
    """The SDK snippet, conversion URL and cookie pixel of an offer, on the advertiser's
    tracking domain (else the network's). For admins and the offer's advertiser."""
    if who.role == "affiliate":
        raise ApiProblem(403, "forbidden", "for the offer's advertiser and admins")
    offer = found(await listing.visible(services.pool, "offers", offer_id, who), "offer", offer_id)
    settings = await conversion_rules.get_settings(services.pool, offer_id)
    assert settings is not None
    adv = offer["advertiser_id"]
    host = pick(await domains.every(services.pool), adv)
    base = on_domain(services.settings.base_url, host)
    script = f"{base}{sdk_script.PATH}"
    param = click_param(offer["landing_url"])
    days = offer["attribution_window_days"]
    attrs = f' data-param="{html.escape(param)}"' if param != "click_id" else ""
    return OfferSdk(
        offer_id=offer_id, advertiser_id=adv, tracking_domain=host, script_url=script,
        snippet=f'<script src="{script}" data-offer="{offer_id}"{attrs} data-days="{days}" '
                "async></script>",
        conversion_url=f"{base}/sdk/offers/{offer_id}/conversions",
        pixel_url=f"{base}/pixel?advertiser_id={adv}&txn_id={{order_id}}&amount={{amount}}",
        click_param=param, attribution_window_days=days,
        browser_origins=settings.get("browser_origins", []),
    )  # fmt: skip
