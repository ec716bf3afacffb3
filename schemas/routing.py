"""API models of issue 20: landers, smart links and the split-test report of an offer's
landers (docs/adr/0110); targeting is in schemas.targeting."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from schemas.targeting import Targeting, TargetingIn
from schemas.types import MAX_ID, TEXT, WHOLE, Count, Id, Instant, never_null

# Limits the API states and enforces (docs/adr/0110).
MAX_ROUTES = 20  # routes of one smart link that are not archived
MAX_LANDERS = 20  # landers of one offer that are not archived
MAX_NESTING = 3  # smart links in a chain (a route may name another smart link)
Weight = Annotated[
    int, Field(ge=1, le=1_000_000, description="share among equals: weight / sum"), WHOLE
]
Priority = Annotated[int, Field(ge=1, le=1000, description="1 first; equal priorities share "
                                "by weight"), WHOLE]  # fmt: skip
StickyHours = Annotated[int, Field(ge=0, le=720, description="a visitor (address + agent) keeps "
                                   "its route and lander this long; 0: chosen at every click"), WHOLE]  # fmt: skip
RouteState = Literal["active", "paused"]


# -- landers ---------------------------------------------------------------------------
_URL = (
    "http(s) URL with the landing URL's macros (see the offer's `landing_url`), checked as "
    "a browser reads it"
)
Url = Annotated[str, Field(min_length=8, max_length=2048, description=_URL,
                           pattern=r"^https?://[^/?#{}@\\\x00-\x1f\x7f]+([/?#][^\\\x00-\x1f\x7f]*)?$",
                           examples=["https://shop.example/b?cid={click_id}"])]  # fmt: skip
Name = Annotated[str, Field(max_length=200, pattern=TEXT)]


class LanderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={
        "examples": [{"name": "B: short form", "url": "https://shop.example/b?cid={click_id}",
                      "weight": 50}]})  # fmt: skip

    name: Name = ""
    url: Url
    weight: Weight = 100
    status: RouteState = "active"


class LanderPatch(BaseModel):
    """Change a lander live (weight, pause); fields left out stay."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name | SkipJsonSchema[None] = None
    url: Url | SkipJsonSchema[None] = None
    weight: Weight | SkipJsonSchema[None] = None
    status: RouteState | SkipJsonSchema[None] = Field(
        None, description="paused: no visitor gets it; use .../archive to retire it"
    )

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, v: object) -> object:
        return never_null(v)


class Lander(BaseModel):
    id: int
    offer_id: int
    name: str
    url: str
    weight: int
    status: str = Field(description="active, paused or archived")
    created_at: datetime
    updated_at: datetime


