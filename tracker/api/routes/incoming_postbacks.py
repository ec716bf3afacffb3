"""Postback intake: native, HasOffers, Voluum and Everflow dialects; the conversion pixel.

The postback is read (query string, form or JSON), authenticated and put on
the conversions stream; the ingest worker attributes and stores it. The
conversion id is derived from (advertiser, goal, transaction id): a repeat
answers 200 with the same id and queues nothing (a Redis key remembers the
last status queued for each id); a new status for the same id is queued as
a status change.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response

from schemas.conversions import PostbackAnswer
from schemas.events import ConversionEvent
from tracker import metrics, redis_keys
from tracker.api.deps import ServicesDep
from tracker.api.errors import ApiProblem
from tracker.api.incoming_auth import authenticate
from tracker.api.json import JSON
from tracker.api.postback_params import parameters
from tracker.domain.incoming_params import BadParam, Postback, parse
from tracker.logs import bind
from tracker.redis_client import away
from tracker.resources import Services
from tracker.store import conversions as conversion_store
from tracker.store import incoming_auth as postback_auth

router = APIRouter(tags=["postbacks"])

_NS = uuid.UUID("6f1b5c1e-3a52-4c53-9a43-0c4a3f7d2b10")
_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_SEEN_TTL_S = 7 * 86_400
# Queue only when the status differs from the last one queued for this conversion id.
_SEEN_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


def conversion_id(advertiser_id: int, goal: str, txn_id: str) -> uuid.UUID:
    return uuid.uuid5(_NS, f"{advertiser_id}\x00{goal}\x00{txn_id}")


async def _params(request: Request) -> tuple[dict[str, str], list[tuple[str, str]], bytes]:
    pairs = list(request.query_params.multi_items())
    params = dict(pairs)
    body = b""
    if request.method == "POST":
        body = await request.body()
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json" and body:
            try:  # numbers as Decimal: 19.99 stays 19.99, never a float on the way
                data = json.loads(body, parse_float=Decimal)
            except (ValueError, RecursionError):
                raise ApiProblem(422, "malformed_json", "the body is not JSON", "body") from None
            if not isinstance(data, dict):
                raise ApiProblem(422, "invalid", "the JSON body must be an object", "body")
            params.update({str(k): str(v) for k, v in data.items() if v is not None})
        elif ctype == "application/x-www-form-urlencoded":
            try:
                params.update(parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=100))
            except (UnicodeDecodeError, ValueError):
                raise ApiProblem(422, "invalid", "the form body cannot be read", "body") from None
    return params, pairs, body


def _read(params: dict[str, str], dialect: str) -> Postback:
    try:
        return parse(params, dialect)
    except BadParam as exc:
        raise ApiProblem(422, "invalid", exc.message, exc.field) from None


async def enqueue(services: Services, ev: ConversionEvent) -> bool:
    """True when queued, False for a repeat."""
    settings = services.settings
    keys = redis_keys.of(settings)
    seen = keys.postback_seen(ev.conversion_id)
    stream = keys.conversion_stream(ev.conversion_id)
    try:
        # the amount is part of what is remembered: a new one is an amendment, not a repeat
        what = f"{ev.status}:{ev.via}:{ev.amount if ev.amount_given else ''}:{ev.currency}"
        fresh = await services.redis.eval(_SEEN_LUA, 1, seen, what, _SEEN_TTL_S)  # type: ignore[misc]
        if not fresh:
            return False
        try:
            await services.redis.xadd(stream, {redis_keys.CONVERSION: ev.model_dump_json()})
        except Exception:
            await services.redis.delete(seen)  # not stored: a retry is not a duplicate
            raise
    except Exception as exc:
        if not away(exc):
            raise
        raise ApiProblem(503, "unavailable", "postback not stored, please retry",
                         headers={"Retry-After": "5"}) from None  # fmt: skip
    return True


def _event(adv: int, pb: Postback, click_id: uuid.UUID | None, via: str) -> ConversionEvent:
    assert pb.txn_id is not None
    return ConversionEvent(
        conversion_id=conversion_id(adv, pb.goal, pb.txn_id), ts=time.time(),  # type: ignore[arg-type]
        advertiser_id=adv, click_id=click_id, goal=pb.goal, txn_id=pb.txn_id,
        amount=str(pb.amount), amount_given=pb.amount_given, currency=pb.currency or "XXX",
        currency_default=pb.currency is None,
        status=pb.status, coupon=pb.coupon, adv_subs=pb.adv_subs, via=via,  # type: ignore[arg-type]
    )  # fmt: skip


async def _answer(services: Services, ev: ConversionEvent) -> JSON:
    click = str(ev.click_id) if ev.click_id else None
    with bind(conversion_id=str(ev.conversion_id), click_id=click):
        return await _answer_bound(services, ev)


async def _answer_bound(services: Services, ev: ConversionEvent) -> JSON:
    if await enqueue(services, ev):
        metrics.POSTBACKS.labels("queued").inc()
        body = PostbackAnswer(conversion_id=ev.conversion_id, status="accepted")
        return JSON(body.model_dump(mode="json"), 202)
    metrics.POSTBACKS.labels("repeat").inc()
    stored = await conversion_store.status_of(services.pool, ev.conversion_id)
    body = PostbackAnswer(
        conversion_id=ev.conversion_id, status=stored or "accepted", duplicate=True
    )
    return JSON(body.model_dump(mode="json"), 200)


async def _postback(request: Request, services: Services, dialect: str) -> JSON:
    params, pairs, body = await _params(request)
    pb = _read(params, dialect)
    auth = await authenticate(services, request, pb, pairs, body)
    return await _answer(services, _event(auth.advertiser_id, pb, pb.click_id, "postback"))


_DOC: dict[int | str, dict[str, Any]] = {
    202: {"model": PostbackAnswer},
    200: {"model": PostbackAnswer},
}
# The parameters each dialect reads, with the rules the parser enforces (the status words
# merchants may send among them): the postback routes read the request themselves.
_NATIVE: dict[str, Any] = {"status_code": 202, "responses": _DOC,
                           "openapi_extra": {"parameters": parameters("native")}}  # fmt: skip
_HASOFFERS: dict[str, Any] = {"status_code": 202, "responses": _DOC,
                              "openapi_extra": {"parameters": parameters("hasoffers")}}  # fmt: skip


@router.get("/postback", operation_id="postback_get", **_NATIVE)
@router.post("/postback", operation_id="postback_post", **_NATIVE)
async def postback(request: Request, services: ServicesDep) -> Any:
    """Native postback; also reads Voluum (`cid`, `payout`, `txid`, `et`) and Everflow
    (`transaction_id`, `amount`, `event_id`, `order_id`, `coupon_code`) names. A known
    `txn_id` with a new `amount` amends the conversion; a new `status` changes it (only
    forward); the same postback again is a repeat (200, nothing changes)."""
    return await _postback(request, services, "native")


@router.get("/aff_lsr", operation_id="hasoffers_get", **_HASOFFERS)
@router.post("/aff_lsr", operation_id="hasoffers_post", **_HASOFFERS)
async def hasoffers(request: Request, services: ServicesDep) -> Any:
    """HasOffers-style: `transaction_id` is the click id, `adv_sub` the order id."""
    return await _postback(request, services, "hasoffers")


@router.get("/aff_goal", operation_id="hasoffers_goal_get", **_HASOFFERS)
@router.post("/aff_goal", operation_id="hasoffers_goal_post", **_HASOFFERS)
async def hasoffers_goal(request: Request, services: ServicesDep) -> Any:
    return await _postback(request, services, "hasoffers")


_GIF_DOC = {200: {"description": "a 1x1 GIF, whatever was asked",
                  "content": {"image/gif": {"schema": {"type": "string", "format": "binary"}}}}}  # fmt: skip


@router.get("/pixel", response_class=Response, responses=_GIF_DOC)  # type: ignore[arg-type]
async def pixel(request: Request, services: ServicesDep) -> Response:
    """Browser pixel: the click id comes from the redirect's cookie. Always a 1x1 GIF.

    Off unless the advertiser's postback-auth allows it (and never when it requires
    signatures: a browser cannot sign); the conversion gets the advertiser's
    `pixel_status` (default `pending`); the click must be recorded already (or a promo
    code known), and the amount inside the offer's pixel bounds (conversion settings)."""
    gif = Response(_GIF, media_type="image/gif", headers={"Cache-Control": "no-store"})
    params = dict(request.query_params)
    for k in ("status", "click_id", "cid", "transaction_id", "token", "security_token"):
        params.pop(k, None)  # a browser sets no status, and the click comes from the cookie only
    raw = request.cookies.get(services.settings.click_cookie, "")
    if raw:
        params["click_id"] = raw.split(",")[-1].strip()
    try:
        pb = parse(params, "native")
    except BadParam:
        metrics.POSTBACKS_REFUSED.labels("pixel_invalid").inc()
        return gif
    if pb.advertiser_id is None or (pb.click_id is None and not pb.coupon):
        metrics.POSTBACKS_REFUSED.labels("pixel_no_click").inc()
        return gif
    auth = await postback_auth.by_id(
        services.pool, pb.advertiser_id, services.settings.postback_auth_cache_s
    )
    if auth is None or not auth.allow_pixel or auth.require_signature:
        metrics.POSTBACKS_REFUSED.labels("pixel_not_allowed").inc()
        return gif
    offer = await postback_auth.pixel_offer(services.pool, auth.advertiser_id, pb.click_id,
                                            pb.coupon)  # fmt: skip
    if offer is None:
        metrics.POSTBACKS_REFUSED.labels("pixel_no_click").inc()
        return gif
    if not _within(offer, pb.amount, pb.currency):
        metrics.POSTBACKS_REFUSED.labels("pixel_amount").inc()
        return gif
    pb = dataclasses.replace(pb, status=auth.pixel_status)
    await _answer(services, _event(auth.advertiser_id, pb, pb.click_id, "pixel"))
    return gif


def _within(offer: postback_auth.PixelOffer, amount: Decimal, currency: str | None) -> bool:
    """Inside the offer's pixel bounds (in the offer's currency; a pixel in another
    currency is refused when bounds are set)."""
    if offer.min_amount is None and offer.max_amount is None:
        return True
    if currency is not None and currency != offer.currency:
        return False
    if offer.min_amount is not None and amount < offer.min_amount:
        return False
    return offer.max_amount is None or amount <= offer.max_amount
