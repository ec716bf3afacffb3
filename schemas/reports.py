"""The report API: its query (validated, 422 naming the field) and its answer.

Every dimension is one line of ``DIMENSIONS``: the query's ``group_by``, its filter
parameter, the OpenAPI text and the SQL (tracker/store/reports/dims.py: by default the
column of the same name on clicks, impressions and conversions) all follow from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from schemas.conversions import Status
from schemas.events import ClickClass
from schemas.types import Instant, known_zone


@dataclass(frozen=True)
class Dimension:
    """``kind``: ``id`` (a number), ``text`` or ``time`` (a local bucket of ``tz``);
    ``values``: the closed set a filter may name (None: any text)."""

    name: str
    kind: Literal["id", "text", "time"]
    about: str
    values: tuple[str, ...] | None = None


STATUSES: tuple[str, ...] = get_args(Status)  # held too (docs/adr/0080): never counted
CLICK_CLASSES: tuple[str, ...] = get_args(ClickClass)
SUBS = tuple(f"sub{i}" for i in range(1, 11))
DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("advertiser", "id", "advertiser id (the offer's advertiser)"),
    Dimension("offer", "id", "offer id"),
    Dimension("partner", "id", "partner (affiliate) id"),
    Dimension("link", "id", "tracking link id"),
    # issue 20 (docs/adr/0110): null off smart links, and for the offer's own landing URL
    Dimension("route", "id", "smart link route id (null: not through a smart link)"),
    Dimension("lander", "id", "lander id (null: the offer's landing URL)"),
    Dimension("goal", "text", "goal code of a conversion (clicks and impressions: null)"),
    Dimension("status", "text", "status of a conversion (null for clicks, impressions)", STATUSES),
    Dimension("country", "text", "ISO country code ('' when unknown)"),
    Dimension("region", "text", "region (subdivision) code ('' when unknown)"),
    Dimension("city", "text", "city name ('' when unknown)"),
    Dimension("device", "text", "device class: desktop, mobile, tablet, bot, …"),
    Dimension("os", "text", "operating system"),
    Dimension("browser", "text", "browser"),
    *(Dimension(s, "text", s) for s in SUBS),
    Dimension("source", "text", "traffic source"),
    Dimension("referer_domain", "text", "host of the referer (lower case, no port)"),
    Dimension(
        "click_class", "text", "class of the click (its click's, for a conversion)", CLICK_CLASSES
    ),
    Dimension("currency", "text", "currency of the amounts (the offer's; a conversion's own)"),
    Dimension("hour", "time", "local hour of `tz`, YYYY-MM-DDTHH:00"),
    Dimension("day", "time", "local day of `tz`, YYYY-MM-DD"),
    Dimension("week", "time", "local ISO week of `tz`, its Monday YYYY-MM-DD"),
    Dimension("month", "time", "local month of `tz`, YYYY-MM"),
)
BY_NAME = {d.name: d for d in DIMENSIONS}
TIME_DIMS = tuple(d.name for d in DIMENSIONS if d.kind == "time")
INT_DIMS = tuple(d.name for d in DIMENSIONS if d.kind == "id")
TEXT_DIMS = tuple(d.name for d in DIMENSIONS if d.kind == "text")
FILTERS = (*INT_DIMS, *TEXT_DIMS)
# A custom parameter of the click (``params``), by name: ``param:NAME`` in group_by and sort,
# ``param=NAME:v1,v2`` as a filter.
PARAM = "param:"
PARAM_NAME = r"[A-Za-z0-9_.\-]{1,64}"
COUNTS = ("gross_clicks", "unique_clicks", "human_clicks", "bot_clicks", "impressions",
          "conversions", *STATUSES)  # fmt: skip
MONEY = ("revenue", "payout", "profit",
         *(f"{s}_{m}" for s in STATUSES for m in ("revenue", "payout")))  # fmt: skip
RATIOS = ("cr", "epc", "rpc")
METRICS = (*COUNTS, *MONEY, *RATIOS)
MAX_DIMS = 5
_ALIASES = {"affiliate": "partner"}  # the name of the first release

_ITEM = "|".join([*(re.escape(n) for n in (*BY_NAME, *_ALIASES)), f"{PARAM}{PARAM_NAME}"])
GROUP_BY = re.compile(rf"^(?:{_ITEM})(?:,(?:{_ITEM})){{0,{MAX_DIMS - 1}}}$")
_SORT = re.compile(rf"^-?(?:{_ITEM}|{'|'.join(METRICS)})$")
_VALUE = r"[^,\x00-\x1f]+"
_IDS = re.compile(r"^[0-9]{1,18}(?:,[0-9]{1,18}){0,499}$")
_TEXTS = re.compile(rf"^{_VALUE}(?:,{_VALUE}){{0,499}}$")
_PARAM_FILTER = re.compile(rf"^{PARAM_NAME}:{_VALUE}(?:,{_VALUE}){{0,499}}$")


def _filter_field(d: Dimension) -> Any:
    if d.kind == "id":
        rule, what = _IDS, "comma-separated ids"
    elif d.values is not None:
        one = "|".join(d.values)
        rule = re.compile(rf"^(?:{one})(?:,(?:{one})){{0,{len(d.values) - 1}}}$")
        what = "comma-separated, of: " + ", ".join(d.values)
    else:
        rule, what = _TEXTS, "comma-separated values (no control characters, no commas in one)"
    return (
        str | None,
        Field(None, pattern=rule.pattern, description=f"{what}; rows whose {d.about} is one of "
              "them (a row without the value never matches)"),
    )  # fmt: skip


def _not_network(name: str) -> None:
    # trk_* parameters are the network's own: no key sees them (docs/visibility.md)
    if name[:4].lower() == "trk_":
        raise ValueError(f"{name!r}: trk_* parameters are the network's own")


def _items(value: str) -> list[str]:
    return [v.strip() for v in value.split(",")]


class _Query(BaseModel):
    """Query parameters of ``GET /api/v1/reports`` (a filter per dimension is added below)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    group_by: str = Field(
        "partner", max_length=400, json_schema_extra={"pattern": GROUP_BY.pattern},
        description=f"comma-separated, 1 to {MAX_DIMS} different ones of: "
        + ", ".join(BY_NAME) + f", and `{PARAM}NAME` for a custom parameter of the click "
        "(not `trk_*`: those are the network's own; hour, day, week and month are local to "
        "`tz`)",
        examples=["partner,day"],
    )  # fmt: skip
    date_from: Instant | None = Field(
        None, alias="from", description="start (inclusive); without an offset it is read in `tz`; "
        "default: 7 days before `to`", examples=["2026-11-01T00:00:00+05:30"],
    )  # fmt: skip
    date_to: Instant | None = Field(
        None, alias="to", description="end (exclusive); default: the next whole hour"
    )
    tz: str = Field("UTC", max_length=64, description="IANA time zone", examples=["Asia/Kolkata"])
    sort: str | None = Field(
        None, max_length=80, json_schema_extra={"pattern": _SORT.pattern}, examples=["-payout"],
        description="a grouped dimension or a metric, `-` in front for descending; "
        "default: by the grouped dimensions",
    )  # fmt: skip
    limit: int = Field(1000, ge=1, le=100_000, description="at most this many rows")
    param: list[Annotated[str, Field(pattern=_PARAM_FILTER.pattern)]] | None = Field(
        None, max_length=MAX_DIMS,
        description=f"`NAME:v1,v2`: rows whose custom parameter NAME is one of the values; "
        f"repeat for several parameters (at most {MAX_DIMS})",
        examples=[["utm_campaign:spring,summer"]],
    )  # fmt: skip

    @field_validator("group_by")
    @classmethod
    def _dims(cls, v: str) -> str:
        dims = [_ALIASES.get(d, d) for d in _items(v)]
        for d in dims:
            if d not in BY_NAME and not re.fullmatch(f"{PARAM}{PARAM_NAME}", d):
                raise ValueError(
                    f"unknown dimension {d!r}; one of " + ", ".join(BY_NAME) + f", {PARAM}NAME"
                )
            _not_network(d.removeprefix(PARAM) if d.startswith(PARAM) else "")
        if not GROUP_BY.match(v) or len(dims) > MAX_DIMS or len(set(dims)) != len(dims):
            raise ValueError(f"1 to {MAX_DIMS} different dimensions, comma-separated")
        return ",".join(dims)

    @field_validator("tz")
    @classmethod
    def _zone(cls, v: str) -> str:
        return known_zone(v)

    @field_validator("sort")
    @classmethod
    def _sort(cls, v: str | None) -> str | None:
        if v is None:
            return None
        name = _ALIASES.get(v.lstrip("-"), v.lstrip("-"))
        if not _SORT.match(v):
            raise ValueError("a dimension or a metric: " + ", ".join(METRICS))
        return "-" * v.startswith("-") + name

    @field_validator(*FILTERS, check_fields=False)
    @classmethod
    def _no_blank(cls, v: str | None) -> str | None:
        if v is not None and any(not item for item in _items(v)):
            raise ValueError("a comma-separated list of non-empty values")
        return v

    @field_validator("param")
    @classmethod
    def _params(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len({p.partition(":")[0] for p in v}) != len(v):
            raise ValueError("one filter per parameter name")
        for p in v or ():
            _not_network(p.partition(":")[0])
        return v

    def dimensions(self) -> list[str]:
        return self.group_by.split(",")

    def filters(self) -> dict[str, list[str]]:
        """Each filtered dimension's values (``param:NAME`` for a custom parameter)."""
        out: dict[str, list[str]] = {}
        for name in FILTERS:
            value = getattr(self, name)
            if value is not None:
                out[name] = _items(value)
        for p in self.param or ():
            name, _, values = p.partition(":")
            out[PARAM + name] = _items(values)
        return out


if TYPE_CHECKING:
    ReportQuery = _Query
else:
    ReportQuery = create_model(
        "ReportQuery", __base__=_Query, __doc__=_Query.__doc__,
        **{d.name: _filter_field(d) for d in DIMENSIONS if d.name in FILTERS},
    )  # fmt: skip


_HIDDEN = (
    " Null for partner keys (a partner sees its own clicks, conversions and payout, "
    "never revenue or profit)."
)
_ADV = " Null for advertiser keys (an advertiser sees revenue, its cost, never our payout)."
_BY_STATUS = "the price of the conversions now {}, exact (no CPC/CPM)."


class ReportRow(BaseModel):
    key: str | int | None = Field(
        description="the value of the grouped dimension (values joined by `|` when grouped by "
        "several; `total` in the totals row); null: not known or not applicable "
        "(clicks have no goal, impressions no sub-ids)"
    )
    group: dict[str, str | int | None] = Field(description="each grouped dimension's value")
    gross_clicks: int = Field(description="clicks other than HEAD requests")
    unique_clicks: int
    human_clicks: int
    bot_clicks: int = Field(description="bots, link previews and prefetches")
    impressions: int
    conversions: int = Field(description="pending + approved (the counted statuses)")
    pending: int
    approved: int
    held: int = Field(description="held by the tracker (a full cap, no currency rate): not counted")
    rejected: int
    reversed: int
    cr: Decimal | None = Field(description="conversions per 100 gross clicks, 4 decimals")
    revenue: Decimal | None = Field(
        description="what the advertiser pays: conversions (counted statuses) + CPC + CPM, "
        "exact." + _HIDDEN
    )
    payout: Decimal | None = Field(
        description="what the partner earns: conversions (counted statuses) + CPC + CPM, "
        "exact." + _ADV
    )
    profit: Decimal | None = Field(description="revenue − payout." + _HIDDEN + _ADV)
    pending_revenue: Decimal | None = Field(description=_BY_STATUS.format("pending") + _HIDDEN)
    pending_payout: Decimal | None = Field(description=_BY_STATUS.format("pending") + _ADV)
    approved_revenue: Decimal | None = Field(description=_BY_STATUS.format("approved") + _HIDDEN)
    approved_payout: Decimal | None = Field(description=_BY_STATUS.format("approved") + _ADV)
    held_revenue: Decimal | None = Field(description=_BY_STATUS.format("held") + _HIDDEN)
    held_payout: Decimal | None = Field(
        description=_BY_STATUS.format("held") + " Never pending payout." + _ADV
    )
    rejected_revenue: Decimal | None = Field(description=_BY_STATUS.format("rejected") + _HIDDEN)
    rejected_payout: Decimal | None = Field(description=_BY_STATUS.format("rejected") + _ADV)
    reversed_revenue: Decimal | None = Field(description=_BY_STATUS.format("reversed") + _HIDDEN)
    reversed_payout: Decimal | None = Field(description=_BY_STATUS.format("reversed") + _ADV)
    epc: Decimal | None = Field(description="payout per gross click, 4 decimals." + _ADV)
    rpc: Decimal | None = Field(description="revenue per gross click, 4 decimals." + _HIDDEN)


class Report(BaseModel):
    group_by: list[str]
    tz: str
    date_from: datetime = Field(alias="from")
    date_to: datetime = Field(alias="to")
    currency: str | None = Field(
        description="the currency of every amount; null when the report holds several: its "
        "rows are then split by `currency` (added to `group_by`) and the totals row's amounts "
        "are null (amounts in different currencies are never added)"
    )
    source: Literal["rollup", "raw"] = Field(
        description="rollup: read from rollup_spans (any range on quarter hours, grouped and "
        "filtered by advertiser, partner, offer and time); raw: computed from the stored "
        "rows; both exact"
    )
    total_rows: int = Field(description="rows before `limit`")
    rows: list[ReportRow]
    totals: ReportRow = Field(description="sums over every row, not only those returned")

    model_config = ConfigDict(populate_by_name=True)
