"""What every management route shares: opaque cursors, 404s, the fields a role may see."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query

from schemas.types import MAX_ID, Instant
from tracker.api.errors import ApiProblem
from tracker.store.keys import Principal

Limit = Annotated[int, Query(ge=1, le=1000, description="items per page")]
# Opaque to callers: only a value handed out as next_cursor is meaningful.
CursorQ = Annotated[
    str | None,
    Query(pattern=r"^c[0-9a-f]{1,16}$", description="`next_cursor` of the previous page"),
]
UpdatedSince = Annotated[
    Instant | None,
    Query(description="only rows changed at or after this time (no offset: UTC)"),
]


def encode_cursor(last_id: int) -> str:
    return f"c{last_id:x}"


def decode_cursor(cursor: str | None) -> int:
    """The id after which the next page starts (the pattern of CursorQ is checked first)."""
    if not cursor:
        return 0
    return min(int(cursor[1:], 16), MAX_ID)  # past every id: an empty last page


def page_of(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    nxt = encode_cursor(items[-1]["id"]) if len(items) == limit else None
    return {"items": items, "next_cursor": nxt}


def utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def found(row: dict[str, Any] | None, what: str, ident: int) -> dict[str, Any]:
    if row is None:
        raise ApiProblem(404, "not_found", f"{what} {ident} not found", "id")
    return row


def not_archived(row: dict[str, Any], what: str) -> None:
    if row["status"] == "archived":
        raise ApiProblem(409, "archived", f"{what} {row['id']} is archived", "status")


def shown(who: Principal, what: str, row: dict[str, Any]) -> dict[str, Any]:
    """Drop what a tenant key must not see: tokens (admins only), revenue (never partners)."""
    if who.role != "admin" and what == "advertiser":
        row["postback_token"] = None
    if who.role == "affiliate" and what == "offer":
        row["default_revenue"] = 0
    return row
