"""Which rollup rows answer a report exactly, or None when only raw rows can.

``rollup_spans`` holds each fact at seven nested spans aligned in UTC. A report
may read a rollup row only when the row lies inside one of its local buckets
(hour, day, week, month in its time zone) and inside [from, to). ``cover``
splits the range greedily into the coarsest rows that satisfy this: a local
day in Asia/Kolkata (18:30 to 18:30 UTC) becomes two half hours, two hours and
rows of 3, 6 and 12 hours. ``cuts`` (the instants where a CPC/CPM rate changes,
docs/adr/0036) are edges too: no row may hold one strictly inside. ``phases`` are the
local midnights (seconds after UTC midnight) whose days have rows of their own
(docs/adr/0062): a local day that fits is one row, the rest is nested pieces. A zone whose
bucket edges are not on a UTC quarter hour (historical local mean time) gets None,
and so does an unaligned range or cut.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tracker.store.reports.rollups import SPANS

TIME_DIMS = ("hour", "day", "week", "month")
DAY = SPANS[-1]
_TINY = timedelta(microseconds=1)
Label = tuple[int, ...]


def _labeller(unit: str, zone: ZoneInfo) -> Callable[[datetime], Label]:
    def label(t: datetime) -> Label:
        d = t.astimezone(zone)
        if unit == "hour":
            return (d.year, d.month, d.day, d.hour)
        if unit == "day":
            return (d.year, d.month, d.day)
        if unit == "week":
            iso = d.isocalendar()
            return (iso.year, iso.week)
        return (d.year, d.month)

    return label


def cover(
    start: datetime,
    end: datetime,
    units: Sequence[str],
    zone: ZoneInfo,
    cuts: Sequence[int] = (),
    phases: Sequence[int] = (),
) -> list[tuple[int, datetime]] | None:
    """(span, start) of the rollup rows that make up [start, end) without crossing a
    local bucket of any of ``units`` nor any of the sorted ``cuts`` (epoch seconds),
    using the days that start at ``phases`` too; None when rollup rows cannot."""
    a, b = start.timestamp(), end.timestamp()
    if a % 900 or b % 900 or any(c % 900 for c in cuts):
        return None
    labels = [_labeller(u, zone) for u in units]

    def fits(t: int, span: int) -> bool:
        i = bisect_right(cuts, t)
        if i < len(cuts) and cuts[i] < t + span:
            return False
        first = datetime.fromtimestamp(t, UTC)
        last = first + timedelta(seconds=span) - _TINY
        return all(lab(first) == lab(last) for lab in labels)

    out: list[tuple[int, int]] = []

    def fill(lo: int, hi: int, level: int) -> bool:
        span = SPANS[level]
        if level == 0:
            for t in range(lo, hi, span):
                if not fits(t, span):
                    return False
                out.append((span, t))
            return True
        first, last = -(-lo // span) * span, hi // span * span
        if first >= last:
            return fill(lo, hi, level - 1)
        if not fill(lo, first, level - 1):
            return False
        for t in range(first, last, span):
            if fits(t, span):
                out.append((span, t))
            elif not fill(t, t + span, level - 1):
                return False
        return fill(last, hi, level - 1)

    top, pos, end_ = len(SPANS) - 1, int(a), int(b)
    if phases and "hour" not in units:  # no day lies inside one local hour
        # every day of every phase inside the range, in time order; the earliest that fits
        # is taken, and what lies before it is filled with nested pieces
        starts = sorted(t for p in {0, *phases}
                        for t in range(pos + (p - pos) % DAY, end_ - DAY + 1, DAY))  # fmt: skip
        for t in starts:
            if t >= pos and fits(t, DAY):
                if not fill(pos, t, top):
                    return None
                out.append((DAY, t))
                pos = t + DAY
    if not fill(pos, end_, top):
        return None
    return [(s, datetime.fromtimestamp(t, UTC)) for s, t in out]


_FORMAT = {"hour": "%Y-%m-%dT%H:00", "day": "%Y-%m-%d", "month": "%Y-%m"}


def cover_both(
    start: datetime,
    end: datetime,
    units: Sequence[str],
    zone: ZoneInfo,
    cuts: Sequence[int] = (),
    phases: Sequence[int] = (),
) -> tuple[list[tuple[int, datetime]] | None, list[tuple[int, datetime]] | None]:
    """(pieces, buckets): ``cover`` with the rate changes' ``cuts``, and without them (whole
    local days where a rate changed inside one: reports/daily.py reads its rows from
    ``buckets`` and only the priced offers' money from ``pieces``)."""
    pieces = cover(start, end, units, zone, cuts, phases)
    if pieces is None or not cuts:
        return pieces, pieces
    return pieces, cover(start, end, units, zone, (), phases)


def label(t: datetime, unit: str, zone: ZoneInfo) -> str:
    """The local bucket of ``t`` as reports name it (a week by its Monday)."""
    d = t.astimezone(zone)
    if unit == "week":
        return (d.date() - timedelta(days=d.weekday())).isoformat()
    return d.strftime(_FORMAT[unit])
