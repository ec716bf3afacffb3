"""API models of conversions and of the rules that price them (issue 5)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from schemas.browser import Origin
from schemas.types import (
    TEXT,
    Count,
    Flag,
    Id,
    Instant,
    Money,
    OverlapSeconds,
    Percent,
    Rate,
    Seconds,
    WindowDays,
    never_null,
)

GoalCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
# held: the tracker holds it (a full cap, no currency rate): never counted (docs/adr/0080)
Status = Literal["pending", "approved", "held", "rejected", "reversed"]
MerchantStatus = Literal["pending", "approved", "rejected", "reversed"]
# The validity of a dated pricing rule (override, tier, revenue rule).
ValidFrom = Annotated[Instant | None, Field(description="applies from (inclusive); None: always")]
ValidTo = Annotated[Instant | None, Field(description="applies until (exclusive); None: no end")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PostbackAnswer(BaseModel):
    conversion_id: UUID
    status: str = Field(description="accepted (queued), or the stored status for a repeat")
    duplicate: bool = False


class ConversionSettingsIn(_In):
    attribution_window_days: WindowDays = 30
    attribution_model: Literal["last_click", "first_click"] = "last_click"
    coupon_wins: Flag = Field(False, description="a promo code beats a click id of another partner")
    timezone: Annotated[str, Field(max_length=64, pattern=TEXT)] = "UTC"
    cap_action: Literal["reject", "pending"] = "reject"
    fraud_mode: Literal["enforce", "shadow"] = "enforce"
    min_click_seconds: Seconds | None = None
    max_click_seconds: Seconds | None = None
    require_click: Flag = False
    duplicate_txn: Flag = False
    max_conversions_per_ip: Count | None = None
    max_clicks_per_sub_hour: Count | None = None
    cpc_basis: Literal["unique", "gross_human"] = "unique"
    cpc_payout: Money = Decimal(0)
    cpc_revenue: Money = Decimal(0)
    cpm_payout: Money = Decimal(0)
    cpm_revenue: Money = Decimal(0)
    pixel_min_amount: Money | None = Field(
        None, description="a pixel conversion with a smaller amount is refused at intake"
    )
    pixel_max_amount: Money | None = Field(
        None, description="a pixel conversion with a larger amount is refused at intake"
    )
    # Issue 18: conversions from the browser (the SDK), docs/adr/0095.
    browser_origins: list[Origin] = Field(
        [], max_length=50, description="sites whose pages may send browser conversions for this "
        "offer (CORS); none: the offer takes none",
    )  # fmt: skip
    browser_status: Literal["pending", "approved"] = Field(
        "pending", description="status of a browser conversion (a browser can forge one)"
    )
    browser_max_amount: Money = Field(
        Decimal(100_000), description="a browser conversion with a larger amount is refused"
    )

    @model_validator(mode="after")
    def _bounds(self) -> ConversionSettingsIn:
        lo, hi = self.pixel_min_amount, self.pixel_max_amount
        if lo is not None and hi is not None and lo > hi:
            raise ValueError("pixel_min_amount must not be above pixel_max_amount")
        return self


class ConversionSettings(ConversionSettingsIn):
    model_config = ConfigDict(extra="ignore")
    offer_id: int


class GoalIn(_In):
    name: Annotated[str, Field(max_length=200, pattern=TEXT)] = ""
    multiple: Flag = Field(False, description="may convert more than once per click")
    max_count: Count | None = Field(None, description="recurring: at most this many")
    max_months: Count | None = Field(None, description="recurring: months after the first")
    payout_flat: Money = Decimal(0)
    payout_percent: Percent = Decimal(0)
    revenue_flat: Money = Decimal(0)
    revenue_percent: Percent = Decimal(0)


class Goal(BaseModel):
    """A goal as read back: payouts null for advertiser keys (unless in-house), revenues
    null for partner keys (docs/visibility.md)."""

    offer_id: int
    code: str
    name: str
    multiple: bool
    max_count: int | None
    max_months: int | None
    payout_flat: Decimal | None
    payout_percent: Decimal | None
    revenue_flat: Decimal | None
    revenue_percent: Decimal | None


class OverrideIn(_In):
    affiliate_id: Id
    goal: GoalCode | None = None
    valid_from: ValidFrom = None
    valid_to: ValidTo = None
    payout_flat: Money = Decimal(0)
    payout_percent: Percent = Decimal(0)


class Override(OverrideIn):
    model_config = ConfigDict(extra="ignore")
    id: int
    offer_id: int


class RevenueRuleIn(_In):
    """What the advertiser pays for the offer's conversions while the rule is valid."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "revenue_flat": "12.50", "valid_from": "2026-12-01T00:00:00Z"}]})  # fmt: skip

    affiliate_id: Id | None = Field(None, description="None: every partner")
    goal: GoalCode | None = Field(None, description="None: every goal")
    valid_from: ValidFrom = None
    valid_to: ValidTo = None
    revenue_flat: Money = Decimal(0)
    revenue_percent: Percent = Decimal(0)


