"""The rules that price conversions, set by admins: per-offer settings, goals, partner
overrides, tiers, caps; promo codes; currency rates; postback authentication."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter

from schemas.conversions import (
    Cap,
    CapIn,
    CapPatch,
    ConversionSettings,
    ConversionSettingsIn,
    Goal,
    GoalCode,
    GoalIn,
    Override,
    OverrideIn,
    PostbackAuth,
    PostbackAuthIn,
    PostbackSecret,
    PostbackSecretIn,
    PromoCode,
    PromoCodeIn,
    RateIn,
    RevenueRule,
    RevenueRuleIn,
    Tier,
    TierIn,
    ValidityPatch,
)
from schemas.money import ConversionSettingsPatch, RateSet
from tracker.api.deps import AdminRead, AdminWrite, IdPath, ServicesDep
from tracker.api.errors import ApiProblem
from tracker.api.routes.management.common import offer_or_404
from tracker.api.views import show
from tracker.domain.client_ip import networks
from tracker.store import conversion_changes as changes
from tracker.store import conversion_rules as rules
from tracker.store import entities, incoming_auth

router = APIRouter(prefix="/api/v1", tags=["conversion rules"])


async def _partner(services: ServicesDep, affiliate_id: int | None) -> None:
    if (
        affiliate_id is not None
        and await entities.get_affiliate(services.pool, affiliate_id) is None
    ):
        raise ApiProblem(
            422, "not_found", f"affiliate {affiliate_id} does not exist", "affiliate_id"
        )


@router.put("/offers/{offer_id}/conversion-settings", response_model=ConversionSettings)
async def put_settings(offer_id: IdPath, body: ConversionSettingsIn, services: ServicesDep,
                       _: AdminWrite) -> Any:  # fmt: skip
    """Replace every setting: one left out takes its default (``PATCH`` changes only those
    sent)."""
    await offer_or_404(services.pool, offer_id)
    _zone(body.timezone)
    return await rules.save_settings(services.pool, offer_id, body)


@router.patch("/offers/{offer_id}/conversion-settings", response_model=ConversionSettings)
async def patch_settings(offer_id: IdPath, body: ConversionSettingsPatch, services: ServicesDep,
                         _: AdminWrite) -> Any:  # fmt: skip
    """Change only the settings sent; the others keep their values (``PUT`` replaces all)."""
    await offer_or_404(services.pool, offer_id)
    try:
        changes = body.changes()
    except ValueError as exc:
        raise ApiProblem(422, "invalid", f"{exc} cannot be null", str(exc)) from None
    if "timezone" in changes:
        _zone(changes["timezone"])
    return await rules.patch_settings(services.pool, offer_id, changes)


def _zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiProblem(422, "invalid", f"unknown time zone {name!r}", "timezone") from None


@router.get("/offers/{offer_id}/conversion-settings", response_model=ConversionSettings)
async def get_settings(offer_id: IdPath, services: ServicesDep, _: AdminRead) -> Any:
    row = await rules.get_settings(services.pool, offer_id)
    if row is None:
        raise ApiProblem(404, "not_found", f"offer {offer_id} not found", "offer_id")
    return row


@router.put("/offers/{offer_id}/goals/{code}", response_model=Goal)
async def put_goal(offer_id: IdPath, code: GoalCode, body: GoalIn, services: ServicesDep,
                   who: AdminWrite) -> Any:  # fmt: skip
    """Create or replace a goal. New prices apply to conversions from now on; earlier ones
    keep theirs, and amendments of them are priced as before (docs/adr/0081)."""
    await offer_or_404(services.pool, offer_id)
    return await rules.save_goal(services.pool, offer_id, code, body, f"api:key{who.key_id}")


@router.post("/offers/{offer_id}/payout-overrides", status_code=201, response_model=Override)
async def post_override(offer_id: IdPath, body: OverrideIn, services: ServicesDep,
                        _: AdminWrite) -> Any:  # fmt: skip
    await offer_or_404(services.pool, offer_id)
    await _partner(services, body.affiliate_id)
    _validity(body.valid_from, body.valid_to)
    return await rules.add_override(services.pool, offer_id, body)


def _validity(valid_from: datetime | None, valid_to: datetime | None) -> None:
    if valid_from and valid_to and valid_from >= valid_to:
        raise ApiProblem(422, "invalid", "valid_from must be before valid_to", "valid_from")


@router.post("/offers/{offer_id}/payout-tiers", status_code=201, response_model=Tier)
async def post_tier(offer_id: IdPath, body: TierIn, services: ServicesDep, _: AdminWrite) -> Any:
    await offer_or_404(services.pool, offer_id)
    _validity(body.valid_from, body.valid_to)
    return await rules.add_tier(services.pool, offer_id, body)


@router.post("/offers/{offer_id}/caps", status_code=201, response_model=Cap)
async def post_cap(offer_id: IdPath, body: CapIn, services: ServicesDep, _: AdminWrite) -> Any:
    await offer_or_404(services.pool, offer_id)
    await _partner(services, body.affiliate_id)
    return await rules.add_cap(services.pool, offer_id, body)


@router.post("/promo-codes", status_code=201, response_model=PromoCode)
async def post_promo_code(body: PromoCodeIn, services: ServicesDep, _: AdminWrite) -> Any:
    await offer_or_404(services.pool, body.offer_id)
    await _partner(services, body.affiliate_id)
    return await rules.add_promo_code(services.pool, body)


async def _end(services: ServicesDep, what: str, offer_id: int | None, ident: int,
               body: ValidityPatch) -> Any:  # fmt: skip
    try:
        row = await rules.end_rule(services.pool, what, offer_id, ident, body.ends)
    except ValueError as exc:
        raise ApiProblem(422, "invalid", str(exc), "ends") from None
    if row is None:
        raise ApiProblem(404, "not_found", f"{what.replace('_', ' ')} {ident} not found", "id")
    return row


@router.patch("/offers/{offer_id}/payout-overrides/{override_id}", response_model=Override)
async def end_override(offer_id: IdPath, override_id: IdPath, body: ValidityPatch,
                       services: ServicesDep, _: AdminWrite) -> Any:  # fmt: skip
    """End a partner's payout override at ``ends`` (its ``valid_to``)."""
    return await _end(services, "override", offer_id, override_id, body)


