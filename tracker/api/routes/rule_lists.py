"""Reads of the rules that price conversions, one by id or in cursor pages with filters
(ADR 0066): an offer's goals, payout overrides, tiers, caps and promo codes; currency
rates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from schemas.conversions import (
    Cap,
    Goal,
    GoalCode,
    Override,
    PromoCode,
    RateIn,
    RevenueRule,
    Tier,
)
from schemas.entities import Page
from schemas.money import PriceTerm
from schemas.types import Instant
from tracker.api.deps import AdminRead, IdPath, IdQuery, Reader, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.api.routes.management.common import (
    CursorQ,
    Limit,
    decode_cursor,
    instant_hex,
    instant_of_hex,
    offer_or_404,
    page_of,
    utc,
)
from tracker.api.views import show, show_all
from tracker.store import rule_lists as store

router = APIRouter(prefix="/api/v1", tags=["conversion rules"])

ValidAt = Annotated[
    Instant | None,
    Query(description="only rules that apply at this instant (start inclusive, end exclusive)"),
]
GoalCursor = Annotated[
    str | None,
    Query(pattern=r"^g[A-Za-z0-9_.-]{1,64}$", description="`next_cursor` of the previous page"),
]
# A rate page ends at (base, quote, valid_from): the pair, then microseconds since 1970 in hex.
RateCursor = Annotated[
    str | None,
    Query(pattern=r"^r[A-Z]{6}-?[0-9a-f]{1,16}$", description="`next_cursor` of the previous page"),
]
CurrencyQ = Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")]


async def _page(services: ServicesDep, what: str, offer_id: int, limit: int, cursor: str | None,
                **filters: Any) -> dict[str, Any]:  # fmt: skip
    await offer_or_404(services.pool, offer_id)
    rows = await store.rules_page(services.pool, what, offer_id, after_id=decode_cursor(cursor),
                                  limit=limit, **filters)  # fmt: skip
    return page_of(rows, limit)


@router.get("/offers/{offer_id}/goals", response_model=Page[Goal])
async def list_goals(offer_id: IdPath, services: ServicesDep, who: Reader, limit: Limit = 100,
                     cursor: GoalCursor = None) -> Any:  # fmt: skip
    """By code. Admins, the offer's advertiser (payouts only when in-house), and partners
    with a link on it (without revenue)."""
    await offer_or_404(services.pool, offer_id, who)
    goals = await store.goals_page(services.pool, offer_id, after_code=(cursor or "g")[1:],
                                   limit=limit)  # fmt: skip
    nxt = f"g{goals[-1]['code']}" if len(goals) == limit else None
    return {"items": show_all("Goal", who, goals), "next_cursor": nxt}


@router.get("/offers/{offer_id}/goals/{code}", response_model=Goal)
async def get_goal(offer_id: IdPath, code: GoalCode, services: ServicesDep, who: Reader) -> Any:
    """As in the list (docs/visibility.md)."""
    await offer_or_404(services.pool, offer_id, who)
    goal = await store.goal(services.pool, offer_id, code)
    if goal is None:
        raise ApiProblem(404, "not_found", f"goal {code!r} of offer {offer_id} not found", "code")
    return show("Goal", who, goal)


async def _rule(services: ServicesDep, what: str, offer_id: int | None, ident: int) -> Any:
    row = await store.rule(services.pool, what, offer_id, ident)
    if row is None:
        raise ApiProblem(404, "not_found", f"{what.replace('_', ' ')[:-1]} {ident} not found", "id")
    return row


@router.get("/offers/{offer_id}/payout-overrides/{override_id}", response_model=Override)
async def get_override(offer_id: IdPath, override_id: IdPath, services: ServicesDep,
                       _: AdminRead) -> Any:  # fmt: skip
    return await _rule(services, "payout_overrides", offer_id, override_id)


@router.get("/offers/{offer_id}/payout-tiers/{tier_id}", response_model=Tier)
async def get_tier(offer_id: IdPath, tier_id: IdPath, services: ServicesDep,
                   _: AdminRead) -> Any:  # fmt: skip
    return await _rule(services, "payout_tiers", offer_id, tier_id)


@router.get("/offers/{offer_id}/revenue-rules/{rule_id}", response_model=RevenueRule)
async def get_revenue_rule(offer_id: IdPath, rule_id: IdPath, services: ServicesDep,
                           _: AdminRead) -> Any:  # fmt: skip
    return await _rule(services, "revenue_rules", offer_id, rule_id)


@router.get("/offers/{offer_id}/caps/{cap_id}", response_model=Cap)
async def get_cap(offer_id: IdPath, cap_id: IdPath, services: ServicesDep, _: AdminRead) -> Any:
    return await _rule(services, "caps", offer_id, cap_id)


@router.get("/promo-codes/{promo_code_id}", response_model=PromoCode)
async def get_promo_code(promo_code_id: IdPath, services: ServicesDep, _: AdminRead) -> Any:
    return await _rule(services, "promo_codes", None, promo_code_id)


@router.get("/offers/{offer_id}/payout-overrides", response_model=Page[Override])
async def list_overrides(offer_id: IdPath, services: ServicesDep, _: AdminRead,
                         affiliate_id: IdQuery = None, valid_at: ValidAt = None,
                         limit: Limit = 100, cursor: CursorQ = None) -> Any:  # fmt: skip
    """Oldest first, ended ones included (filter with `valid_at`)."""
    return await _page(services, "payout_overrides", offer_id, limit, cursor,
                       affiliate_id=affiliate_id, valid_at=utc(valid_at))  # fmt: skip


@router.get("/offers/{offer_id}/payout-tiers", response_model=Page[Tier])
async def list_tiers(offer_id: IdPath, services: ServicesDep, _: AdminRead,
                     valid_at: ValidAt = None, limit: Limit = 100,
                     cursor: CursorQ = None) -> Any:  # fmt: skip
    """Oldest first, ended ones included (filter with `valid_at`)."""
    return await _page(services, "payout_tiers", offer_id, limit, cursor,
                       valid_at=utc(valid_at))  # fmt: skip


@router.get("/offers/{offer_id}/revenue-rules", response_model=Page[RevenueRule])
async def list_revenue_rules(offer_id: IdPath, services: ServicesDep, _: AdminRead,
                             affiliate_id: IdQuery = None, valid_at: ValidAt = None,
                             limit: Limit = 100, cursor: CursorQ = None) -> Any:  # fmt: skip
    """Oldest first, ended ones included (filter with `valid_at`); `affiliate_id`: the
    rules for that partner only (not those for every partner)."""
    return await _page(services, "revenue_rules", offer_id, limit, cursor,
                       affiliate_id=affiliate_id, valid_at=utc(valid_at))  # fmt: skip


@router.get("/offers/{offer_id}/caps", response_model=Page[Cap])
async def list_caps(offer_id: IdPath, services: ServicesDep, _: AdminRead,
                    affiliate_id: IdQuery = None, archived: bool | None = None,
                    limit: Limit = 100, cursor: CursorQ = None) -> Any:  # fmt: skip
    """Oldest first; `archived=false`: the caps that still apply."""
    return await _page(services, "caps", offer_id, limit, cursor, affiliate_id=affiliate_id,
                       archived=archived)  # fmt: skip


@router.get("/offers/{offer_id}/promo-codes", response_model=Page[PromoCode])
async def list_promo_codes(offer_id: IdPath, services: ServicesDep, _: AdminRead,
                           affiliate_id: IdQuery = None,
                           code: str | None = Query(None, pattern=r"^[^\x00]{1,64}$",
                                                    description="case-insensitive"),
                           valid_at: ValidAt = None, limit: Limit = 100,
                           cursor: CursorQ = None) -> Any:  # fmt: skip
    """Oldest first, ended ones included (filter with `valid_at`)."""
    return await _page(services, "promo_codes", offer_id, limit, cursor,
                       affiliate_id=affiliate_id, code=code, valid_at=utc(valid_at))  # fmt: skip


def _rate_after(cursor: str | None) -> tuple[str, str, datetime] | None:
    return (cursor[1:4], cursor[4:7], instant_of_hex(cursor[7:])) if cursor else None


@router.get("/currency-rates", response_model=Page[RateIn])
async def list_rates(services: ServicesDep, _: AdminRead, base: CurrencyQ = None,
                     quote: CurrencyQ = None, limit: Limit = 100,
                     cursor: RateCursor = None) -> Any:  # fmt: skip
    """By base, quote, then `valid_from` (each rate applies from then until the next)."""
    rows = await store.rates_page(services.pool, after=_rate_after(cursor), limit=limit,
                                  base=base, quote=quote)  # fmt: skip
    nxt = None
    if len(rows) == limit:
        last = rows[-1]
        nxt = f"r{last['base']}{last['quote']}{instant_hex(last['valid_from'])}"
    return {"items": rows, "next_cursor": nxt}


@router.get("/offers/{offer_id}/price-terms", response_model=Page[PriceTerm])
async def list_price_terms(offer_id: IdPath, services: ServicesDep, _: AdminRead,
                           limit: Limit = 100, cursor: CursorQ = None) -> Any:  # fmt: skip
    """The offer's dated money terms (defaults and goal prices), oldest first: every change
    of ``default_payout``/``default_revenue``/``currency`` (``PATCH /offers/{id}``) and of a
    goal's prices, with who made it."""
    return await _page(services, "price_terms", offer_id, limit, cursor)
