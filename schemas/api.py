"""Request and response models of the public API."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from schemas.conversions import Conversion
from schemas.events import ClickClass
from schemas.targeting import Targeting, TargetingIn
from schemas.types import TEXT, Count, Flag, Id, Instant, Money, WindowDays

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=TEXT)]
SubId = Annotated[str, Field(max_length=255, pattern=TEXT)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


IN_HOUSE = (
    "An in-house program (advertiser and network are one company): its keys also see what "
    "partners are paid (docs/visibility.md). Admins only set it."
)


class AdvertiserIn(_In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Shop Inc."}]})

    name: Name
    in_house: Flag = Field(False, description=IN_HOUSE)


class Advertiser(BaseModel):
    id: int
    name: str
    status: str = Field("active", description="active, paused or archived")
    created_at: datetime
    updated_at: datetime | None = None
    in_house: bool | None = Field(None, description=IN_HOUSE + " Null for partner keys.")
    postback_token: str | None = Field(
        None,
        description="Token merchants put in postbacks; shown to admin keys with the write "
        "scope only.",
    )


class AffiliateIn(_In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Coupon Site"}]})

    name: Name


class Affiliate(BaseModel):
    id: int
    name: str
    status: str = Field("active", description="active, paused or archived")
    created_at: datetime
    updated_at: datetime | None = None


# The form of an admin-set destination: the host before any macro, no userinfo, no control
# character or backslash (tracker/domain/landing_urls.PATTERN; the API also parses the URL
# as a browser does, macros filled in, and refuses it when the host could change).
URL_PATTERN = r"^https?://[^/?#{}@\\\x00-\x1f\x7f]+([/?#][^\\\x00-\x1f\x7f]*)?$"


_HOST = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
Domain = Annotated[
    str, Field(pattern=_HOST, description="a host name in lower case (IDN as punycode)")
]
UrlTemplate = Annotated[
    str,
    Field(
        min_length=8,
        max_length=2048,
        pattern=URL_PATTERN,
        description="http(s) URL; macros {click_id} {aff_id} {offer_id} {link_code} {sub1}..{sub10} "
        "{source} {country} {device} {timestamp} {p:NAME} are filled in, percent-encoded, and "
        "may stand only in the path, query and fragment; no userinfo, control characters or "
        "backslashes; the host must be valid as a browser parses it.",
        examples=["https://shop.example/landing?cid={click_id}&s1={sub1}"],
    ),
]


class _OfferFields(_In):
    """Settings of an offer that the redirect applies."""

    fallback_url: UrlTemplate | None = Field(
        None, description="Where visitors go while the offer is paused, expired or capped."
    )
    deep_links: Flag = Field(False, description="Allow `url=` deep links to the domains below.")
    deep_link_domains: Annotated[list[Domain], Field(max_length=100)] = Field(
        default_factory=list, description="Hosts a deep link may go to (exact or subdomain)."
    )
    expires_at: Instant | None = None
    daily_click_cap: Count | None = None
    total_click_cap: Id | None = None
    cookieless: Flag = Field(False, description="Set no click-id cookie on the visitor.")
    pass_params: Flag = Field(
        False, description="Append the visitor's custom parameters (not trk_*) to the landing URL."
    )
    attribution_window_days: WindowDays = 30
    targeting: TargetingIn | SkipJsonSchema[None] = Field(
        None, description="who the offer takes (issue 20); absent: every visitor"
    )

    @field_validator("deep_link_domains", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        if isinstance(v, list):
            return [d.strip().lower().rstrip(".") if isinstance(d, str) else d for d in v]
        return v


class OfferIn(_OfferFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "advertiser_id": 1,
                    "name": "Summer sale",
                    "landing_url": "https://shop.example/landing?cid={click_id}&s1={sub1}",
                    "default_payout": "2.50",
                    "default_revenue": "4.00",
                    "deep_links": True,
                    "deep_link_domains": ["shop.example"],
                    "daily_click_cap": 10000,
                }
            ]
        }
    )

    advertiser_id: Id
    name: Name
    landing_url: UrlTemplate
    status: Literal["active", "paused"] = "active"
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    default_payout: Money = Decimal("0")
    default_revenue: Money = Decimal("0")


class OfferPatch(_In):
    """Change some settings of an offer; fields left out stay as they are."""

    # SkipJsonSchema[None]: may be left out, but null is not a value (the column has one).
    name: Name | SkipJsonSchema[None] = None
    landing_url: UrlTemplate | SkipJsonSchema[None] = None
    status: Literal["active", "paused"] | SkipJsonSchema[None] = Field(
        None, description="use POST /offers/{id}/archive to retire an offer"
    )
    fallback_url: UrlTemplate | None = None
    deep_links: Flag | SkipJsonSchema[None] = None
    deep_link_domains: Annotated[list[Domain], Field(max_length=100)] | SkipJsonSchema[None] = None
    expires_at: Instant | None = None
    daily_click_cap: Count | None = None
    total_click_cap: Id | None = None
    cookieless: Flag | SkipJsonSchema[None] = None
    pass_params: Flag | SkipJsonSchema[None] = None
    attribution_window_days: WindowDays | SkipJsonSchema[None] = None
    targeting: TargetingIn | None = Field(
        None, description="who the offer takes (issue 20); null: every visitor. Every "
        "redirect applies a change within `link_refresh_s`.",
    )  # fmt: skip
    # Money terms (docs/adr/0081): from ``money_from`` on (default now, never in the past);
    # conversions before it keep their price, and amendments of them are priced as before.
    default_payout: Money | SkipJsonSchema[None] = None
    default_revenue: Money | SkipJsonSchema[None] = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | SkipJsonSchema[None] = None
    money_from: Instant | SkipJsonSchema[None] = Field(
        None, description="when new default_payout/default_revenue/currency apply (default: "
        "now; not in the past; after any change already scheduled)"
    )  # fmt: skip

    @field_validator("deep_link_domains", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return _OfferFields._lower(v)


class Offer(BaseModel):
    id: int
    advertiser_id: int
    name: str
    landing_url: str | None = Field(description="null for partner keys (docs/visibility.md)")
    status: str
    currency: str
    default_payout: Decimal | None = Field(
        description="null for advertiser keys unless the advertiser is in-house"
    )
    default_revenue: Decimal | None = Field(description="null for partner keys")
    fallback_url: str | None = Field(None, description="null for partner keys")
    deep_links: bool = False
    deep_link_domains: list[str] = []
    expires_at: datetime | None = None
    daily_click_cap: int | None = Field(None, description="null for partner keys")
    total_click_cap: int | None = Field(None, description="null for partner keys")
    cookieless: bool = False
    pass_params: bool = False
    attribution_window_days: int = 30
    targeting: Targeting | None = Field(None, description="who the offer takes; null: everyone")
    created_at: datetime
    updated_at: datetime | None = None

    @field_validator("targeting", mode="before")
    @classmethod
    def _stored(cls, v: object) -> object:
        return json.loads(v) if isinstance(v, str | bytes) else v  # jsonb read as text


class LinkIn(_In):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"offer_id": 1, "affiliate_id": 2, "sub1": "newsletter"}]}
    )

    offer_id: Id
    affiliate_id: Id
    code: Annotated[str | None, Field(None, pattern=r"^[A-Za-z0-9_-]{3,64}$")] = None
    sub1: SubId | None = None
    sub2: SubId | None = None
    sub3: SubId | None = None
    sub4: SubId | None = None
    sub5: SubId | None = None


class LinkPatch(_In):
    """Pause or resume a link, or change its default sub-ids; fields left out stay."""

    status: Literal["active", "paused"] | SkipJsonSchema[None] = Field(
        None, description="use POST /links/{id}/archive to retire a link"
    )
    sub1: SubId | None = None
    sub2: SubId | None = None
    sub3: SubId | None = None
    sub4: SubId | None = None
    sub5: SubId | None = None


class Link(BaseModel):
    id: int
    code: str
    url: str = Field(description="The full tracking URL to hand to the partner.")
    impression_url: str | None = Field(None, description="its impression pixel (same domain)")
    offer_id: int
    affiliate_id: int
    status: str = "active"
    sub1: str | None = None
    sub2: str | None = None
    sub3: str | None = None
    sub4: str | None = None
    sub5: str | None = None
    created_at: datetime
    updated_at: datetime | None = None


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
    sub6: str | None = None
    sub7: str | None = None
    sub8: str | None = None
    sub9: str | None = None
    sub10: str | None = None
    source: str | None = None
    params: dict[str, str] | None = Field(None, description="the click's custom parameters")
    country: str = Field("", description="ISO country code; '' when unknown")
    region: str = ""
    city: str = ""
    device: str = ""
    os: str = ""
    browser: str = ""
    ip_trunc: str | None = None
    user_agent: str | None = None
    referer: str | None = None
    referer_domain: str | None = Field(None, description="the referer's host, lower case")
    click_class: ClickClass
    is_unique: bool
    asn: int | None = Field(None, description="the network's AS number (TRACKER_ASN_DB)")
    asn_org: str = ""
    datacenter: bool = Field(False, description="from a hosting/cloud network")
    traffic_rule: str | None = Field(
        None, description="the traffic rule that blocked (click_class blocked) or flagged it; "
        "`targeting:<dimension>` or `route#<id>:<dimension>`: the visitor was not targeted",
    )  # fmt: skip
    route_id: int | None = Field(None, description="the smart link's route it took")
    lander_id: int | None = Field(None, description="the offer's lander it was shown")
    conversions: list[Conversion] = Field(
        default_factory=list, description="the conversions attributed to this click"
    )


class ApiError(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ApiError
    errors: list[ApiError] = []
