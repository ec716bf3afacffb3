"""What a click on one link needs, prepared once per (link, offer) pair.

The landing template with the link's constants (``aff_id``, ``offer_id``,
``link_code``) filled in, each remaining macro turned into a small step
that reads the hit directly (no lookup by name per click), and the tail of
the click cookie as bytes. A plan is rebuilt when the cached link or offer
object changes (the link cache replaces them on every change), so it never
outlives the data it was made from.
"""

from __future__ import annotations

from urllib.parse import quote

from redirect.catalog import CachedLink, CachedOffer
from redirect.hit import Hit
from tracker.domain.classify import device_of
from tracker.domain.macros import PLAIN, Template
from tracker.domain.traffic_rules import RuleSet

# How a macro left in a bound template gets its value from the hit.
_SUB, _CLICK_ID, _SOURCE, _COUNTRY, _DEVICE, _TIMESTAMP, _PARAM, _EMPTY = range(8)
_KINDS = {"click_id": _CLICK_ID, "source": _SOURCE, "country": _COUNTRY, "device": _DEVICE,
          "timestamp": _TIMESTAMP}  # fmt: skip

Step = tuple[int, int | str, str]  # (kind, sub-id index or parameter name, literal after it)


def steps_of(template: Template) -> tuple[Step, ...]:
    steps: list[Step] = []
    for name, literal in template.pairs:
        if name.startswith("p:"):
            key = name[2:]  # trk_* parameters are the tracker's own: never passed on
            steps.append(
                (_EMPTY, "", literal) if key.startswith("trk_") else (_PARAM, key, literal)
            )
        elif name.startswith("sub") and name[3:].isdigit():
            steps.append((_SUB, int(name[3:]) - 1, literal))
        else:  # ``bind`` left only known macros
            steps.append((_KINDS.get(name, _EMPTY), "", literal))
    return tuple(steps)


class LinkPlan:
    __slots__ = ("aff_id", "code", "cookie_tail", "defaults", "head", "link", "link_id",
                 "needs_country", "offer", "rules", "rules_version", "steps")  # fmt: skip

    def __init__(self, offer: CachedOffer, aff_id: int, link: CachedLink | None,
                 rules: tuple[RuleSet, ...] = (), rules_version: int = 0) -> None:  # fmt: skip
        self.offer, self.aff_id, self.link = offer, aff_id, link
        # The traffic rule sets of this link's clicks (usually none: nothing to judge).
        self.rules, self.rules_version = rules, rules_version
        self.link_id = link.link_id if link else None
        self.code = link.code if link else ""
        self.defaults = link.subs if link else ()
        constants = {"aff_id": str(aff_id), "offer_id": str(offer.offer_id),
                     "link_code": self.code}  # fmt: skip
        bound = offer.template.bind(constants)
        self.head = bound.parts[0]
        self.steps = steps_of(bound)
        self.needs_country = any(kind == _COUNTRY for kind, _, _ in self.steps)
        max_age = offer.cookie_max_age
        self.cookie_tail = (
            None
            if max_age is None
            else b"; Max-Age=%d; Path=/; Secure; HttpOnly; SameSite=None" % max_age
        )

    def fill(self, hit: Hit, click_id: str, ts: float) -> str:
        """The landing URL of this hit: every value percent-encoded, unknown ones empty."""
        out = [self.head]
        append, plain = out.append, PLAIN.fullmatch
        for kind, arg, literal in self.steps:
            if kind == _SUB:
                v = hit.subs[arg]  # type: ignore[index]
            elif kind == _CLICK_ID:  # our own UUID text: nothing to encode
                append(click_id)
                append(literal)
                continue
            elif kind == _DEVICE:
                v = device_of(hit.ua)
            elif kind == _SOURCE:
                v = hit.source
            elif kind == _COUNTRY:
                v = hit.country
            elif kind == _TIMESTAMP:
                v = str(int(ts))
            elif kind == _PARAM:
                v = hit.params.get(arg)  # type: ignore[arg-type]
            else:
                v = None
            if v:
                append(v if plain(v) else quote(v, safe="", errors="replace"))
            append(literal)
        return "".join(out)