class RevenueRule(RevenueRuleIn):
    model_config = ConfigDict(extra="ignore")
    id: int
    offer_id: int


class ValidityPatch(_In):
    """End (or move) the validity of a rule; a rule is never deleted, so past
    conversions keep the terms they were priced with."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"ends": "2026-12-31T23:00:00Z"}]})

    ends: Instant = Field(description="the rule stops applying at this time (exclusive)")


class TierIn(_In):
    goal: GoalCode | None = None
    metric: Literal["conversions", "amount", "revenue"] = Field(
        "conversions", description="approved conversions, their sale amount, or their revenue"
    )
    threshold: Money = Field(
        description="approved conversions (or sale amount) this month, before this one"
    )
    payout_flat: Money = Decimal(0)
    payout_percent: Percent = Decimal(0)
    valid_from: ValidFrom = None
    valid_to: ValidTo = None


class Tier(TierIn):
    model_config = ConfigDict(extra="ignore")
    id: int
    offer_id: int


class CapIn(_In):
    affiliate_id: Id | None = Field(None, description="None: the whole offer")
    period: Literal["day", "month", "total"]
    metric: Literal["conversions", "payout"] = "conversions"
    limit: Money


class Cap(CapIn):
    model_config = ConfigDict(extra="ignore")
    id: int
    offer_id: int
    updated_at: datetime | None = Field(None, description="last change of the limit")
    archived_at: datetime | None = Field(None, description="set: the cap no longer applies")


class CapPatch(_In):
    """A new limit for the current and later periods; what the period has used so far
    counts against it (raising a full cap lets conversions through again, lowering it
    below the usage refuses the next ones)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"limit": "500"}]})

    limit: Money


class PromoCodeIn(_In):
    offer_id: Id
    affiliate_id: Id
    code: Annotated[str, Field(min_length=1, max_length=64, pattern=TEXT)]
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    payout_flat: Money | None = None
    payout_percent: Percent | None = None


class PromoCode(PromoCodeIn):
    model_config = ConfigDict(extra="ignore")
    id: int


class RateIn(_In):
    base: Currency
    quote: Currency
    rate: Rate
    valid_from: Instant | None = Field(None, description="default: now")


