"""API models of management: list pages, patches, archive answers."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.api import Name

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

    name: Name | None = None
    status: Literal["active", "paused"] | None = Field(
        None, description="paused: its links stop taking clicks; use /archive to retire it"
    )


ListStatus = Literal["active", "paused", "archived"]