@router.patch("/offers/{offer_id}/payout-tiers/{tier_id}", response_model=Tier)
async def end_tier(offer_id: IdPath, tier_id: IdPath, body: ValidityPatch, services: ServicesDep,
                   _: AdminWrite) -> Any:  # fmt: skip
    """End a payout tier at ``ends`` (its ``valid_to``); to change a tier, end it and add
    its successor from the same instant."""
    return await _end(services, "tier", offer_id, tier_id, body)


@router.post("/offers/{offer_id}/revenue-rules", status_code=201, response_model=RevenueRule)
async def post_revenue_rule(offer_id: IdPath, body: RevenueRuleIn, services: ServicesDep,
                            _: AdminWrite) -> Any:  # fmt: skip
    """What the advertiser pays from a date (scheduled ahead if need be): conversions at or
    after ``valid_from`` are priced with it, earlier ones keep what they were priced with."""
    await offer_or_404(services.pool, offer_id)
    await _partner(services, body.affiliate_id)
    _validity(body.valid_from, body.valid_to)
    return await rules.add_revenue_rule(services.pool, offer_id, body)


@router.patch("/offers/{offer_id}/revenue-rules/{rule_id}", response_model=RevenueRule)
async def end_revenue_rule(offer_id: IdPath, rule_id: IdPath, body: ValidityPatch,
                           services: ServicesDep, _: AdminWrite) -> Any:  # fmt: skip
    """End a revenue rule at ``ends`` (its ``valid_to``)."""
    return await _end(services, "revenue_rule", offer_id, rule_id, body)


def _cap(row: Any, cap_id: int) -> Any:
    if row is None:
        raise ApiProblem(404, "not_found", f"cap {cap_id} not found", "cap_id")
    return row


@router.patch("/offers/{offer_id}/caps/{cap_id}", response_model=Cap,
              responses={409: {"description": "the cap is archived"}})  # fmt: skip
async def change_cap(offer_id: IdPath, cap_id: IdPath, body: CapPatch, services: ServicesDep,
                     _: AdminWrite) -> Any:  # fmt: skip
    """Change a cap's limit, from the next conversion on (within the worker's rules cache)."""
    try:
        return _cap(await rules.change_cap(services.pool, offer_id, cap_id, body.limit), cap_id)
    except rules.Archived as exc:
        raise ApiProblem(409, "archived", str(exc), "cap_id") from None


