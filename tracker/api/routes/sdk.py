"""The first-party SDK and the conversions it sends (issue 18, docs/adr/0095).

``GET /sdk.js`` (short cache) and ``GET /sdk/{version}.js`` (immutable) serve the script.
``POST /sdk/offers/{offer_id}/conversions`` takes a conversion from a merchant's page:
only from the origins the offer lists (the CORS preflight fails for others, and a POST
without one stores nothing), checked, and queued on the conversion stream like a
postback (``via=browser``), so attribution, caps, fraud rules and partner postbacks are
the ones every conversion goes through. Every refusal is counted by its code.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError

from schemas.api import ErrorBody
from schemas.browser import BrowserConversionAnswer, BrowserConversionIn
from schemas.events import ConversionEvent
from tracker import metrics
from tracker.api import sdk_script
from tracker.api.deps import IdPath, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.api.json import JSON
from tracker.api.routes.incoming_postbacks import conversion_id, enqueue
from tracker.resources import Services
from tracker.store.browser_gate import OfferGate, click_offer, offer_gate

router = APIRouter(tags=["browser"])

MAX_BODY = 4096  # a conversion is a few hundred bytes
_MEDIA = "text/javascript; charset=utf-8"
_LONG = "public, max-age=31536000, immutable"
_SHORT = "public, max-age=300"
_SCRIPT_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/javascript": {"schema": {"type": "string"}}},
          "description": "the script (gzip when accepted)"},
    304: {"description": "not modified (If-None-Match)"},
}  # fmt: skip
_ERR = {"model": ErrorBody}


def _script(request: Request, cache: str) -> Response:
    headers = {"Cache-Control": cache, "ETag": sdk_script.ETAG, "Vary": "Accept-Encoding",
               "X-Content-Type-Options": "nosniff", "Access-Control-Allow-Origin": "*",
               "Cross-Origin-Resource-Policy": "cross-origin"}  # fmt: skip
    if request.headers.get("if-none-match") == sdk_script.ETAG:
        return Response(status_code=304, headers=headers)
    body = sdk_script.SOURCE
    if "gzip" in request.headers.get("accept-encoding", ""):
        body, headers["Content-Encoding"] = sdk_script.GZIPPED, "gzip"
    return Response(body, media_type=_MEDIA, headers=headers)


@router.get("/sdk.js", response_class=Response, responses=_SCRIPT_DOC)
async def sdk(request: Request) -> Response:
    """The SDK under its stable name, cached 5 minutes: an upgrade reaches every page soon."""
    return _script(request, _SHORT)


@router.get("/sdk/{version}.js", response_class=Response, responses=_SCRIPT_DOC)
async def sdk_versioned(
    request: Request, version: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")]
) -> Response:
    """The SDK at its versioned URL (the snippet the API hands out), cached for a year. An
    older version's URL gets the current script with the short cache: pages that still
    name it keep working."""
    return _script(request, _LONG if version == sdk_script.VERSION else _SHORT)


def _count(outcome: str) -> None:
    metrics.BROWSER_CONVERSIONS.labels(outcome).inc()


async def _gate(services: Services, offer_id: int) -> OfferGate:
    gate = await offer_gate(services.pool, offer_id, services.settings.conversion_rules_cache_s)
    if gate is None:
        _count("unknown_offer")
        raise ApiProblem(404, "not_found", f"offer {offer_id} not found", "offer_id")
    return gate


def _refuse_origin(origin: str) -> ApiProblem:
    shown = origin[:100] or "no Origin header"
    return ApiProblem(403, "origin_not_allowed",
                      f"{shown}: not a site of this offer (browser_origins)", "origin")  # fmt: skip


@router.options(
    "/sdk/offers/{offer_id}/conversions", status_code=204, response_class=Response,
    responses={204: {"description": "preflight passed: CORS headers for the origin"},
               403: _ERR, 404: _ERR},
)  # fmt: skip
async def preflight(offer_id: IdPath, request: Request, services: ServicesDep) -> Response:
    """CORS preflight: passes only for an origin in the offer's ``browser_origins``, for a
    POST with at most a ``Content-Type`` header."""
    gate = await _gate(services, offer_id)
    origin = request.headers.get("origin", "")
    method = request.headers.get("access-control-request-method", "")
    asked = request.headers.get("access-control-request-headers", "")
    extra = {h.strip().lower() for h in asked.split(",") if h.strip()} - {"content-type"}
    if origin not in gate.origins or method != "POST" or extra:
        _count("preflight_refused")
        raise _refuse_origin(origin)
    return Response(status_code=204, headers={
        "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    })  # fmt: skip


_POST_DOC: dict[int | str, dict[str, Any]] = {
    202: {"model": BrowserConversionAnswer, "description": "queued"},
    200: {"model": BrowserConversionAnswer, "description": "a repeat: the stored one"},
    **{s: _ERR for s in (403, 404, 413, 415, 422, 503)},
}
_BODY_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": BrowserConversionIn.model_json_schema()}}}}  # fmt: skip


@router.post(
    "/sdk/offers/{offer_id}/conversions", status_code=202, responses=_POST_DOC,
    response_model=BrowserConversionAnswer, openapi_extra=_BODY_DOC,
)  # fmt: skip
async def browser_conversion(offer_id: IdPath, request: Request, services: ServicesDep) -> Any:
    """A conversion from a page of one of the offer's ``browser_origins`` (JSON, or the
    same as ``text/plain``). Stored with the offer's ``browser_status`` (pending by
    default); the order's postbacks share its id (advertiser, goal, ``order_id`` as
    ``txn_id``), so a merchant's postback later approves or rejects it."""
    gate = await _gate(services, offer_id)
    origin = request.headers.get("origin", "")
    if origin not in gate.origins:
        _count("origin_not_allowed")
        raise _refuse_origin(origin)  # no CORS headers: the page cannot read the answer
    cors = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    try:
        ev = await _event(request, services, gate, origin)
        return await _answer(services, ev, cors)
    except ApiProblem as exc:
        _count(exc.code)
        exc.headers = {**(exc.headers or {}), **cors}
        raise
    except ValidationError as exc:
        _count("invalid")
        errors = [{"code": "invalid", "message": e["msg"],
                   "field": ".".join(str(p) for p in e["loc"]) or None} for e in exc.errors()]  # fmt: skip
        return JSON({"error": errors[0], "errors": errors}, 422, headers=cors)


