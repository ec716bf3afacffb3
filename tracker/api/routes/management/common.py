"""What every management route shares: opaque cursors, 404s, the fields a role may see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import asyncpg
from fastapi import Query

from schemas.types import MAX_ID, Instant
from tracker.api.errors import ApiProblem
from tracker.store import entities, listing
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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST = datetime(1, 1, 2, tzinfo=UTC)  # a cursor outside datetime's range is clamped into it
_LAST = datetime(9999, 12, 30, tzinfo=UTC)


def instant_hex(at: datetime) -> str:
    """An instant as a cursor part: signed microseconds since 1970, in hex."""
    micros = (at - _EPOCH) // timedelta(microseconds=1)
    return f"-{-micros:x}" if micros < 0 else f"{micros:x}"


def instant_of_hex(text: str) -> datetime:
    """The instant of ``instant_hex``; one outside datetime's range is clamped into it."""
    try:
        at = _EPOCH + timedelta(microseconds=int(text, 16))
    except OverflowError:
        return _FIRST if text.startswith("-") else _LAST
    return min(max(at, _FIRST), _LAST)


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


async def offer_or_404(pool: asyncpg.Pool, offer_id: int, who: Principal | None = None) -> None:
    """404 for an offer that does not exist or, given a tenant key, that it cannot see."""
    if who is None:
        found = await entities.get_offer(pool, offer_id) is not None
    else:
        found = await listing.visible(pool, "offers", offer_id, who) is not None
    if not found:
        raise ApiProblem(404, "not_found", f"offer {offer_id} not found", "offer_id")