@router.post("/offers/{offer_id}/caps/{cap_id}/archive", response_model=Cap)
async def archive_cap(offer_id: IdPath, cap_id: IdPath, services: ServicesDep,
                      _: AdminWrite) -> Any:  # fmt: skip
    """Stop applying a cap; it stays listed with ``archived_at``."""
    return _cap(await rules.archive_cap(services.pool, offer_id, cap_id), cap_id)


@router.patch("/promo-codes/{promo_code_id}", response_model=PromoCode)
async def end_promo_code(promo_code_id: IdPath, body: ValidityPatch, services: ServicesDep,
                         _: AdminWrite) -> Any:  # fmt: skip
    """End a promo code at ``ends`` (its ``ends_at``)."""
    return await _end(services, "promo_code", None, promo_code_id, body)


REPRICE_MAX = 10_000


@router.put("/currency-rates", response_model=RateSet)
async def put_rate(body: RateIn, services: ServicesDep, who: AdminWrite) -> Any:
    """Set a rate from ``valid_from`` on. Conversions held because no rate existed at their
    time (``held``, ``no_rate``) are then priced with it and screened like any conversion
    (caps taken, the merchant's status): ``repriced`` says how many."""
    row = await rules.set_rate(services.pool, body)
    row["repriced"] = await changes.reprice_no_rate(
        services.pool, row["base"].strip(), row["quote"].strip(), row["valid_from"],
        actor=f"api:key{who.key_id}", limit=REPRICE_MAX,
    )  # fmt: skip
    return row


async def _advertiser(services: ServicesDep, advertiser_id: int) -> None:
    if await entities.get_advertiser(services.pool, advertiser_id) is None:
        raise ApiProblem(404, "not_found", f"advertiser {advertiser_id} not found", "advertiser_id")


@router.put("/advertisers/{advertiser_id}/postback-auth", response_model=PostbackAuth)
async def put_postback_auth(advertiser_id: IdPath, body: PostbackAuthIn, services: ServicesDep,
                            _: AdminWrite) -> Any:  # fmt: skip
    """Replace the settings; the secret is kept when left out and never echoed."""
    await _advertiser(services, advertiser_id)
    try:
        networks(body.ip_allowlist)
    except ValueError as exc:
        raise ApiProblem(422, "invalid", str(exc), "ip_allowlist") from None
    if body.require_signature and body.hmac_secret is None:
        now = await incoming_auth.settings_of(services.pool, advertiser_id)
        if now is None or not now["has_secret"]:
            raise ApiProblem(422, "invalid", "require_signature needs a secret: send hmac_secret"
                             " or make one with POST .../postback-auth/secret first",
                             "require_signature")  # fmt: skip
    await incoming_auth.save(services.pool, advertiser_id, body.hmac_secret, body.require_signature,
                             body.ip_allowlist, body.allow_pixel, body.pixel_status,
                             services.settings.postback_secret_overlap_s)  # fmt: skip
    return await incoming_auth.settings_of(services.pool, advertiser_id)


@router.post("/advertisers/{advertiser_id}/postback-auth/secret", status_code=201,
             response_model=PostbackSecret)  # fmt: skip
async def rotate_postback_secret(advertiser_id: IdPath, services: ServicesDep, who: AdminWrite,
                                 body: PostbackSecretIn | None = None) -> Any:  # fmt: skip
    """A new HMAC secret for the advertiser's postbacks, shown in this answer only. The
    previous one stays valid for `overlap_s` (default `TRACKER_POSTBACK_SECRET_OVERLAP_S`,
    24 h), so the merchant can switch without losing conversions."""
    await _advertiser(services, advertiser_id)
    overlap = body.overlap_s if body and body.overlap_s is not None else None
    secret = secrets.token_urlsafe(32)
    until = await incoming_auth.rotate(services.pool, advertiser_id, secret,
                                       services.settings.postback_secret_overlap_s
                                       if overlap is None else overlap)  # fmt: skip
    return show("PostbackSecret", who, {"hmac_secret": secret, "previous_until": until},
                created=True)  # fmt: skip


@router.get("/advertisers/{advertiser_id}/postback-auth", response_model=PostbackAuth)
async def get_postback_auth(advertiser_id: IdPath, services: ServicesDep, _: AdminRead) -> Any:
    row = await incoming_auth.settings_of(services.pool, advertiser_id)
    if row is None:
        raise ApiProblem(404, "not_found", f"advertiser {advertiser_id} not found", "advertiser_id")
    return row
