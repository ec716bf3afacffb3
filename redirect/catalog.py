"""What the redirect knows about links, offers and partners, as immutable values.

Built from database rows when they are cached, so that a click only reads
attributes: templates are compiled, domains normalised, times made epoch
seconds. ``offer_state`` is the one rule deciding whether an offer runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracker.domain import landing_urls
from tracker.domain.macros import Template, compile_template


@dataclass(frozen=True, slots=True)
class CachedOffer:
    offer_id: int
    template: Template
    fallback: Template | None
    status: str
    expires_at: float | None  # epoch seconds
    deep_domains: tuple[str, ...]  # empty when deep links are off
    cookie_max_age: int | None  # None: cookieless
    pass_params: bool
    daily_cap: int | None
    total_cap: int | None
    plain: bool = False  # active, no expiry, no cap: runs whatever the time or the counts

    @property
    def capped(self) -> bool:
        return self.daily_cap is not None or self.total_cap is not None


@dataclass(frozen=True, slots=True)
class CachedLink:
    link_id: int
    code: str
    offer_id: int
    aff_id: int
    subs: tuple[str | None, ...]  # defaults for sub1..sub5; () when there are none
    active: bool


def offer_from_row(row: dict[str, Any]) -> CachedOffer:
    """An offer whose stored landing URL fails the API's check (a row from before it) does
    not run; a fallback URL that fails it is not used (docs/adr/0086)."""
    fallback = row.get("fallback_url")
    if fallback and landing_urls.problem(fallback) is not None:
        fallback = None
    usable = landing_urls.problem(row["landing_url"]) is None
    expires = row.get("expires_at")
    domains = tuple(d.lower().rstrip(".") for d in row.get("deep_link_domains") or ())
    daily, total = row.get("daily_click_cap"), row.get("total_click_cap")
    return CachedOffer(
        offer_id=row["id"],
        template=compile_template(row["landing_url"]),
        fallback=compile_template(fallback) if fallback else None,
        status=row["status"] if usable else "paused",
        expires_at=expires.timestamp() if expires is not None else None,
        deep_domains=domains if row.get("deep_links") else (),
        cookie_max_age=None
        if row.get("cookieless")
        else int(row.get("attribution_window_days") or 30) * 86_400,
        pass_params=bool(row.get("pass_params")),
        daily_cap=daily,
        total_cap=total,
        plain=usable
        and row["status"] == "active"
        and expires is None
        and daily is None
        and total is None,
    )


def link_from_row(row: dict[str, Any]) -> CachedLink:
    subs = (row["sub1"], row["sub2"], row["sub3"], row["sub4"], row["sub5"])
    return CachedLink(
        link_id=row["id"],
        code=row["code"],
        offer_id=row["offer_id"],
        aff_id=row["affiliate_id"],
        subs=subs if any(subs) else (),
        active=row["status"] == "active",
    )


def offer_state(offer: CachedOffer, now: float) -> str:
    """``running``, or why not: ``paused``, ``archived``, ``expired`` (whether a capped
    offer has room is the click's reservation: redirect.caps)."""
    if offer.status != "active":
        return offer.status if offer.status in ("paused", "archived") else "paused"
    if offer.expires_at is not None and now >= offer.expires_at:
        return "expired"
    return "running"
