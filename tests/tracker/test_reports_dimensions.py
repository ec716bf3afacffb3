"""Every dimension and filter of the report API answers, and equals the ground truth
computed in Python from the stored rows (tests/tracker/reports_truth.py).

One generated world (clicks and impressions through the real worker with a GeoIP
database, referers, every sub-id and custom parameters; conversions with their click's
class; statuses changed afterwards), anchored five weeks before 2026-11-05 so that it
holds the DST changes of Adelaide (Oct 4), London (Oct 25) and New York (Nov 1) whatever
day the suite runs.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from redis.asyncio import Redis

from schemas.reports import DIMENSIONS, MAX_DIMS, Report
from tests.tracker.reports_truth import Truth, assert_matches
from tests.tracker.reports_world import PARAMS, build
from tracker.settings import Settings

NOW = datetime(2026, 11, 5, 6, tzinfo=UTC)
ZONES = ("Asia/Kolkata", "America/New_York", "Australia/Adelaide", "Europe/London",
         "Asia/Kathmandu", "UTC")  # fmt: skip
ALL = [d.name for d in DIMENSIONS] + [f"param:{p}" for p in PARAMS]


async def _get(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    r = await api.get("/api/v1/reports", params=params)
    assert r.status_code == 200, (params, r.text)
    out: dict[str, Any] = r.json()
    Report.model_validate(out)
    return out


def _query(dims: list[str], filters: dict[str, list[str]]) -> dict[str, Any]:
    q: dict[str, Any] = {"group_by": ",".join(dims), "limit": 100_000}
    params = [f"{k[6:]}:{','.join(v)}" for k, v in filters.items() if k.startswith("param:")]
    q |= {k: ",".join(v) for k, v in filters.items() if not k.startswith("param:")}
    if params:
        q["param"] = params
    return q


def _values(truth: dict[tuple[Any, ...], dict[str, Any]]) -> list[str]:
    # a filter names values; an empty one (an unknown country, say) cannot be named
    return sorted({str(k[0]) for k in truth if k[0] is not None and str(k[0]).strip()})


async def test_every_dimension_and_its_filter_equal_the_raw_rows(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    w = await build(pool, redis, settings, seed=22, now=NOW)
    truth = await Truth.load(pool, w["offers"])
    scope = {"offer": [str(o) for o in w["offers"]]}
    start, end = NOW - timedelta(days=33, minutes=5), NOW - timedelta(hours=1, seconds=3)
    span = {"from": start.isoformat(), "to": end.isoformat(), "tz": "America/New_York"}
    seen_values = 0
    for dim in ALL:
        want = truth.report([dim], start, end, "America/New_York", scope)
        ans = await _get(api, **span, **_query([dim], scope))
        assert_matches(ans, want)
        values = _values(want)
        # each dimension has values in this world (and more than one where it can)
        assert values, dim
        seen_values += len(values) > 1
        # filtered by two of its values (one for a time bucket: a filter needs a dimension)
        if dim in ("hour", "day", "week", "month"):
            continue
        chosen = random.Random(dim).sample(values, min(2, len(values)))
        filters = {**scope, dim: chosen}
        want = truth.report(["partner", "day"], start, end, "America/New_York", filters)
        assert want, dim
        assert_matches(await _get(api, **span, **_query(["partner", "day"], filters)), want)
    assert seen_values >= len(ALL) - 2  # click_class of conversions, say, may be one value


async def test_any_five_dimensions_with_filters_in_any_zone(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    w = await build(pool, redis, settings, seed=23, now=NOW)
    truth = await Truth.load(pool, w["offers"])
    scope = {"offer": [str(o) for o in w["offers"]]}
    rnd = random.Random(2222)
    for n in range(24):
        tz = ZONES[n % len(ZONES)]
        zone = ZoneInfo(tz)
        # local midnights (a day of 23 or 25 hours included) or an unaligned range
        days_back = rnd.randrange(8, 35)
        d = (NOW - timedelta(days=days_back)).astimezone(zone).date()
        start = datetime(d.year, d.month, d.day, tzinfo=zone).astimezone(UTC)
        if n % 3 == 2:
            start += timedelta(minutes=rnd.randrange(1, 600), seconds=7)
        end = min(start + timedelta(days=rnd.randrange(1, 30)), NOW)
        dims = rnd.sample(ALL, rnd.randrange(1, MAX_DIMS + 1))
        filters = dict(scope)
        for dim in rnd.sample([d for d in ALL if d not in ("hour", "day", "week", "month")],
                              rnd.randrange(0, 3)):  # fmt: skip
            values = _values(truth.report([dim], start, end, tz, scope))
            if values:
                filters[dim] = rnd.sample(values, min(len(values), rnd.randrange(1, 4)))
        want = truth.report(dims, start, end, tz, filters)
        q = {**_query(dims, filters), "from": start.isoformat(), "to": end.isoformat(), "tz": tz}
        ans = await _get(api, **q)
        assert_matches(ans, want)
        assert ans["total_rows"] == len(want)


async def test_advertiser_reports_read_the_rollup_exactly(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    w = await build(pool, redis, settings, seed=24, now=NOW)
    truth = await Truth.load(pool, w["offers"])
    advs = [str(a) for a in w["advertisers"]]
    for tz in ("Asia/Kolkata", "Australia/Adelaide", "America/New_York"):
        zone = ZoneInfo(tz)
        d0 = (NOW - timedelta(days=34)).astimezone(zone).date()
        d1 = (NOW - timedelta(days=1)).astimezone(zone).date()
        start = datetime(d0.year, d0.month, d0.day, tzinfo=zone).astimezone(UTC)
        end = datetime(d1.year, d1.month, d1.day, tzinfo=zone).astimezone(UTC)
        for dims in (["advertiser", "day"], ["week", "advertiser", "partner"]):
            q = {"group_by": ",".join(dims), "advertiser": ",".join(advs), "tz": tz,
                 "from": start.isoformat(), "to": end.isoformat(), "limit": 100_000}  # fmt: skip
            ans = await _get(api, **q)
            assert ans["source"] == "rollup", (tz, dims)
            assert_matches(ans, truth.report(dims, start, end, tz, {"advertiser": advs}))


async def test_new_report_parameters_refuse_bad_input_naming_the_field(
    api: httpx.AsyncClient,
) -> None:
    cases = [
        ({"group_by": "param:"}, "group_by"), ({"group_by": "param:a b"}, "group_by"),
        ({"group_by": "param:x,param:x"}, "group_by"), ({"param": "utm"}, "param"),
        ({"param": ["a:1", "a:2"]}, "param"), ({"param": "a:"}, "param"),
        ({"status": "paid"}, "status"), ({"click_class": "robot"}, "click_class"),
        ({"advertiser": "x"}, "advertiser"), ({"region": "a,,b"}, "region"),
        ({"sort": "param:a"}, "sort"), ({"city": "\x07"}, "city"),
        ({"param": [f"p{i}:1" for i in range(MAX_DIMS + 1)]}, "param"),
    ]  # fmt: skip
    for params, field in cases:
        r = await api.get("/api/v1/reports", params=params)
        assert r.status_code == 422, (params, r.text)
        body = r.json()
        # a list's item is named with its index (param.0)
        assert body["error"]["field"].split(".")[0] == field, body
        assert body["error"]["code"] == "invalid", body


async def test_amounts_in_several_currencies_are_never_added(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    w = await build(pool, redis, settings, seed=25, now=NOW, currencies=("USD", "EUR", "USD"))
    truth = await Truth.load(pool, w["offers"])
    scope = {"offer": [str(o) for o in w["offers"]]}
    start, end = NOW - timedelta(days=20, minutes=7), NOW - timedelta(hours=2)
    span = {"from": start.isoformat(), "to": end.isoformat(), "tz": "Asia/Kolkata"}
    for dims in (["partner", "day"], ["sub1"], ["offer"]):
        ans = await _get(api, **span, **_query(dims, scope))
        # split by currency, the totals' amounts null, the counts still summed
        assert ans["group_by"] == [*dims, "currency"] and ans["currency"] is None, ans["group_by"]
        assert_matches(ans, truth.report([*dims, "currency"], start, end, "Asia/Kolkata", scope))
        assert {r["group"]["currency"] for r in ans["rows"]} == {"USD", "EUR"}
        t = ans["totals"]
        assert all(t[m] is None for m in ("revenue", "payout", "profit", "epc", "rpc",
                                           "approved_payout")), t  # fmt: skip
        assert t["gross_clicks"] == sum(r["gross_clicks"] for r in ans["rows"])
    # one currency asked for: one currency in the answer, totals with their amounts
    one = {**scope, "currency": ["EUR"]}
    ans = await _get(api, **span, **_query(["partner"], one))
    assert ans["group_by"] == ["partner"] and ans["currency"] == "EUR"
    assert_matches(ans, truth.report(["partner"], start, end, "Asia/Kolkata", one))
    assert ans["totals"]["payout"] is not None
    # by currency on the rollup (a report by partner and day in a registered zone)
    zone = ZoneInfo("Asia/Kolkata")
    d0, d1 = (NOW - timedelta(days=30)).astimezone(zone), (NOW - timedelta(days=1)).astimezone(zone)
    start = datetime(d0.year, d0.month, d0.day, tzinfo=zone).astimezone(UTC)
    end = datetime(d1.year, d1.month, d1.day, tzinfo=zone).astimezone(UTC)
    q = {"from": start.isoformat(), "to": end.isoformat(), "tz": "Asia/Kolkata"}
    ans = await _get(api, **q, **_query(["partner", "day"], scope))
    assert ans["source"] == "rollup" and ans["group_by"] == ["partner", "day", "currency"]
    want = truth.report(["partner", "day", "currency"], start, end, "Asia/Kolkata", scope)
    assert_matches(ans, want)
