"""API models of conversions and of the rules that price them (issue 5)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from schemas.types import TEXT, Count, Flag, Id, Instant, Money, Percent, Rate, Seconds, WindowDays

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


class Goal(GoalIn):
    model_config = ConfigDict(extra="ignore")
    offer_id: int
    code: str


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
    hmac_secret: Annotated[str | None, Field(min_length=16, max_length=200, pattern=TEXT)] = None
    require_signature: Flag = False
    ip_allowlist: list[Annotated[str, Field(max_length=64, pattern=TEXT)]] = []
    allow_pixel: Flag = True


class PostbackAuth(BaseModel):
    """An advertiser's postback authentication as read back: the secret is never shown."""

    has_secret: bool = Field(description="an HMAC secret is set")
    require_signature: bool
    ip_allowlist: list[str]
    allow_pixel: bool


class StatusIn(_In):
    """The merchant's status, set through the API (either way, unlike a postback); the
    tracker's gates still apply: a fraud or goal rule keeps it rejected, a full cap held."""

    status: MerchantStatus
    reason: Annotated[str | None, Field(max_length=200, pattern=TEXT)] = None


class HistoryEntry(BaseModel):
    from_status: str | None
    to_status: str
    reason: str | None
    actor: str
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
    status_reason: str | None
    merchant_status: MerchantStatus | None = Field(
        None, description="what the merchant last said (status is the tracker's settlement)"
    )
    amount: Decimal
    currency: str
    amount_converted: Decimal | None
    offer_currency: str | None
    revenue: Decimal
    payout: Decimal
    adv_subs: list[str | None] | None = None
    created_at: datetime
    decision: dict[str, Any] = Field(description="why it was attributed, priced and screened so")
    history: list[HistoryEntry] = []


class ConversionPage(BaseModel):
    items: list[Conversion]
    next_after: UUID | None = None
