"""What the redirect knows about links, offers and partners, as immutable values.

Built from database rows when they are cached, so that a click only reads
attributes: templates are compiled, domains normalised, times made epoch
seconds. ``offer_state`` is the one rule deciding whether an offer runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from tracker.domain import landing_urls
from tracker.domain.macros import Template, compile_template
from tracker.domain.targeting import Targeting, compile_targeting
from tracker.domain.weights import Wheel


@dataclass(frozen=True, slots=True)
class CachedLander:
    lander_id: int
    template: Template
    weight: int


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
    targeting: Targeting | None = None  # None: every visitor (issue 20)
    landers: tuple[CachedLander, ...] = ()  # active landers; none: the landing URL
    lander_wheel: Wheel | None = None
    sticky_s: int = 30 * 86_400  # a visitor keeps its lander this long (the attribution window)

    @property
    def capped(self) -> bool:
        return self.daily_cap is not None or self.total_cap is not None


@dataclass(frozen=True, slots=True)
class CachedRoute:
    route_id: int
    offer_id: int | None  # None: the route leads to another smart link
    target_code: str | None  # that smart link's code
    priority: int
    weight: int
    targeting: Targeting | None
    daily_cap: int | None
    total_cap: int | None

    @property
    def capped(self) -> bool:
        return self.daily_cap is not None or self.total_cap is not None


@dataclass(frozen=True, slots=True)
class SmartSpec:
    """What a smart link adds to a link: its active routes in order, its last resort and
    how long a visitor keeps its route."""

    routes: tuple[CachedRoute, ...]  # by (priority, id)
    fallback: Template | None
    sticky_s: int


@dataclass(frozen=True, slots=True)
class CachedLink:
    link_id: int
    code: str
    offer_id: int
    aff_id: int
    subs: tuple[str | None, ...]  # defaults for sub1..sub5; () when there are none
    active: bool
    smart: SmartSpec | None = None  # a smart link (offer_id 0): its routes decide


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
    landers = _landers(row.get("landers"))
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
        targeting=compile_targeting(_json(row.get("targeting"))),
        landers=landers,
        lander_wheel=Wheel([d.weight for d in landers]) if landers else None,
        sticky_s=int(row.get("attribution_window_days") or 30) * 86_400,
    )


def _json(value: Any) -> Any:
    """A jsonb column read as text (asyncpg's default), or already decoded."""
    if isinstance(value, str | bytes):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return {"broken": True}
    return value


def _landers(value: Any) -> tuple[CachedLander, ...]:
    """The active landers whose URL passes the API's check (docs/adr/0086); a row from
    before the check that fails it is left out, as a bad landing URL stops its offer."""
    out = []
    for item in _json(value) or ():
        url, weight = item.get("url") or "", item.get("weight") or 0
        if weight > 0 and landing_urls.problem(url) is None:
            out.append(CachedLander(int(item["id"]), compile_template(url), int(weight)))
    return tuple(out)


def _route(item: dict[str, Any]) -> CachedRoute:
    return CachedRoute(
        route_id=int(item["id"]),
        offer_id=item.get("offer_id"),
        target_code=item.get("target_code"),
        priority=int(item.get("priority") or 1),
        weight=max(int(item.get("weight") or 0), 1),
        targeting=compile_targeting(item.get("targeting")),
        daily_cap=item.get("daily_click_cap"),
        total_cap=item.get("total_click_cap"),
    )


def _smart(row: dict[str, Any]) -> SmartSpec:
    fallback = row.get("fallback_url")
    if fallback and landing_urls.problem(fallback) is not None:
        fallback = None
    routes = sorted((_route(r) for r in _json(row.get("routes")) or ()),
                    key=lambda r: (r.priority, r.route_id))  # fmt: skip
    return SmartSpec(
        routes=tuple(r for r in routes if r.offer_id is not None or r.target_code),
        fallback=compile_template(fallback) if fallback else None,
        sticky_s=int(row.get("sticky_hours") or 0) * 3600,
    )


def link_from_row(row: dict[str, Any]) -> CachedLink:
    subs = (row["sub1"], row["sub2"], row["sub3"], row["sub4"], row["sub5"])
    smart = _smart(row) if row.get("kind") == "smart" else None
    return CachedLink(
        link_id=row["id"],
        code=row["code"],
        offer_id=row["offer_id"] or 0,
        aff_id=row["affiliate_id"],
        subs=subs if any(subs) else (),
        active=row["status"] == "active",
        smart=smart,
    )


def offer_state(offer: CachedOffer, now: float) -> str:
    """``running``, or why not: ``paused``, ``archived``, ``expired`` (whether a capped
    offer has room is the click's reservation: redirect.caps)."""
    if offer.status != "active":
        return offer.status if offer.status in ("paused", "archived") else "paused"
    if offer.expires_at is not None and now >= offer.expires_at:
        return "expired"
    return "running"
