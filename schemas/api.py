"""Request and response models of the public API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

Name = Annotated[str, Field(min_length=1, max_length=200)]
SubId = Annotated[str, Field(max_length=255)]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AdvertiserIn(_In):
    name: Name


class Advertiser(BaseModel):
    id: int
    name: str
    created_at: datetime
    postback_token: str | None = Field(
        None, description="Token merchants put in postbacks; shown to admins only."
    )


class AffiliateIn(_In):
    name: Name


class Affiliate(BaseModel):
    id: int
    name: str
    created_at: datetime


class OfferIn(_In):
    advertiser_id: int
    name: Name
    landing_url: Annotated[
        str,
        Field(
            min_length=8,
            max_length=2048,
            description="http(s) URL; macros {click_id} {aff_id} {offer_id} {sub1}..{sub5} are filled in.",
            examples=["https://shop.example/landing?cid={click_id}&s1={sub1}"],
        ),
    ]
    status: Literal["active", "paused"] = "active"
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    default_payout: Money = Decimal("0")
    default_revenue: Money = Decimal("0")

    @field_validator("landing_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        # The template must be an absolute http(s) URL once macros are blanked out.
        probe = v
        for token in ("{", "}"):
            probe = probe.replace(token, "")
        AnyHttpUrl(probe)
        if not (v.startswith("https://") or v.startswith("http://")):
            raise ValueError("landing_url must start with http:// or https://")
        return v


class Offer(BaseModel):
    id: int
    advertiser_id: int
    name: str
    landing_url: str
    status: str
    currency: str
    default_payout: Decimal
    default_revenue: Decimal
    created_at: datetime


class LinkIn(_In):
    offer_id: int
    affiliate_id: int
    code: Annotated[str | None, Field(None, pattern=r"^[A-Za-z0-9_-]{3,64}$")] = None
    sub1: SubId | None = None
    sub2: SubId | None = None
    sub3: SubId | None = None
    sub4: SubId | None = None
    sub5: SubId | None = None


class Link(BaseModel):
    id: int
    code: str
    url: str = Field(description="The full tracking URL to hand to the partner.")
    offer_id: int
    affiliate_id: int
    sub1: str | None = None
    sub2: str | None = None
    sub3: str | None = None
    sub4: str | None = None
    sub5: str | None = None
    created_at: datetime


class Click(BaseModel):
    click_id: UUID
    created_at: datetime
    link_id: int | None
    link_code: str | None
    offer_id: int
    affiliate_id: int
    sub1: str | None = None
    sub2: str | None = None
    sub3: str | None = None
    sub4: str | None = None
    sub5: str | None = None
    ip_trunc: str | None = None
    user_agent: str | None = None
    referer: str | None = None
    click_class: str
    is_unique: bool


GroupBy = Literal["affiliate", "offer", "day"]


class ReportRow(BaseModel):
    key: str | int = Field(description="affiliate id, offer id, or local date (YYYY-MM-DD)")
    gross_clicks: int
    unique_clicks: int
    human_clicks: int
    bot_clicks: int
    conversions: int
    revenue: Decimal
    payout: Decimal


class Report(BaseModel):
    group_by: GroupBy
    tz: str
    date_from: datetime = Field(alias="from")
    date_to: datetime = Field(alias="to")
    source: Literal["rollup", "raw"] = Field(
        description="rollup when the time zone's offset is whole hours, raw clicks otherwise"
    )
    rows: list[ReportRow]
    totals: ReportRow

    model_config = ConfigDict(populate_by_name=True)


class PostbackAccepted(BaseModel):
    conversion_id: UUID
    status: Literal["accepted"] = "accepted"


class ApiError(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ApiError
    errors: list[ApiError] = []
