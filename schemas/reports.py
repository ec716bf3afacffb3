"""The report API: its query (validated, 422 naming the field) and its answer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.types import Instant

SUBS = tuple(f"sub{i}" for i in range(1, 11))
INT_DIMS = ("partner", "offer", "link", "route", "lander")  # route, lander: issue 20
TEXT_DIMS = ("goal", *SUBS, "source", "country", "device", "os", "browser")
TIME_DIMS = ("hour", "day", "week", "month")
DIMENSIONS = (*INT_DIMS, *TEXT_DIMS, *TIME_DIMS)
COUNTS = ("gross_clicks", "unique_clicks", "human_clicks", "bot_clicks", "impressions",
          "conversions", "pending", "approved", "rejected", "reversed")  # fmt: skip
MONEY = ("revenue", "payout", "profit")
RATIOS = ("cr", "epc", "rpc")
METRICS = (*COUNTS, *MONEY, *RATIOS)
_ALIASES = {"affiliate": "partner"}  # the name of the first release
_FILTER = "comma-separated values; rows whose {} is one of them"


def _list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",")]
    if not items or any(not v for v in items) or len(items) > 500:
        raise ValueError("a comma-separated list of 1 to 500 non-empty values")
    if any(ord(ch) < 32 for v in items for ch in v):
        raise ValueError("control characters are not allowed")
    return items


class ReportQuery(BaseModel):
    """Query parameters of ``GET /api/v1/reports``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    group_by: str = Field(
        "partner",
        description="comma-separated, 1 to 5 of: " + ", ".join(DIMENSIONS)
        + " (hour, day, week and month are local to `tz`)",
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
        None, max_length=40, examples=["-payout"],
        description="a grouped dimension or a metric, `-` in front for descending; "
        "default: by the grouped dimensions",
    )  # fmt: skip
    limit: int = Field(1000, ge=1, le=100_000, description="at most this many rows")
    partner: str | None = Field(None, description=_FILTER.format("partner id"))
    offer: str | None = Field(None, description=_FILTER.format("offer id"))
    link: str | None = Field(None, description=_FILTER.format("tracking link id"))
    route: str | None = Field(None, description=_FILTER.format("smart link route id"))
    lander: str | None = Field(None, description=_FILTER.format("lander id"))
    goal: str | None = Field(None, description=_FILTER.format("goal code"))
    sub1: str | None = Field(None, description=_FILTER.format("sub1"))
    sub2: str | None = Field(None, description=_FILTER.format("sub2"))
    sub3: str | None = Field(None, description=_FILTER.format("sub3"))
    sub4: str | None = Field(None, description=_FILTER.format("sub4"))
    sub5: str | None = Field(None, description=_FILTER.format("sub5"))
    sub6: str | None = Field(None, description=_FILTER.format("sub6"))
    sub7: str | None = Field(None, description=_FILTER.format("sub7"))
    sub8: str | None = Field(None, description=_FILTER.format("sub8"))
    sub9: str | None = Field(None, description=_FILTER.format("sub9"))
    sub10: str | None = Field(None, description=_FILTER.format("sub10"))
    source: str | None = Field(None, description=_FILTER.format("traffic source"))
    country: str | None = Field(None, description=_FILTER.format("country code"))
    device: str | None = Field(None, description=_FILTER.format("device class"))
    os: str | None = Field(None, description=_FILTER.format("operating system"))
    browser: str | None = Field(None, description=_FILTER.format("browser"))

    @field_validator("group_by")
    @classmethod
    def _dims(cls, v: str) -> str:
        dims = [_ALIASES.get(d.strip(), d.strip()) for d in v.split(",")]
        unknown = [d for d in dims if d not in DIMENSIONS]
        if unknown:
            raise ValueError(f"unknown dimension {unknown[0]!r}; one of " + ", ".join(DIMENSIONS))
        if len(dims) > 5 or len(set(dims)) != len(dims):
            raise ValueError("1 to 5 different dimensions")
        return ",".join(dims)

    @field_validator("tz")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("partner", "offer", "link", "route", "lander")
    @classmethod
    def _ids(cls, v: str | None) -> str | None:
        items = _list(v)
        if items is not None and not all(i.isdigit() and len(i) < 19 for i in items):
            raise ValueError("a comma-separated list of ids")
        return v

    @field_validator("goal", *SUBS, "source", "country", "device", "os", "browser")
    @classmethod
    def _texts(cls, v: str | None) -> str | None:
        _list(v)
        return v

    @field_validator("sort")
    @classmethod
    def _sort(cls, v: str | None) -> str | None:
        if v is None:
            return None
        name = _ALIASES.get(v.lstrip("-"), v.lstrip("-"))
        if name not in (*DIMENSIONS, *METRICS):
            raise ValueError("a dimension or a metric: " + ", ".join(METRICS))
        return "-" * v.startswith("-") + name

    def dimensions(self) -> list[str]:
        return self.group_by.split(",")

    def filters(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name in (*INT_DIMS, *TEXT_DIMS):
            items = _list(getattr(self, name))
            if items is not None:
                out[name] = items
        return out


_HIDDEN = (
    " Null for partner keys (a partner sees its own clicks, conversions and payout, "
    "never revenue or profit)."
)
_ADV = " Null for advertiser keys (an advertiser sees revenue, its cost, never our payout)."


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
    epc: Decimal | None = Field(description="payout per gross click, 4 decimals." + _ADV)
    rpc: Decimal | None = Field(description="revenue per gross click, 4 decimals." + _HIDDEN)


class Report(BaseModel):
    group_by: list[str]
    tz: str
    date_from: datetime = Field(alias="from")
    date_to: datetime = Field(alias="to")
    source: Literal["rollup", "raw"] = Field(
        description="rollup: read from rollup_spans (any range on quarter hours, grouped and "
        "filtered by partner, offer and time); raw: computed from the stored rows; both exact"
    )
    total_rows: int = Field(description="rows before `limit`")
    rows: list[ReportRow]
    totals: ReportRow = Field(description="sums over every row, not only those returned")

    model_config = ConfigDict(populate_by_name=True)