async def _read(request: Request) -> bytes:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/json", "text/plain"):
        raise ApiProblem(415, "unsupported_media_type",
                         "send JSON (application/json or text/plain)", "Content-Type")  # fmt: skip
    declared = request.headers.get("content-length", "0")
    too_large = ApiProblem(413, "too_large", f"request body over {MAX_BODY} bytes", "body")
    if not declared.isdigit() or int(declared) > MAX_BODY:
        raise too_large
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise too_large
    return body


async def _event(request: Request, services: Services, gate: OfferGate,
                 origin: str) -> ConversionEvent:  # fmt: skip
    try:
        data = orjson.loads(await _read(request))
    except orjson.JSONDecodeError:
        raise ApiProblem(422, "malformed_json", "the body is not JSON", "body") from None
    if not isinstance(data, dict):
        raise ApiProblem(422, "malformed_json", "the JSON body must be an object", "body")
    body = BrowserConversionIn.model_validate(data)
    if body.amount > gate.max_amount:
        raise ApiProblem(422, "amount_too_large",
                         f"amount over this offer's browser_max_amount ({gate.max_amount})",
                         "amount")  # fmt: skip
    if body.click_id is not None:
        state, click_offer_id = await click_offer(
            services.pool, body.click_id, gate.advertiser_id,
            services.settings.conversion_click_wait_s,
        )  # fmt: skip
        if state == "unknown":
            raise ApiProblem(422, "unknown_click", "no such click for this offer's advertiser",
                             "click_id")  # fmt: skip
        if click_offer_id is not None and click_offer_id != gate.offer_id:
            other = await _gate(services, click_offer_id)
            if origin not in other.origins:  # the conversion would go to that offer
                raise _refuse_origin(origin)
    return ConversionEvent(
        conversion_id=conversion_id(gate.advertiser_id, body.goal, body.order_id),
        ts=time.time(), advertiser_id=gate.advertiser_id, click_id=body.click_id,  # type: ignore[arg-type]
        goal=body.goal, txn_id=body.order_id, amount=str(body.amount),
        currency=body.currency or "XXX", currency_default=body.currency is None,
        status=gate.status, coupon=body.promo_code, via="browser", origin=origin,  # type: ignore[arg-type]
        user_agent=request.headers.get("user-agent", "")[:512] or None,
    )  # fmt: skip


async def _answer(services: Services, ev: ConversionEvent, cors: dict[str, str]) -> JSON:
    stored = await services.pool.fetchval(
        "SELECT status FROM conversions WHERE conversion_id = $1", ev.conversion_id
    )
    if stored is None and await enqueue(services, ev):
        _count("queued")
        body = BrowserConversionAnswer(id=ev.conversion_id, status="accepted")
        return JSON(body.model_dump(mode="json"), 202, headers=cors)
    _count("repeat")  # this order was stored, or queued a moment ago
    body = BrowserConversionAnswer(id=ev.conversion_id, status=stored or "accepted",
                                   duplicate=True)  # fmt: skip
    return JSON(body.model_dump(mode="json"), 200, headers=cors)
