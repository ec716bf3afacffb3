"""Wire format of the entries on the Redis streams.

A click stream entry packs many clicks: its fields are ``v`` (format version)
and ``clicks`` (a JSON array of click objects). Packing is what lets the
consumer reach COPY speed (one entry per click caps it near 22k rows/s).
The redirect builds the dicts by hand (no model on the hot path); the worker
validates them with :data:`CLICK_LIST` and isolates the bad ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

WIRE_VERSION = "1"

ClickClass = Literal["human", "bot", "preview", "head", "prefetch"]

Str255 = Annotated[str, Field(max_length=2048)]


class ClickEvent(BaseModel):
    """One click as the redirect saw it. Enrichment happens in the worker."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    click_id: UUID
    ts: datetime  # UTC, with offset
    link_id: int
    link_code: Annotated[str, Field(max_length=64)]
    offer_id: int
    aff_id: int
    subs: Annotated[list[str | None], Field(max_length=10)] = []
    ip: Annotated[str, Field(max_length=64)] = ""
    ua: Str255 = ""
    referer: Str255 = ""
    cls: ClickClass = "human"


CLICK_LIST: TypeAdapter[list[ClickEvent]] = TypeAdapter(list[ClickEvent])


class ConversionEvent(BaseModel):
    """A postback accepted by the API, on its way to the worker."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    conversion_id: UUID
    ts: datetime
    advertiser_id: int
    click_id: UUID | None = None
    goal: Annotated[str, Field(max_length=64)] = "default"
    txn_id: Annotated[str, Field(max_length=255)]
    amount: Annotated[str, Field(max_length=40)] = "0"  # Decimal as text, never a float
    currency: Annotated[str, Field(min_length=3, max_length=3)] = "USD"
    status: Literal["pending", "approved", "rejected"] = "approved"
