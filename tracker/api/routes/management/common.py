"""What every management route shares: opaque cursors, 404s, the fields a role may see."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query

from schemas.entities import Cursor
from tracker.api.errors import ApiProblem
from tracker.store.keys import Principal

Limit = Annotated[int, Query(ge=1, le=1000, description="items per page")]
CursorQ = Annotated[str | None, Query(max_length=200, description="`next_cursor` of the last page")]
UpdatedSince = Annotated[
    datetime | None,
    Query(description="only rows changed at or after this time (no offset: UTC)"),
]
_ = Cursor  # the documented shape of a cursor


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The id after which the next page starts; 422 for anything we did not hand out."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, _, value = raw.partition(":")
        if version != "v1" or not value.isdigit() or len(value) > 18:
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiProblem(422, "invalid", "not a cursor this API handed out", "cursor") from None


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
