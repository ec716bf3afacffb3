"""Each report dimension as SQL over a stored row: a click (c), an impression (i) or a
conversion (v).

A dimension of ``schemas.reports.DIMENSIONS`` is, unless said otherwise below, the
column of the same name on all three tables (a conversion carries its click's values:
migrations 0015 and 0070). Adding such a dimension is one line there.
"""

from __future__ import annotations

from schemas.reports import BY_NAME, PARAM
from tracker.store.reports.common import ROLLUP, Args, Expr, Spec

ALIASES = ("c", "i", "v")  # clicks, impressions, conversions

# Where a dimension is not the same-named column of every table: its SQL per table,
# "{a}" standing for the table's alias.
_COLUMNS: dict[str, tuple[str, str, str]] = {
    "partner": ("c.affiliate_id", "i.affiliate_id", "v.affiliate_id"),
    "offer": ("c.offer_id", "i.offer_id", "v.offer_id"),
    "link": ("c.link_id", "i.link_id", "v.link_id"),
    "route": ("c.route_id", "i.route_id", "v.route_id"),  # issue 20 (migration 0080)
    "lander": ("c.lander_id", "i.lander_id", "v.lander_id"),
    "goal": ("NULL::text", "NULL::text", "v.goal"),
    "status": ("NULL::text", "NULL::text", "v.status"),
    # a conversion without a click has '' (ingest/conversions/one.py)
    "click_class": ("c.click_class", "i.click_class", "nullif(v.click_class, '')"),
}

# The currency of an offer's default terms at a row's time (migration 0021).
_TERM = ("(SELECT rtrim(t.currency) FROM offer_price_terms t WHERE t.offer_id = {a}.offer_id"
         " AND t.goal IS NULL AND t.valid_from <= {a}.created_at"
         " ORDER BY t.valid_from DESC, t.id DESC LIMIT 1)")  # fmt: skip


def advertisers(spec: Spec, args: Args) -> str:
    """The parameter holding each offer's advertiser, indexed by offer id (loaded with the
    report, in its snapshot: an offer's advertiser is fixed when it is created)."""
    assert spec.advertisers is not None, "load the offers' advertisers first (engine.run)"
    return args.once("advertisers", spec.advertisers)


def currencies(spec: Spec, args: Args) -> str:
    """The parameter holding each offer's currency, indexed by offer id."""
    assert spec.currencies is not None, "load the offers' currencies first (engine.run)"
    return args.once("currencies", spec.currencies)


def rollup(spec: Spec, args: Args) -> Expr:
    """The dimensions over a rollup row r: partner, offer, advertiser (ROLLUP_DIMS)."""

    def expr(dim: str) -> str:
        if dim == "advertiser":
            return f"({advertisers(spec, args)}::int8[])[r.offer_id]"
        if dim == "currency":
            return f"({currencies(spec, args)}::text[])[r.offer_id]"
        return ROLLUP[dim]

    return expr


def of(spec: Spec, args: Args, alias: str) -> Expr:
    """The dimensions over the row ``alias`` (one of ALIASES)."""
    n = ALIASES.index(alias)

    def expr(dim: str) -> str:
        if dim.startswith(PARAM):
            return f"({alias}.params ->> {args.add(dim[len(PARAM) :])}::text)"
        if dim == "advertiser":
            return f"({advertisers(spec, args)}::int8[])[{alias}.offer_id]"
        if dim == "currency":
            offer = f"({currencies(spec, args)}::text[])[{alias}.offer_id]"
            if spec.dated:  # the currency of the offer's terms at the row's time (0081)
                offer = (f"CASE WHEN {alias}.offer_id = ANY({args.once('dated', list(spec.dated))}"
                         f"::int8[]) THEN {_TERM.format(a=alias)} ELSE {offer} END")  # fmt: skip
            # a conversion's amounts are in the currency it was priced in
            return f"coalesce(rtrim(v.offer_currency), {offer})" if alias == "v" else offer
        if dim in _COLUMNS:
            return _COLUMNS[dim][n]
        assert dim in BY_NAME and BY_NAME[dim].kind != "time", dim
        return f"{alias}.{dim}"

    return expr
