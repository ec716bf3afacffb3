"""Who sees which field: the one role x field table of the API (issue 17, docs/adr/0085).

Every resource the API answers with is listed here, field by field, with the audiences
that see it in full, those that see a reduced form (a reason code instead of a note, the
kind of actor instead of the key), and those to whom it is shown once (a secret in the
answer that creates it). The API's views (tracker/api/views) apply it to every answer,
the reports and exports take their hidden columns from it, docs/visibility.md is
generated from it (``python -m tracker.domain.visibility``), and the matrix test checks
every route of the OpenAPI document against it. A field missing here is shown to admins
only.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracker.domain.conversion_status import STATUSES

ADMIN, ADMIN_READ, ADVERTISER, IN_HOUSE, PARTNER = (
    "admin", "admin_read", "advertiser", "in_house", "affiliate",
)  # fmt: skip
AUDIENCES = (ADMIN, ADMIN_READ, ADVERTISER, IN_HOUSE, PARTNER)
TITLES = {
    ADMIN: "admin",
    ADMIN_READ: "admin, read-only",
    ADVERTISER: "advertiser",
    IN_HOUSE: "in-house advertiser",
    PARTNER: "partner",
}


def audience(role: str, scopes: frozenset[str], in_house: bool = False) -> str:
    """The column of the table a key reads with. Read-only tenant keys see what their
    read-write keys see (they only cannot write); a read-only admin key sees no secret."""
    if role == "admin":
        return ADMIN if "write" in scopes else ADMIN_READ
    if role == "advertiser":
        return IN_HOUSE if in_house else ADVERTISER
    return PARTNER


@dataclass(frozen=True)
class Rule:
    full: frozenset[str]
    reduced: frozenset[str] = frozenset()
    form: str = ""  # the reduction: "reason_code" or "actor_kind"
    once: bool = False  # shown only in the answer that creates it
    of: str = ""  # the field holds (a list of) this resource


def _r(*who: str, reduced: tuple[str, ...] = (), form: str = "", once: bool = False,
       of: str = "") -> Rule:  # fmt: skip
    return Rule(frozenset(who), frozenset(reduced), form, once, of)


ADMINS = (ADMIN, ADMIN_READ)
EVERYONE = _r(*AUDIENCES)
ADMIN_ONLY = _r(*ADMINS)
# What the advertiser pays: never partners.
REVENUE = _r(*ADMINS, ADVERTISER, IN_HOUSE)
# What partners are paid: never advertisers, unless the program is in-house.
PAYOUT = _r(*ADMINS, IN_HOUSE, PARTNER)
# Both at once (the network's margin).
MARGIN = _r(*ADMINS, IN_HOUSE)
# Partners' own settings and deliveries.
PARTNERS = _r(*ADMINS, PARTNER)
# A reason as stored for admins and advertisers; partners get its code (fraud:<rule> is
# "fraud", a note typed by a person is "other").
REASON = _r(*ADMINS, ADVERTISER, IN_HOUSE, reduced=(PARTNER,), form="reason_code")


def _fields(rule: Rule, *names: str) -> dict[str, Rule]:
    return dict.fromkeys(names, rule)


_TIMES = ("created_at", "updated_at")
_SUBS5 = tuple(f"sub{i}" for i in range(1, 6))
_SUBS = tuple(f"sub{i}" for i in range(1, 11))
# A click's dimensions (migration 0070): its partner's and offer's own traffic
_CLICK_DIMS = ("link_id", "link_code", *_SUBS, "source", "params", "country", "region", "city",
               "device", "os", "browser", "referer_domain", "click_class")  # fmt: skip
_CLICK = {
    **_fields(EVERYONE, "click_id", "created_at", "offer_id", "affiliate_id", *_CLICK_DIMS,
              "ip_trunc", "user_agent", "referer", "is_unique", "asn", "asn_org", "datacenter",
              "traffic_rule", "route_id", "lander_id"),
    "conversions": _r(*AUDIENCES, of="Conversion"),
}  # fmt: skip
_CONVERSION_COLUMNS = {
    **_fields(EVERYONE, "conversion_id", "advertiser_id", "goal", "txn_id", "click_id",
              "click_at", "offer_id", "affiliate_id", "method", "coupon", "status", "amount",
              "currency", "amount_converted", "offer_currency", "created_at"),
    "status_reason": REASON,
    "revenue": REVENUE,
    "payout": PAYOUT,
    "adv_subs": REVENUE,  # the merchant's own references (order, customer)
}  # fmt: skip
# exports of conversions carry their click's dimensions (migrations 0015, 0070)
_CONVERSION_EXPORT = {
    **_CONVERSION_COLUMNS,
    **_fields(EVERYONE, *(d for d in _CLICK_DIMS if d not in ("link_code", "click_class"))),
}
_REPORT_METRICS = {
    **_fields(EVERYONE, "key", "group", "gross_clicks", "unique_clicks", "human_clicks",
              "bot_clicks", "impressions", "conversions", "pending", "approved", "held",
              "rejected", "reversed", "cr"),
    "revenue": REVENUE, "rpc": REVENUE, "payout": PAYOUT, "epc": PAYOUT, "profit": MARGIN,
    # each status's money (docs/adr/0105)
    **{f"{s}_revenue": REVENUE for s in STATUSES},
    **{f"{s}_payout": PAYOUT for s in STATUSES},
}  # fmt: skip


def _admin_only(*names: str) -> dict[str, Rule]:
    return _fields(ADMIN_ONLY, *names)


# fmt: off
FIELDS: dict[str, dict[str, Rule]] = {
    "Advertiser": {
        **_fields(EVERYONE, "id", "name", "status", *_TIMES),
        "in_house": _r(*ADMINS, ADVERTISER, IN_HOUSE),
        "postback_token": _r(ADMIN),  # it lets its holder send conversions
    },
    "Affiliate": _fields(EVERYONE, "id", "name", "status", *_TIMES),
    "Offer": {
        **_fields(EVERYONE, "id", "advertiser_id", "name", "status", "currency", "deep_links",
                  "deep_link_domains", "expires_at", "cookieless", "pass_params",
                  "attribution_window_days", *_TIMES),
        # The destination and its parameters are the advertiser's: a partner sends traffic
        # through its tracking link, never around it.
        "landing_url": REVENUE,
        "fallback_url": REVENUE,
        "daily_click_cap": REVENUE,
        "total_click_cap": REVENUE,
        "default_payout": PAYOUT,
        "default_revenue": REVENUE,
        # who the offer takes (issue 20): partners too, so they send the traffic it pays for
        "targeting": _r(*AUDIENCES, of="Targeting"),
    },
    "Link": _fields(EVERYONE, "id", "code", "url", "impression_url", "offer_id",
                    "affiliate_id", "status", *_SUBS5, *_TIMES),
    "Click": _CLICK,
    "Conversion": {
        **_CONVERSION_COLUMNS,
        "decision": _r(*AUDIENCES, of="Decision"),
        "history": _r(*AUDIENCES, of="HistoryEntry"),
        "merchant_status": EVERYONE,  # what the merchant said; status is the settlement
    },
    # The decision record: keys not listed are shown to admins only.
    "Decision": {
        **_fields(EVERYONE, "attribution", "goal", "offer_id", "affiliate_id", "status",
                  "currency"),
        "reason": REASON,
        "payout": PAYOUT,
        "payout_rule": PAYOUT,
        "revenue": REVENUE,
        "revenue_rule": REVENUE,
        # the partner's approved volume this month, which its payout tier is chosen by
        "month_to_date": PAYOUT,
        "month_to_date.revenue": MARGIN,
        "fraud": ADMIN_ONLY,  # rules, thresholds and shadow flags
        "caps": ADMIN_ONLY,  # limits and usage
        # a browser conversion's site and user agent (issue 18): the merchant's visitor
        "browser": REVENUE,
        # issue 17 (docs/adr/0080, 0081): the tracker's standing verdict, the merchant's
        # status, a promo code's payout terms; overrides (who, why), amendments (the money
        # before) and the dated price terms used stay admin-only
        "gate": REASON,
        "merchant_status": EVERYONE,
        "promo_rule": PAYOUT,
    },
    "HistoryEntry": {
        **_fields(EVERYONE, "from_status", "to_status", "at"),
        "reason": REASON,
        "actor": _r(*ADMINS, reduced=(ADVERTISER, IN_HOUSE, PARTNER), form="actor_kind"),
        # the money after the change (issue 17: amendments and re-pricing are in the history)
        "amount": EVERYONE,
        "payout": PAYOUT,
        "revenue": REVENUE,
    },
    "Goal": {
        **_fields(EVERYONE, "offer_id", "code", "name", "multiple", "max_count", "max_months"),
        "payout_flat": PAYOUT,
        "payout_percent": PAYOUT,
        "revenue_flat": REVENUE,
        "revenue_percent": REVENUE,
    },
    "ConversionSettings": _admin_only(
        "offer_id", "attribution_window_days", "attribution_model", "coupon_wins", "timezone",
        "cap_action", "fraud_mode", "min_click_seconds", "max_click_seconds", "require_click",
        "duplicate_txn", "max_conversions_per_ip", "max_clicks_per_sub_hour", "cpc_basis",
        "cpc_payout", "cpc_revenue", "cpm_payout", "cpm_revenue", "pixel_min_amount",
        "pixel_max_amount", "browser_origins", "browser_status", "browser_max_amount"),
    "Override": _admin_only("id", "offer_id", "affiliate_id", "goal", "valid_from", "valid_to",
                            "payout_flat", "payout_percent"),
    "Tier": _admin_only("id", "offer_id", "goal", "metric", "threshold", "payout_flat",
                        "payout_percent", "valid_from", "valid_to"),
    "RevenueRule": _admin_only("id", "offer_id", "affiliate_id", "goal", "valid_from",
                               "valid_to", "revenue_flat", "revenue_percent"),
    "Cap": _admin_only("id", "offer_id", "affiliate_id", "period", "metric", "limit",
                       "updated_at", "archived_at"),
    "PromoCode": _admin_only("id", "offer_id", "affiliate_id", "code", "starts_at", "ends_at",
                             "payout_flat", "payout_percent"),
    "RateIn": _admin_only("base", "quote", "rate", "valid_from"),
    "RateSet": _admin_only("base", "quote", "rate", "valid_from", "repriced"),
    "PriceTerm": _admin_only("id", "offer_id", "goal", "valid_from", "currency", "payout_flat",
                             "payout_percent", "revenue_flat", "revenue_percent", "actor",
                             "created_at"),
    "PostbackAuth": _admin_only("has_secret", "previous_until", "require_signature",
                                "ip_allowlist", "allow_pixel", "pixel_status"),
    "PostbackSecret": {
        "hmac_secret": _r(ADMIN, once=True),
        "previous_until": ADMIN_ONLY,
    },
    "PartnerPostback": {
        **_fields(PARTNERS, "id", "affiliate_id", "offer_id", "goal", "url_template", "method",
                  "events", "sign_get", "active", "created_at"),
        "secret": _r(ADMIN, PARTNER, once=True),
    },
    "TestRequest": _fields(PARTNERS, "allowed", "refusal", "method", "url", "headers", "body"),
    "Delivery": {
        **_fields(PARTNERS, "id", "postback_id", "affiliate_id", "conversion_id", "event",
                  "method", "url", "state", "attempts", "next_attempt_at", "deliver_until",
                  "last_error", "delivered_at", "created_at"),
        "attempt_log": _r(*ADMINS, PARTNER, of="Attempt"),
    },
    "Attempt": _fields(PARTNERS, "attempted_at", "address", "status_code", "latency_ms",
                       "error", "response"),
    "ReplayOut": _fields(PARTNERS, "replayed"),
    "Key": _admin_only("id", "prefix", "role", "scopes", "advertiser_id", "affiliate_id",
                       "label", "rate_limit_per_min", "created_at", "revoked_at"),
    "NewKeyOut": {
        **_admin_only("id", "prefix", "role", "scopes", "advertiser_id", "affiliate_id",
                      "label", "rate_limit_per_min", "created_at", "revoked_at"),
        "key": _r(ADMIN, once=True),
    },
    "Report": _fields(EVERYONE, "group_by", "tz", "from", "to", "currency", "source",
                      "total_rows", "rows", "totals"),
    "ReportRow": _REPORT_METRICS,
    # Traffic quality (issue 19): the rules name what a fraud team watches for (admins
    # only); the traffic and CTIT reports hold counts only, each key its own rows.
    "TrafficRule": _admin_only("id", "offer_id", "affiliate_id", "name", "datacenter",
                               "ip_blocklist", "sub_blocklist", "ua_blocklist", "archived_at",
                               *_TIMES),
    "TrafficReport": {**_fields(EVERYONE, "group_by", "tz", "from", "to"),
                      "rows": _r(*AUDIENCES, of="TrafficRow"),
                      "totals": _r(*AUDIENCES, of="TrafficRow")},
    "TrafficRow": _fields(EVERYONE, "offer_id", "affiliate_id", "day", "gross", "human",
                          "unique", "bot", "preview", "prefetch", "blocked", "datacenter",
                          "flagged"),
    "CtitReport": {**_fields(EVERYONE, "group_by", "from", "to"),
                   "rows": _r(*AUDIENCES, of="CtitRow")},
    "CtitRow": {**_fields(EVERYONE, "offer_id", "affiliate_id", "conversions",
                          "median_seconds"),
                "buckets": _r(*AUDIENCES, of="CtitBucket")},
    "CtitBucket": _fields(EVERYONE, "bucket", "up_to_seconds", "conversions"),
    # Exports: the columns of the rows (a hidden column is left out of the file).
    # Issue 20: targeting (offers and routes), landers (the advertiser's pages), smart links
    # (the network's and its partners': never their caps or fallback), the split tests.
    "Targeting": {**_fields(EVERYONE, "datacenter"),
                  **_fields(_r(*AUDIENCES, of="Match"), "countries", "regions", "devices", "os",
                            "browsers", "languages"),
                  "schedule": _r(*AUDIENCES, of="Schedule")},
    "Match": _fields(EVERYONE, "allow", "deny"),
    "Schedule": _fields(EVERYONE, "time_zone", "days", "hours"),
    "Lander": _fields(REVENUE, "id", "offer_id", "name", "url", "weight", "status", *_TIMES),
    "SmartLink": {
        **_fields(PARTNERS, "id", "code", "url", "affiliate_id", "name", "status",
                  "sticky_hours", *_TIMES),
        "fallback_url": ADMIN_ONLY,
        "routes": _r(*ADMINS, PARTNER, of="SmartRoute"),
    },
    "SmartRoute": {
        **_fields(PARTNERS, "id", "link_id", "offer_id", "smart_link_id", "priority", "weight",
                  "status", *_TIMES),
        "targeting": _r(*ADMINS, PARTNER, of="Targeting"),
        "daily_click_cap": ADMIN_ONLY,
        "total_click_cap": ADMIN_ONLY,
    },
    "LanderReport": {**_fields(EVERYONE, "offer_id", "from", "to", "control"),
                     "rows": _r(*AUDIENCES, of="LanderRow")},
    "LanderRow": {
        **_fields(EVERYONE, "lander_id", "status", "weight", "clicks", "conversions", "cr",
                  "control", "z", "p_value", "confidence"),
        "name": REVENUE,
        "epc": PAYOUT,
    },
    "ClickExport": {k: v for k, v in _CLICK.items() if k != "conversions"},
    # an impression is stored as a click is, less the unique verdict
    "ImpressionExport": {
        "impression_id": EVERYONE,
        **{k: v for k, v in _CLICK.items() if k not in ("conversions", "click_id", "is_unique")},
    },
    "ConversionExport": _CONVERSION_EXPORT,
    # Issue 18: tracking domains (admins), what a merchant puts on its site (its advertiser),
    # and the keyless answers of the SDK's intake and of a TLS front's question.
    "TrackingDomain": _admin_only("id", "hostname", "scope", "advertiser_id", "affiliate_id",
                                  "created_at"),
    "OfferSdk": _fields(REVENUE, "offer_id", "advertiser_id", "tracking_domain", "script_url",
                        "snippet", "conversion_url", "pixel_url", "click_param",
                        "attribution_window_days", "browser_origins"),
    "BrowserConversionAnswer": _fields(EVERYONE, "id", "status", "duplicate"),
    "TlsCheck": _fields(EVERYONE, "hostname"),
}
# fmt: on

# Resources only admins read (their routes answer 403 to tenant keys).
ADMIN_RESOURCES = frozenset({"ConversionSettings", "Override", "Tier", "RevenueRule", "Cap",
                             "PromoCode", "RateIn", "RateSet", "PriceTerm", "PostbackAuth",
                             "PostbackSecret", "Key", "NewKeyOut", "TrackingDomain",
                             "TrafficRule"})  # fmt: skip
# Resources of partners (their routes answer 403 to advertiser keys).
PARTNER_RESOURCES = frozenset({"PartnerPostback", "TestRequest", "Delivery", "Attempt",
                               "ReplayOut", "SmartLink", "SmartRoute"})  # fmt: skip
# Resources of advertisers (their routes answer 403 to partner keys): what a merchant puts
# on its own site (issue 18), its landers (issue 20).
ADVERTISER_RESOURCES = frozenset({"OfferSdk", "Lander"})

# Reasons the tracker itself gives; partners see these as they are.
TRACKER_REASONS = frozenset({
    "cap", "no_rate", "unknown_goal", "duplicate_goal", "recurring_limit", "click_not_found",
    "other_advertiser", "outside_window", "before_click", "no_click", "click_lost_to_code",
    "code_lost_to_click", "fraud", "postback", "pixel", "api", "other", "origin_not_allowed",
})  # fmt: skip


def rule(resource: str, field: str) -> Rule:
    return FIELDS[resource].get(field, ADMIN_ONLY)


def sees(resource: str, field: str, who: str) -> bool:
    """Does ``who`` see the field at all (in full or reduced)?"""
    r = rule(resource, field)
    return who in r.full or who in r.reduced


def hidden(resource: str, who: str) -> tuple[str, ...]:
    """The fields of ``resource`` that ``who`` does not see."""
    return tuple(f for f in FIELDS[resource] if not sees(resource, f, who))


def reason_code(reason: str | None) -> str | None:
    """A status reason as partners see it: the tracker's codes as they are, ``fraud`` for
    any fraud rule, where a merchant's change came from, ``other`` for a person's note."""
    if reason is None:
        return None
    head = reason.split(":", 1)[0].strip()
    if reason in TRACKER_REASONS:
        return reason
    if head in ("fraud", "postback", "pixel", "override", "priced", "amended"):
        return head
    return "other"


def actor_kind(actor: str | None) -> str | None:
    """Who changed a status, as tenants see it: ``postback``, ``pixel``, ``browser``, ``api``,
    ``tracker``; never which key."""
    if actor is None:
        return None
    head = actor.split(":", 1)[0]
    return head if head in ("postback", "pixel", "browser", "api") else "tracker"


REDUCE = {"reason_code": reason_code, "actor_kind": actor_kind}


def _cell(r: Rule, who: str) -> str:
    if who in r.full:
        return "once" if r.once else "✓"
    if who in r.reduced:
        return {"reason_code": "code", "actor_kind": "kind"}[r.form]
    return "–"


def markdown() -> str:
    """docs/visibility.md: the table, generated from FIELDS."""
    head = "| resource | field | " + " | ".join(TITLES[a] for a in AUDIENCES) + " |"
    lines = [
        "# Who sees which field",
        "",
        "Generated from `tracker/domain/visibility.py` by `python -m tracker.domain.visibility`"
        " (a test fails when this file and the table differ). The API applies the table to"
        " every answer (`tracker/api/views`), reports and exports take their hidden columns"
        " from it, and `tests/tracker/api/test_tenant_matrix.py` (with `matrix_fields.py`) checks every route of the"
        " OpenAPI document, with every role's key, against it. ADR: `docs/adr/0085`.",
        "",
        "- **✓** shown; **–** not shown (`null` in a JSON answer, left out of an export or of"
        " the decision record); **once**: only in the answer that creates it (a secret).",
        "- **code**: a reason as a code (`cap`, `fraud` for any fraud rule, `postback`,"
        " `other` for a note someone typed); **kind**: who changed a status as `postback`,"
        " `pixel`, `browser`, `api` or `tracker`, never which key.",
        "- **in-house advertiser**: an advertiser with `in_house: true` (set by an admin on"
        " `POST`/`PATCH /api/v1/advertisers`): advertiser and network are one company, so its"
        " keys also see what partners are paid.",
        "- A read-only key sees what its role sees, except that a read-only admin key sees no"
        " secret (`postback_token`). Another tenant's rows answer 404, a route outside a"
        " role answers 403 (`docs/adr/0065`).",
        "- Admin-only resources (403 to tenant keys): " + ", ".join(sorted(ADMIN_RESOURCES))
        + ". Partner resources (403 to advertiser keys): "
        + ", ".join(sorted(PARTNER_RESOURCES)) + ". Advertiser resources (403 to partner"
        " keys): " + ", ".join(sorted(ADVERTISER_RESOURCES)) + ".",
        "- `Decision` is the decision record of a conversion (`decision` in conversion reads);"
        " a key of it not listed here is shown to admins only.",
        "",
        head,
        "|" + " --- |" * (len(AUDIENCES) + 2),
    ]  # fmt: skip
    for resource, fields in FIELDS.items():
        for name, r in fields.items():
            cells = " | ".join(_cell(r, a) for a in AUDIENCES)
            lines.append(f"| {resource} | `{name}` | {cells} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
