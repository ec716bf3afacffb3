"""API models of management: list pages, patches, archive answers."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from schemas.api import IN_HOUSE, Name
from schemas.types import Flag, never_null

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list, oldest first; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page")


class TenantPatch(BaseModel):
    """Rename an advertiser or a partner, or pause / resume it; fields left out stay."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"name": "Shop Inc.", "status": "paused"}]},
    )

    name: Name | SkipJsonSchema[None] = None
    status: Literal["active", "paused"] | SkipJsonSchema[None] = Field(
        None, description="paused: its links stop taking clicks; use /archive to retire it"
    )

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, v: object) -> object:
        return never_null(v, " to keep it")


ListStatus = Literal["active", "paused", "archived"]


class AdvertiserPatch(TenantPatch):
    """Rename, pause / resume an advertiser, or mark it in-house; fields left out stay."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"in_house": True}]})

    in_house: Flag | SkipJsonSchema[None] = Field(None, description=IN_HOUSE)
