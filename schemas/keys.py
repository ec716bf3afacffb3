"""API models of API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.types import TEXT, Id, PerMinute

Scope = Literal["read", "write"]


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["admin", "advertiser", "affiliate"]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=2)] = ["read", "write"]
    advertiser_id: Id | None = None
    affiliate_id: Id | None = None
    label: Annotated[str | None, Field(max_length=200, pattern=TEXT)] = None
    rate_limit_per_min: PerMinute | None = None

    @model_validator(mode="after")
    def _tenant(self) -> KeyIn:
        if self.role == "advertiser" and (
            self.advertiser_id is None or self.affiliate_id is not None
        ):
            raise ValueError("an advertiser key needs advertiser_id (and no affiliate_id)")
        if self.role == "affiliate" and (
            self.affiliate_id is None or self.advertiser_id is not None
        ):
            raise ValueError("an affiliate key needs affiliate_id (and no advertiser_id)")
        if self.role == "admin" and (
            self.advertiser_id is not None or self.affiliate_id is not None
        ):
            raise ValueError("an admin key belongs to no tenant")
        return self


class Key(BaseModel):
    """Fields without a value are left out (an admin key has no advertiser_id)."""

    id: int
    prefix: str
    role: str
    scopes: list[str]
    advertiser_id: int | None = None
    affiliate_id: int | None = None
    label: str | None = None
    rate_limit_per_min: int | None = None
    created_at: datetime
    revoked_at: datetime | None = None


class NewKeyOut(Key):
    key: str = Field(description="The secret key: shown once, stored only as a hash.")


class KeyPage(BaseModel):
    items: list[Key]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page")
