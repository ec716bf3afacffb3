"""API models of traffic quality: click-level traffic rules and the traffic reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from schemas.types import MAX_ID, TEXT, Id, Instant, never_null

# An address or a network in CIDR notation (checked by the server's parser as well).
Cidr = Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$")]
BlockedValue = Annotated[str, Field(min_length=1, max_length=255, pattern=TEXT)]
AgentPart = Annotated[str, Field(min_length=3, max_length=255, pattern=TEXT)]
SubField = Literal[
    "sub1", "sub2", "sub3", "sub4", "sub5", "sub6", "sub7", "sub8", "sub9", "sub10", "source"
]
DatacenterAction = Literal["allow", "flag", "block"]
RuleName = Annotated[str, Field(max_length=200, pattern=TEXT)]
IpList = Annotated[list[Cidr], Field(max_length=1000)]
SubLists = Annotated[
    dict[SubField, Annotated[list[BlockedValue], Field(max_length=1000)]],
    Field(description="blocked values (case-insensitive) of each sub-id or source"),
]
AgentList = Annotated[
    list[AgentPart], Field(max_length=200, description="case-insensitive user-agent substrings")
]
_DATACENTER = "clicks from hosting/cloud networks (TRACKER_ASN_DB): allowed, flagged, or blocked"


class TrafficRuleIn(BaseModel):
    """A click-level rule set: for one offer, one partner, both, or (neither) every click."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [{"offer_id": 1, "datacenter": "block", "ip_blocklist": ["203.0.113.0/24"],
                          "sub_blocklist": {"sub1": ["spam-site"]}, "ua_blocklist": ["evilbot"]}]
        },
    )  # fmt: skip

    offer_id: Id | None = None
    affiliate_id: Id | None = None
    name: RuleName = ""
    datacenter: DatacenterAction = Field("allow", description=_DATACENTER)
    ip_blocklist: IpList = []
    sub_blocklist: SubLists = {}
    ua_blocklist: AgentList = []


class TrafficRulePatch(BaseModel):
    """Change a rule set; fields left out stay (its scope cannot change: archive it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: RuleName | SkipJsonSchema[None] = None
    datacenter: DatacenterAction | SkipJsonSchema[None] = Field(None, description=_DATACENTER)
    ip_blocklist: IpList | SkipJsonSchema[None] = None
    sub_blocklist: SubLists | SkipJsonSchema[None] = None
    ua_blocklist: AgentList | SkipJsonSchema[None] = None

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, v: object) -> object:
        return never_null(v, " to keep it")


class TrafficRule(BaseModel):
    id: int
    offer_id: int | None
    affiliate_id: int | None
    name: str
    datacenter: DatacenterAction
    ip_blocklist: list[str]
    sub_blocklist: dict[str, list[str]]
    ua_blocklist: list[str]
    archived_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


_RANGE = "without an offset it is read in `tz`"
IdParam = Annotated[int, Field(ge=1, le=MAX_ID)]  # a query parameter: text on the wire


class TrafficQuery(BaseModel):
    """Query parameters of ``GET /api/v1/reports/traffic``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    group_by: str = Field(
        "offer,partner,day", pattern=r"^(offer|partner|day)(,(offer|partner|day)){0,2}$",
        description="comma-separated: offer, partner, day (local to `tz`)",
    )  # fmt: skip
    date_from: Instant | None = Field(
        None, alias="from", description=f"start (inclusive; {_RANGE}); default: 7 days before `to`"
    )
    date_to: Instant | None = Field(
        None, alias="to", description="end (exclusive); default: the next whole hour"
    )
    tz: str = Field("UTC", max_length=64, description="IANA time zone", examples=["Asia/Kolkata"])
    offer_id: IdParam | None = None
    affiliate_id: IdParam | None = None
    limit: int = Field(1000, ge=1, le=100_000, description="at most this many rows")


class TrafficRow(BaseModel):
    offer_id: int | None = None
    affiliate_id: int | None = None
    day: str | None = Field(None, description="YYYY-MM-DD, local to `tz`")
    gross: int = Field(description="every click (not HEAD)")
    human: int = Field(description="paid clicks: the only ones that count for caps and CPC")
    unique: int = Field(description="a visitor's first human click on the offer in the window")
    bot: int = Field(description="crawlers, scripts, headless browsers")
    preview: int = Field(description="link unfurlers and previews")
    prefetch: int = Field(description="browser prefetch and prerender")
    blocked: int = Field(description="sent to the fallback by a traffic rule; never paid")
    datacenter: int = Field(description="clicks from hosting/cloud networks (any class)")
    flagged: int = Field(description="clicks a traffic rule flagged (still counted)")


class TrafficReport(BaseModel):
    group_by: list[str]
    tz: str
    date_from: datetime = Field(alias="from")
    date_to: datetime = Field(alias="to")
    rows: list[TrafficRow]
    totals: TrafficRow


class CtitQuery(BaseModel):
    """Query parameters of ``GET /api/v1/reports/ctit``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    group_by: str = Field(
        "offer,partner", pattern=r"^(offer|partner)(,(offer|partner))?$",
        description="comma-separated: offer, partner",
    )  # fmt: skip
    date_from: Instant | None = Field(
        None, alias="from", description="conversions from (inclusive); default: 30 days before `to`"
    )
    date_to: Instant | None = Field(
        None, alias="to", description="conversions until (exclusive); default: the next whole hour"
    )
    offer_id: IdParam | None = None
    affiliate_id: IdParam | None = None
    limit: int = Field(1000, ge=1, le=100_000, description="at most this many rows")


class CtitBucket(BaseModel):
    bucket: str = Field(description="e.g. `10s-30s`; `>30d` is the last")
    up_to_seconds: int | None = Field(description="exclusive upper bound; null for the last")
    conversions: int


class CtitRow(BaseModel):
    offer_id: int | None = None
    affiliate_id: int | None = None
    conversions: int = Field(description="conversions attributed to a click, any status")
    median_seconds: float | None
    buckets: list[CtitBucket]


class CtitReport(BaseModel):
    group_by: list[str]
    date_from: datetime = Field(alias="from")
    date_to: datetime = Field(alias="to")
    rows: list[CtitRow]
