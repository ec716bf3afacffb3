"""API models of conversions sent from the browser (the first-party SDK, issue 18)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from schemas.types import TEXT, Money

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
ORIGIN = rf"^https?://({_LABEL}\.)*{_LABEL}(:[0-9]{{1,5}})?$"


def _no_default_port(origin: str) -> str:
    """Browsers send ``Origin`` without the scheme's default port: store it the same way."""
    for scheme, port in (("https://", ":443"), ("http://", ":80")):
        if origin.startswith(scheme) and origin.endswith(port):
            return origin[: -len(port)]
    return origin


Origin = Annotated[
    str,
    Field(max_length=300, pattern=ORIGIN, examples=["https://shop.example"],
          description="scheme://host[:port] in lower case, as browsers send it in Origin"),
    AfterValidator(_no_default_port),
]  # fmt: skip


class BrowserConversionIn(BaseModel):
    """What ``window.tracker.conversion()`` sends (JSON; as ``text/plain`` too, the type a
    browser sends without a preflight)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"order_id": "A-1001", "amount": "49.90",
                                         "currency": "EUR", "click_id": None}]},
    )  # fmt: skip

    order_id: Annotated[str, Field(min_length=1, max_length=255, pattern=TEXT)] = Field(
        description="the merchant's order id: the txn_id its postbacks carry for the same order"
    )
    amount: Money = Field(0, description="≤ the offer's browser_max_amount")  # type: ignore[assignment]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = Field(
        None, description="ISO 4217; none: the offer's currency"
    )
    goal: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "default"
    click_id: UUID | None = Field(None, description="the stored click id; none: by promo code")
    promo_code: Annotated[str, Field(min_length=1, max_length=64, pattern=TEXT)] | None = None


class BrowserConversionAnswer(BaseModel):
    id: UUID = Field(description="the conversion's id (the same for the order's postbacks)")
    status: str = Field(description="accepted (queued), or the stored status for a repeat")
    duplicate: bool = False


class OfferSdk(BaseModel):
    """What a merchant puts on its site for an offer, on the right tracking domain."""

    offer_id: int
    advertiser_id: int
    tracking_domain: str | None = Field(description="the advertiser's or the network's; null: "
                                        "the tracker's own address")  # fmt: skip
    script_url: str = Field(description="the SDK at a versioned, long-cached URL")
    snippet: str = Field(description="the tag for the merchant's pages")
    conversion_url: str
    pixel_url: str = Field(description="the cookie pixel (the advertiser's pixel must be on)")
    click_param: str = Field(description="the landing-page parameter that carries the click id")
    attribution_window_days: int
    browser_origins: list[str]