# -- smart links -----------------------------------------------------------------------
class RouteIn(BaseModel):
    """One route: an offer (or another smart link of the same partner), when it applies
    (targeting), its order (priority, then weight among equals) and its own click caps."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [{"required": ["offer_id"]}, {"required": ["smart_link_id"]}],
            "examples": [{"offer_id": 1, "priority": 1, "weight": 70,
                          "targeting": {"countries": {"allow": ["US"]}},
                          "daily_click_cap": 5000}],
        },
    )  # fmt: skip

    offer_id: Id | SkipJsonSchema[None] = None
    smart_link_id: Id | SkipJsonSchema[None] = Field(
        None, description=f"another smart link of the same partner (chains of at most "
        f"{MAX_NESTING}, no loops)",
    )  # fmt: skip
    priority: Priority = 1
    weight: Weight = 100
    targeting: TargetingIn | SkipJsonSchema[None] = None
    daily_click_cap: Count | SkipJsonSchema[None] = Field(
        None, description="human clicks a UTC day through this route"
    )
    total_click_cap: Id | SkipJsonSchema[None] = None
    status: RouteState = "active"

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, v: object) -> object:
        return never_null(v)

    @model_validator(mode="after")
    def _target(self) -> RouteIn:
        if (self.offer_id is None) == (self.smart_link_id is None):
            raise ValueError("give either offer_id or smart_link_id")
        return self


class RoutePatch(BaseModel):
    """Change a route live; fields left out stay, null clears targeting and caps."""

    model_config = ConfigDict(extra="forbid")

    priority: Priority | SkipJsonSchema[None] = None
    weight: Weight | SkipJsonSchema[None] = None
    targeting: TargetingIn | None = None
    daily_click_cap: Count | None = None
    total_click_cap: Id | None = None
    status: RouteState | SkipJsonSchema[None] = Field(
        None, description="use .../archive to retire a route"
    )

    @field_validator("priority", "weight", "status", mode="before")
    @classmethod
    def _not_null(cls, v: object) -> object:
        return never_null(v)


class SmartLinkIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True,
        json_schema_extra={"examples": [{
            "affiliate_id": 2, "name": "US mobile sweeps",
            "fallback_url": "https://network.example/more-offers",
            "routes": [
                {"offer_id": 1, "priority": 1, "weight": 70,
                 "targeting": {"countries": {"allow": ["US"]}, "devices": {"allow": ["mobile"]}}},
                {"offer_id": 3, "priority": 1, "weight": 30},
                {"offer_id": 4, "priority": 2},
            ]}]},
    )  # fmt: skip

    affiliate_id: Id
    name: Name = ""
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{3,64}$")] | SkipJsonSchema[None] = None
    fallback_url: Url | None = Field(
        None, description="where a visitor goes when no route takes it (null or absent: "
        "TRACKER_FALLBACK_URL, else a 404 page)",
    )  # fmt: skip
    sticky_hours: StickyHours = 24
    routes: Annotated[list[RouteIn], Field(min_length=1, max_length=MAX_ROUTES)]

    @field_validator("code", mode="before")
    @classmethod
    def _not_null(cls, v: object) -> object:
        return never_null(v)


class SmartLinkPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name | SkipJsonSchema[None] = None
    status: RouteState | SkipJsonSchema[None] = Field(
        None, description="use .../archive to retire a smart link"
    )
    fallback_url: Url | None = None
    sticky_hours: StickyHours | SkipJsonSchema[None] = None

    @field_validator("name", "status", "sticky_hours", mode="before")
    @classmethod
    def _not_null(cls, v: object) -> object:
        return never_null(v)


class SmartRoute(BaseModel):
    id: int
    link_id: int = Field(description="the smart link the route belongs to")
    offer_id: int | None
    smart_link_id: int | None = Field(description="the smart link it leads to, if not an offer")
    priority: int
    weight: int
    targeting: Targeting | None = None
    daily_click_cap: int | None = Field(None, description="null for partner keys")
    total_click_cap: int | None = Field(None, description="null for partner keys")
    status: str = Field(description="active, paused or archived")
    created_at: datetime
    updated_at: datetime


class SmartLink(BaseModel):
    id: int
    code: str
    url: str = Field(description="the tracking URL to hand to the partner")
    affiliate_id: int
    name: str
    status: str
    fallback_url: str | None = Field(None, description="null for partner keys")
    sticky_hours: int
    routes: list[SmartRoute] = Field(description="every route, archived ones last")
    created_at: datetime
    updated_at: datetime


# -- the split-test report ---------------------------------------------------------------
IdParam = Annotated[int, Field(ge=1, le=MAX_ID)]


class LanderReportQuery(BaseModel):
    """Query parameters of ``GET /api/v1/reports/landers``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    offer_id: IdParam
    date_from: Instant | None = Field(
        None, alias="from", description="clicks from (inclusive); default: 30 days before `to`"
    )
    date_to: Instant | None = Field(
        None, alias="to", description="clicks until (exclusive); default: the next whole hour"
    )
    control: IdParam | None = Field(
        None, description="the lander the others are compared with; default: the lander with "
        "the most clicks",
    )  # fmt: skip


class LanderRow(BaseModel):
    lander_id: int | None = Field(description="null: the offer's own landing URL")
    name: str | None = Field(None, description="null for partner keys")
    status: str | None = Field(description="active, paused, archived; null for the landing URL")
    weight: int | None
    clicks: int = Field(description="human clicks that were shown this lander")
    conversions: int = Field(description="of those clicks, in a counted status (pending, "
                             "approved)")  # fmt: skip
    cr: Decimal | None = Field(description="conversions per 100 clicks, 4 decimals")
    epc: Decimal | None = Field(description="conversion payout per click, 4 decimals; null for "
                                "advertiser keys unless in-house")  # fmt: skip
    control: bool = Field(description="the row the others are compared with")
    z: Decimal | None = Field(description="two-proportion z statistic of CR against the "
                              "control's (positive: better), 4 decimals")  # fmt: skip
    p_value: Decimal | None = Field(description="two-sided, 4 decimals")
    confidence: Decimal | None = Field(description="1 − p_value: how sure the CR differs from "
                                       "the control's")  # fmt: skip


class LanderReport(BaseModel):
    offer_id: int
    date_from: datetime = Field(alias="from")
    date_to: datetime = Field(alias="to")
    control: int | None = Field(description="lander id of the control row (null: the landing URL)")
    rows: list[LanderRow]

    model_config = ConfigDict(populate_by_name=True)
