"""API models of traffic quality: click-level traffic rules and the traffic reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from schemas.types import TEXT, Id

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
        if v is None:
            raise ValueError("cannot be null; leave the field out to keep it")
        return v


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