class PostbackAuthIn(_In):
    """How an advertiser's postbacks are authenticated. Replaces the settings, except the
    secret: left out, the secret there is stays; given, it replaces it and the previous one
    stays valid for `TRACKER_POSTBACK_SECRET_OVERLAP_S` (default 24 h). It is never read
    back: `POST .../postback-auth/secret` makes one and shows it once."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "require_signature": True, "ip_allowlist": ["203.0.113.0/24"]}]})  # fmt: skip

    hmac_secret: Annotated[str, Field(min_length=16, max_length=200, pattern=r"^[!-~]+$")] | (
        SkipJsonSchema[None]) = Field(None, description="printable ASCII, no spaces")  # fmt: skip
    require_signature: Flag = Field(
        False, description="only signed postbacks; the pixel is refused (it cannot be signed)"
    )
    ip_allowlist: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Fa-f.:/]+$")]],
        Field(max_length=100),
    ] = Field([], description="CIDR networks (or addresses) postbacks may come from; empty: any")
    allow_pixel: Flag = Field(False, description="accept the browser pixel `GET /pixel`")
    pixel_status: Literal["pending", "approved"] = Field(
        "pending", description="the status of a pixel conversion (the browser sets none)"
    )

    @field_validator("hmac_secret", mode="before")
    @classmethod
    def _not_null(cls, v: object) -> object:
        return never_null(v, " to keep the secret")


class PostbackAuth(BaseModel):
    """An advertiser's postback authentication as read back: the secret is never shown."""

    has_secret: bool = Field(description="an HMAC secret is set")
    previous_until: datetime | None = Field(
        None, description="the previous secret is valid until then (after a rotation)"
    )
    require_signature: bool
    ip_allowlist: list[str]
    allow_pixel: bool
    pixel_status: str


class PostbackSecretIn(_In):
    """Make a new secret; the current one stays valid for `overlap_s` (0: no longer)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"overlap_s": 3600}]})

    overlap_s: OverlapSeconds | SkipJsonSchema[None] = Field(
        None, description="default: TRACKER_POSTBACK_SECRET_OVERLAP_S (24 h)"
    )

    @field_validator("overlap_s", mode="before")
    @classmethod
    def _not_null(cls, v: object) -> object:
        return never_null(v, " for the default")


class PostbackSecret(BaseModel):
    """A new HMAC secret, shown this once (it is never read back)."""

    hmac_secret: str
    previous_until: datetime | None = Field(
        description="the previous secret is valid until then; null: there was none"
    )


class StatusIn(_In):
    """The merchant's status, set through the API (either way, unlike a postback); the
    tracker's gates still apply: a fraud or goal rule keeps it rejected, a full cap held."""

    status: MerchantStatus
    reason: Annotated[str | None, Field(max_length=200, pattern=TEXT)] = None


class HistoryEntry(BaseModel):
    from_status: str | None
    to_status: str
    reason: str | None = Field(description="partner keys see a code (docs/visibility.md)")
    actor: str = Field(
        description="postback, pixel, api:key<N> or the tracker; tenant keys see the kind only"
    )
    at: datetime
    amount: Decimal | None = Field(None, description="the amount after this change")
    payout: Decimal | None = Field(None, description="the payout after this change")
    revenue: Decimal | None = Field(None, description="the revenue after it (0 for partners)")


class Conversion(BaseModel):
    conversion_id: UUID
    advertiser_id: int
    goal: str
    txn_id: str
    click_id: UUID | None
    click_at: datetime | None
    offer_id: int | None
    affiliate_id: int | None
    method: str | None
    coupon: str | None
    status: Status
    status_reason: str | None = Field(
        description="why the status is what it is; partner keys see a code (docs/visibility.md)"
    )
    merchant_status: MerchantStatus | None = Field(
        None, description="what the merchant last said (status is the tracker's settlement)"
    )
    amount: Decimal
    currency: str
    amount_converted: Decimal | None
    offer_currency: str | None
    revenue: Decimal | None = Field(description="null for partner keys")
    payout: Decimal | None = Field(
        description="null for advertiser keys unless the advertiser is in-house"
    )
    adv_subs: list[str | None] | None = Field(None, description="null for partner keys")
    created_at: datetime
    decision: dict[str, Any] = Field(
        description="why it was attributed, priced and screened so; each role sees the parts "
        "docs/visibility.md gives it (Decision)"
    )
    history: list[HistoryEntry] = []


class ConversionPage(BaseModel):
    items: list[Conversion]
    next_after: UUID | None = None
