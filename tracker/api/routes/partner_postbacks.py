"""Partner postback settings, test mode, deliveries and replay.

Admin keys see everything; an affiliate key manages only its own settings
and deliveries (another partner's id answers 404); advertiser keys are refused.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from schemas.entities import Page
from schemas.partner_postbacks import (
    Delivery,
    PartnerPostback,
    PartnerPostbackIn,
    PartnerPostbackPatch,
    ReplayIn,
    ReplayOut,
    TestRequest,
)
from tracker.api.deps import IdPath, IdQuery, Reader, ServicesDep, require
from tracker.api.errors import ApiProblem
from tracker.api.routes.management.common import (
    CursorQ,
    Limit,
    decode_cursor,
    instant_hex,
    instant_of_hex,
    page_of,
)
from tracker.api.views import show, show_all
from tracker.domain.partner_render import ConversionFacts, render
from tracker.domain.partner_signing import signed_request
from tracker.domain.ssrf import Refused, parse_target
from tracker.store import entities
from tracker.store import partner_postbacks as store
from tracker.store.keys import Principal

router = APIRouter(prefix="/api/v1", tags=["partner postbacks"])

Writer = Annotated[Principal, require("write")]


def _scope(who: Principal) -> int | None:
    """The affiliate a key is confined to (None: all, for admins)."""
    if who.role == "admin":
        return None
    if who.role == "affiliate" and who.affiliate_id is not None:
        return who.affiliate_id
    raise ApiProblem(403, "forbidden", "partner postbacks are managed by admins and partners")


def _check_template(url_template: str, allow_loopback: bool) -> None:
    head = url_template.split("?", 1)[0].split("#", 1)[0]
    authority = head.split("//", 1)[1].split("/", 1)[0] if "//" in head else ""
    if "{" in authority or "}" in authority:
        raise ApiProblem(
            422, "invalid", "macros are allowed only in the path and query", "url_template"
        )
    try:
        parse_target(url_template.replace("{", "").replace("}", ""), allow_loopback=allow_loopback)
    except Refused as exc:
        raise ApiProblem(422, "invalid", f"refused target: {exc}", "url_template") from None


def _visible(
    row: dict[str, Any] | None, scope: int | None, what: str, ident: object
) -> dict[str, Any]:
    if row is None or (scope is not None and row["affiliate_id"] != scope):
        raise ApiProblem(404, "not_found", f"{what} {ident} not found", "id")
    return row


@router.post("/partner-postbacks", status_code=201, response_model=PartnerPostback)
async def create(body: PartnerPostbackIn, services: ServicesDep, who: Writer) -> Any:
    scope = _scope(who)
    if scope is not None and body.affiliate_id != scope:
        raise ApiProblem(
            404, "not_found", f"affiliate {body.affiliate_id} not found", "affiliate_id"
        )
    _check_template(body.url_template, services.settings.postback_allow_loopback)
    if await entities.get_affiliate(services.pool, body.affiliate_id) is None:
        raise ApiProblem(
            422, "not_found", f"affiliate {body.affiliate_id} does not exist", "affiliate_id"
        )
    if body.offer_id is not None and await entities.get_offer(services.pool, body.offer_id) is None:
        raise ApiProblem(422, "not_found", f"offer {body.offer_id} does not exist", "offer_id")
    return show("PartnerPostback", who, await store.create(services.pool, body), created=True)


@router.get("/partner-postbacks", response_model=Page[PartnerPostback])
async def list_settings(services: ServicesDep, who: Reader, affiliate_id: IdQuery = None,
                        limit: Limit = 100, cursor: CursorQ = None) -> Any:  # fmt: skip
    """Oldest first; an affiliate key sees its own settings only."""
    scope = _scope(who)
    rows = await store.list_for(services.pool, scope if scope is not None else affiliate_id, limit,
                                decode_cursor(cursor))  # fmt: skip
    return page_of(show_all("PartnerPostback", who, rows), limit)


@router.get("/partner-postbacks/{postback_id}", response_model=PartnerPostback)
async def get_setting(postback_id: IdPath, services: ServicesDep, who: Reader) -> Any:
    row = _visible(
        await store.get(services.pool, postback_id), _scope(who), "partner postback", postback_id
    )
    return show("PartnerPostback", who, row)


@router.patch("/partner-postbacks/{postback_id}", response_model=PartnerPostback)
async def update_setting(postback_id: IdPath, body: PartnerPostbackPatch, services: ServicesDep,
                         who: Writer) -> Any:  # fmt: skip
    """Pause (`active: false`: nothing more is queued) or resume a setting, or change it."""
    _visible(await store.get(services.pool, postback_id), _scope(who), "partner postback",
             postback_id)  # fmt: skip
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "url_template" in changes:
        _check_template(changes["url_template"], services.settings.postback_allow_loopback)
    if "events" in changes:
        changes["events"] = list(dict.fromkeys(changes["events"]))
    row = await (store.update(services.pool, postback_id, changes) if changes
                 else store.get(services.pool, postback_id))  # fmt: skip
    return show("PartnerPostback", who, _visible(row, None, "partner postback", postback_id))


@router.post("/partner-postbacks/{postback_id}/test", response_model=TestRequest)
async def test_delivery(postback_id: IdPath, services: ServicesDep, who: Reader) -> Any:
    """The exact request the sender would make for a sample conversion; nothing is sent."""
    row = _visible(
        await store.get(services.pool, postback_id), _scope(who), "partner postback", postback_id
    )
    facts = ConversionFacts(
        conversion_id=str(uuid.UUID(int=0)), txn_id="TEST-TXN", goal=row["goal"] or "default",
        status="approved", payout=Decimal("1.23"), currency="USD", offer_id=row["offer_id"] or 0,
        aff_id=row["affiliate_id"], click_id=str(uuid.UUID(int=1)), created_at=datetime.now(UTC),
        subs=tuple(f"sub{i}-value" for i in range(1, 11)), source="test-source",
        params={"test": "1"},
    )  # fmt: skip
    url, body = render(row["url_template"], row["method"], facts)
    url, headers = signed_request(row["method"], url, body, row["secret"], row["sign_get"],
                                  "00000000-0000-4000-8000-000000000000", int(time.time()))  # fmt: skip
    refusal = None
    try:
        parse_target(url, allow_loopback=services.settings.postback_allow_loopback)
    except Refused as exc:
        refusal = str(exc)
    return TestRequest(allowed=refusal is None, refusal=refusal, method=row["method"], url=url,
                       headers=headers, body=body.decode() if body else None)  # fmt: skip


# A delivery page ends at (created_at, id) of its last row: microseconds in hex, then the id.
DeliveryCursor = Annotated[
    str | None,
    Query(
        pattern=r"^d[0-9a-f]{1,14}\.[0-9a-f]{32}$", description="`next_cursor` of the previous page"
    ),
]


@router.get("/deliveries", response_model=Page[Delivery])
async def list_deliveries(
    services: ServicesDep, who: Reader, state: str | None = Query(None, pattern="^(pending|delivered|dead)$"),
    affiliate_id: IdQuery = None, limit: Limit = 100, cursor: DeliveryCursor = None,
) -> Any:  # fmt: skip
    """Newest first; an affiliate key sees its own deliveries only."""
    scope = _scope(who)
    before = None
    if cursor:
        micros, ident = cursor[1:].split(".")
        before = (instant_of_hex(micros), UUID(ident))
    rows = await store.deliveries(
        services.pool, state, scope if scope is not None else affiliate_id, limit, before
    )
    nxt = None
    if len(rows) == limit:
        last = rows[-1]
        nxt = f"d{instant_hex(last['created_at'])}.{last['id'].hex}"
    return {"items": show_all("Delivery", who, rows), "next_cursor": nxt}


# ":uuid": /deliveries/replay is not read as a delivery id (405 with Allow: POST, not 422).
@router.get("/deliveries/{delivery_id:uuid}", response_model=Delivery)
async def get_delivery(delivery_id: UUID, services: ServicesDep, who: Reader) -> Any:
    row = await store.delivery(services.pool, delivery_id)
    return show("Delivery", who, _visible(row, _scope(who), "delivery", delivery_id))


@router.post("/deliveries/replay", response_model=ReplayOut)
async def replay(body: ReplayIn, services: ServicesDep, who: Writer) -> Any:
    if not body.ids and body.state is None:
        raise ApiProblem(422, "invalid", "give ids, or state=dead", "ids")
    n = await store.replay(
        services.pool, list(body.ids), body.affiliate_id, body.state == "dead",
        services.settings.postback_retry_window_s, _scope(who),
    )  # fmt: skip
    return ReplayOut(replayed=n)
