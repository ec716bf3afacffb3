"""API models of partner postback settings and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from schemas.types import Flag, Id, never_null

Event = Literal["created", "approved", "reversed"]
PostbackUrl = Annotated[
    str,
    Field(
        min_length=10,
        max_length=2048,
        description="http(s) URL on port 80/443; macros only in the path and query: {click_id} "
        "{sub1}..{sub10} {source} {p:NAME} {conversion_id} {txn_id} {goal} {payout} {currency} "
        "{status} {offer_id} {aff_id} {timestamp}",
        examples=["https://partner.example/pb?cid={sub1}&payout={payout}&status={status}"],
    ),
]


class PartnerPostbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    affiliate_id: Id
    offer_id: Id | None = Field(None, description="only for this offer; all offers when absent")
    goal: Annotated[str | None, Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = None
    url_template: PostbackUrl
    method: Literal["GET", "POST"] = "GET"
    events: Annotated[list[Event], Field(min_length=1, max_length=3)] = ["created"]
    sign_get: Flag = Field(False, description="append trk_id, trk_ts and trk_sig to GET URLs")


class PartnerPostbackPatch(BaseModel):
    """Pause or resume a setting, or change its target; fields left out stay."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"active": False}]},
    )

    active: Flag | SkipJsonSchema[None] = Field(None, description="false: nothing is queued")
    url_template: PostbackUrl | SkipJsonSchema[None] = None
    method: Literal["GET", "POST"] | SkipJsonSchema[None] = None
    events: Annotated[list[Event], Field(min_length=1, max_length=3)] | SkipJsonSchema[None] = None
    sign_get: Flag | SkipJsonSchema[None] = None

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, v: object) -> object:
        return never_null(v, " to keep it")


class PartnerPostback(BaseModel):
    id: int
    affiliate_id: int
    offer_id: int | None
    goal: str | None
    url_template: str
    method: str
    events: list[str]
    sign_get: bool
    active: bool
    created_at: datetime
    secret: str | None = Field(None, description="HMAC key for signatures; shown only at creation")


class TestRequest(BaseModel):
    """What the sender would send for a sample conversion (nothing is sent)."""

    allowed: bool
    refusal: str | None
    method: str
    url: str
    headers: dict[str, str]
    body: str | None


class Attempt(BaseModel):
    attempted_at: datetime
    address: str | None
    status_code: int | None
    latency_ms: float | None
    error: str | None
    response: str | None


class Delivery(BaseModel):
    id: UUID
    postback_id: int
    affiliate_id: int
    conversion_id: UUID
    event: str
    method: str
    url: str
    state: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime
    deliver_until: datetime
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempt_log: list[Attempt] = []


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[UUID], Field(max_length=10_000)] = []
    state: Literal["dead"] | None = Field(
        None, description="replay every dead delivery (of affiliate_id)"
    )
    affiliate_id: Id | None = None


class ReplayOut(BaseModel):
    replayed: int
