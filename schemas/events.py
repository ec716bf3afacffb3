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

# The closed set of click classes (CHECK in migration 0040); which of them count as a
# click, a unique or a paid click: tracker.domain.counted.
ClickClass = Literal["human", "bot", "preview", "head", "prefetch", "blocked"]

Str255 = Annotated[str, Field(max_length=2048)]


class ClickEvent(BaseModel):
    """One hit as the redirect saw it (a click, or an impression from ``/i/{code}``).

    Enrichment (device, geo, uniqueness, IP truncation) happens in the worker.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    click_id: UUID  # UUIDv7; for an impression, the impression's own id
    ts: datetime  # UTC; unix seconds on the wire
    kind: Literal["click", "impression"] = "click"
    link_id: int | None = None  # None for the parameter form /click?offer_id=…&aff_id=…
    link_code: Annotated[str, Field(max_length=64)] = ""
    offer_id: int
    aff_id: int
    subs: Annotated[list[str | None], Field(max_length=10)] = []  # sub1…sub10
    source: Annotated[str, Field(max_length=255)] = ""
    params: Annotated[dict[str, str], Field(max_length=20)] = {}  # other query parameters, cropped
    ip: Annotated[str, Field(max_length=64)] = ""  # full address: in transit only, never stored
    ua: Str255 = ""
    referer: Str255 = ""
    lang: Annotated[str, Field(max_length=64)] = ""
    cls: ClickClass = "human"
    # The traffic rule that blocked (cls "blocked") or flagged the click; "" when none.
    rule: Annotated[str, Field(max_length=64)] = ""


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
    status: Literal["pending", "approved", "rejected", "reversed"] = "approved"  # the merchant's
    # Added by issue 5 (all optional, so older entries still parse):
    coupon: Annotated[str | None, Field(max_length=64)] = None
    adv_subs: Annotated[list[str | None], Field(max_length=5)] = []  # adv_sub1…adv_sub5
    currency_default: bool = False  # no currency sent: the amount is in the offer's currency
    # pixel: the click id came from the cookie; browser: from the SDK (issue 18)
    via: Literal["postback", "pixel", "browser"] = "postback"
    attempt: int = 0  # times re-queued while waiting for its click to reach Postgres
    not_before: float | None = None  # unix seconds: not to be processed before this
    # Added by issue 17: the postback carried an amount (for a known conversion, a new one
    # is an amendment); older entries never amend.
    amount_given: bool = False
    # Added by issue 18, for browser conversions: where they came from (decision record).
    origin: Annotated[str | None, Field(max_length=300)] = None
    user_agent: Annotated[str | None, Field(max_length=512)] = None
