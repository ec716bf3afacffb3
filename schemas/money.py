"""API models of the money rules added by issue 17 (docs/adr/0080, 0081): partial settings
changes, dated price terms, currency rates with their re-pricing, admin overrides."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from schemas.conversions import RateIn
from schemas.types import TEXT, Count, Flag, Money, Seconds, WindowDays


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ConversionSettingsPatch(_In):
    """Change only the settings given; every other one stays as it is (``PUT`` replaces
    them all, defaults for those left out). ``null`` turns a limit off where the setting
    has one (min/max click seconds, per-IP and per-sub limits)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"cap_action": "pending"}]})

    attribution_window_days: WindowDays | SkipJsonSchema[None] = None
    attribution_model: Literal["last_click", "first_click"] | SkipJsonSchema[None] = None
    coupon_wins: Flag | SkipJsonSchema[None] = None
    timezone: Annotated[str, Field(max_length=64, pattern=TEXT)] | SkipJsonSchema[None] = None
    cap_action: Literal["reject", "pending"] | SkipJsonSchema[None] = None
    fraud_mode: Literal["enforce", "shadow"] | SkipJsonSchema[None] = None
    min_click_seconds: Seconds | None = None
    max_click_seconds: Seconds | None = None
    require_click: Flag | SkipJsonSchema[None] = None
    duplicate_txn: Flag | SkipJsonSchema[None] = None
    max_conversions_per_ip: Count | None = None
    max_clicks_per_sub_hour: Count | None = None
    cpc_basis: Literal["unique", "gross_human"] | SkipJsonSchema[None] = None
    cpc_payout: Money | SkipJsonSchema[None] = None
    cpc_revenue: Money | SkipJsonSchema[None] = None
    cpm_payout: Money | SkipJsonSchema[None] = None
    cpm_revenue: Money | SkipJsonSchema[None] = None

    def changes(self) -> dict[str, Any]:
        """The settings sent; a non-nullable one sent as null is a ValueError naming it."""
        out = self.model_dump(exclude_unset=True)
        nullable = {"min_click_seconds", "max_click_seconds", "max_conversions_per_ip",
                    "max_clicks_per_sub_hour"}  # fmt: skip
        for k, v in out.items():
            if v is None and k not in nullable:
                raise ValueError(k)
        return out


class RateSet(RateIn):
    """A rate as stored, and what it did: conversions held for want of it are priced."""

    model_config = ConfigDict(extra="ignore")
    repriced: int = Field(
        0, description="held no_rate conversions priced and screened by this call (at most "
        "10,000 a call: PUT the same rate again for more)"
    )  # fmt: skip


class PriceTerm(BaseModel):
    """Dated terms of an offer (``goal`` None: its default payout, revenue and currency) or
    of a goal (its prices), in force from ``valid_from`` until the next (docs/adr/0081)."""

    model_config = ConfigDict(extra="ignore")
    id: int
    offer_id: int
    goal: str | None = Field(None, description="None: the offer's defaults")
    valid_from: datetime | None = Field(None, description="None: since always")
    currency: str | None = Field(None, description="the offer's currency (defaults only)")
    payout_flat: Decimal
    payout_percent: Decimal
    revenue_flat: Decimal
    revenue_percent: Decimal
    actor: str
    created_at: datetime


class DecisionOverrideIn(_In):
    """An admin's decision over the tracker's (a fraud rule, a goal rule, a cap with room
    again): recorded with the key, the reason and the gate it overrides."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "approved", "reason": "checked the order"}]}
    )

    status: Literal["approved", "pending"]
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=TEXT)]
