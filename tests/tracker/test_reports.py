"""The report API against a ground truth computed in Python from the same rows.

One generated world (module scope would share servers; each test builds its own
so they stay independent): clicks and impressions through the real worker,
conversions with statuses changed afterwards, fine CPC/CPM rates, five weeks
that hold the DST changes of New York and London and Adelaide's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from ingest.partitions import create
from schemas.reports import Report
from tests.tracker.reports_truth import Truth, assert_matches, rows_of
from tests.tracker.reports_world import build
from tracker.settings import Settings
from tracker.store.keys import create_key
from tracker.store.reports import plan, rates, sql

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
ZONES = ("Asia/Kolkata", "Asia/Kathmandu", "America/New_York", "Australia/Adelaide", "UTC")


def _local_midnight(days_ago: int, tz: str) -> datetime:
    d = (NOW - timedelta(days=days_ago)).astimezone(ZoneInfo(tz)).date()
    return datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


async def _get(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    r = await api.get("/api/v1/reports", params=params)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    Report.model_validate(out)  # the answer is what the OpenAPI document says
    return out


async def test_reports_match_the_ground_truth(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    w = await build(pool, redis, settings, seed=6, now=NOW)
    offers = w["offers"]
    scope = {"offer": ",".join(map(str, offers))}
    truth = await Truth.load(pool, offers)
    assert len(truth.clicks) > 1500 and len(truth.impressions) > 300
    # Local days, hours, weeks and months in whole-, half- and quarter-hour zones, over DST.
    for tz in ZONES:
        start, end = _local_midnight(34, tz), _local_midnight(-1, tz)
        for dims in (["partner", "day"], ["offer", "hour"], ["week"], ["month", "partner"]):
            # without offers in the query the partners' totals answer (offer_id 0 rows)
            key = "offer" if "offer" in dims else "partner"
            ids = [str(i) for i in w["offers" if key == "offer" else "partners"]]
            ans = await _get(api, group_by=",".join(dims), tz=tz, **{"from": start.isoformat(),
                             "to": end.isoformat(), key: ",".join(ids)}, limit=100000)  # fmt: skip
            assert ans["source"] == "rollup", (tz, dims)
            assert_matches(ans, truth.report(dims, start, end, tz, {key: ids}))
    # Dimensions the rollup does not hold, filters, an unaligned range: raw rows, exact too.
    start, end = NOW - timedelta(days=20, minutes=7), NOW - timedelta(days=2, seconds=1)
    span = {"from": start.isoformat(), "to": end.isoformat(), "tz": "Asia/Kolkata"}
    cases: list[tuple[list[str], dict[str, list[str]]]] = [
        (["sub1"], {}), (["sub1", "sub2", "day"], {}), (["country", "device"], {}),
        (["os", "browser"], {}), (["goal", "offer"], {}), (["link"], {}), (["source"], {}),
        (["partner", "day"], {"partner": [str(w["partners"][1])]}),
        (["offer"], {"sub1": ["a", "b"], "source": ["fb"]}),
    ]  # fmt: skip
    for dims, filters in cases:
        params = {k: ",".join(v) for k, v in filters.items()}
        ans = await _get(api, group_by=",".join(dims), **span, **{**scope, **params})
        assert ans["source"] == "raw" or set(dims) <= {"partner", "offer", "day"}, dims
        want = truth.report(dims, start, end, "Asia/Kolkata",
                            {"offer": scope["offer"].split(","), **filters})  # fmt: skip
        assert_matches(ans, want)
        # the totals row is the sum of the rows
        for name in ("gross_clicks", "impressions", "pending", "reversed", "conversions"):
            assert ans["totals"][name] == sum(r[name] for r in ans["rows"]), name
        assert Decimal(ans["totals"]["payout"]) == sum(Decimal(r["payout"]) for r in ans["rows"])


async def test_rollup_and_raw_agree_exactly(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    w = await build(pool, redis, settings, seed=7, now=NOW)
    for tz, dims in (("Asia/Kathmandu", ["partner", "offer", "hour"]), ("Asia/Kathmandu", ["hour"]),
                     ("Australia/Adelaide", ["day", "partner"]), ("Europe/London", ["week", "offer"])):  # fmt: skip
        key = "offer" if "offer" in dims else "partner"
        spec = sql.Spec(dims=dims, start=_local_midnight(35, tz), end=_local_midnight(-1, tz),
                        tz=tz, filters={key: [str(o) for o in w[key + "s"]]})  # fmt: skip
        async with pool.acquire() as conn:
            spec.periods = await rates.load(conn, spec)
        pieces = plan.cover(spec.start, spec.end, [d for d in dims if d in plan.TIME_DIMS],
                            ZoneInfo(tz), spec.periods.cuts())  # fmt: skip
        assert pieces is not None, tz
        a = {tuple(r) for r in await pool.fetch(*_q(sql.rollup(spec, pieces)))}
        b = {tuple(r) for r in await pool.fetch(*_q(sql.raw(spec)))}
        assert a == b and len(a) > 10, (tz, dims)


def _q(built: tuple[str, list[Any]]) -> list[Any]:
    return [built[0], *built[1]]


def test_cover_refuses_what_it_cannot_answer_exactly() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    assert (
        plan.cover(t0 + timedelta(minutes=5), t0 + timedelta(days=1), [], ZoneInfo("UTC")) is None
    )
    # Amsterdam kept +00:19:32 until 1937: its days do not start on a quarter hour.
    old = datetime(1930, 1, 1, tzinfo=UTC)
    assert plan.cover(old, old + timedelta(days=3), ["day"], ZoneInfo("Europe/Amsterdam")) is None
    pieces = plan.cover(t0, t0 + timedelta(days=30), ["day"], ZoneInfo("Asia/Kolkata"))
    assert pieces is not None and len(pieces) <= 30 * 12 + 4
    covered = sum(s for s, _ in pieces)
    assert covered == 30 * 86400  # no gap, no overlap
    assert sorted(t for _, t in pieces) == sorted({t for _, t in pieces})


async def test_roles_see_only_their_rows_and_fields(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    w = await build(pool, redis, settings, seed=8, now=NOW)
    truth = await Truth.load(pool, w["offers"])
    p1, adv0 = w["partners"][1], w["advertisers"][0]
    start, end = NOW - timedelta(days=40), NOW + timedelta(hours=1)
    span = {"from": start.isoformat(), "to": end.isoformat(), "group_by": "partner,offer"}
    partner = (await create_key(pool, "affiliate", affiliate_id=p1)).token
    adv = (await create_key(pool, "advertiser", advertiser_id=adv0)).token
    async with httpx.AsyncClient(base_url=service, timeout=30) as http:
        auth = {"Authorization": f"Bearer {partner}"}
        ans = (await http.get("/api/v1/reports", params=span, headers=auth)).json()
        assert {r["group"]["partner"] for r in ans["rows"]} == {p1}
        assert_matches(ans, truth.report(["partner", "offer"], start, end, "UTC", partner=p1),
                       hidden=("revenue",))  # fmt: skip
        for r in [*ans["rows"], ans["totals"]]:
            assert r["revenue"] is None and r["profit"] is None and r["rpc"] is None
        # another partner asked for by name: still only its own rows
        other = {**span, "partner": str(w["partners"][0])}
        assert (await http.get("/api/v1/reports", params=other, headers=auth)).json()["rows"] == []
        bad = await http.get("/api/v1/reports", params={**span, "sort": "-revenue"}, headers=auth)
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "sort"
        auth = {"Authorization": f"Bearer {adv}"}
        ans = (await http.get("/api/v1/reports", params=span, headers=auth)).json()
        mine = set(w["offers"][:2])
        assert {r["group"]["offer"] for r in ans["rows"]} == mine
        assert_matches(ans, truth.report(["partner", "offer"], start, end, "UTC", offers=mine),
                       hidden=("payout",))  # fmt: skip
        for r in [*ans["rows"], ans["totals"]]:
            assert r["payout"] is None and r["profit"] is None and r["epc"] is None


async def test_sort_limit_and_totals(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    w = await build(pool, redis, settings, seed=9, now=NOW)
    base = {"group_by": "partner,offer", "offer": ",".join(map(str, w["offers"])),
            "from": (NOW - timedelta(days=40)).isoformat()}  # fmt: skip
    full = await _get(api, **base)
    assert full["total_rows"] == len(full["rows"]) == 9
    top = await _get(api, **base, sort="-gross_clicks", limit=3)
    assert top["total_rows"] == 9 and len(top["rows"]) == 3
    counts = sorted((r["gross_clicks"] for r in full["rows"]), reverse=True)
    assert [r["gross_clicks"] for r in top["rows"]] == counts[:3]
    assert top["totals"] == full["totals"]  # totals cover every row, not only those returned
    by_payout = await _get(api, **base, sort="payout")
    pays = [Decimal(r["payout"]) for r in by_payout["rows"]]
    assert pays == sorted(pays)
    t = full["totals"]
    assert Decimal(t["profit"]) == Decimal(t["revenue"]) - Decimal(t["payout"])
    assert Decimal(t["cr"]) == (Decimal(100 * t["conversions"]) / t["gross_clicks"]).quantize(
        Decimal("0.0001"))  # fmt: skip
    assert set(rows_of(full)) == {(a, o) for a in w["partners"] for o in w["offers"]}


async def test_bad_report_queries_are_422_naming_the_field(api: httpx.AsyncClient) -> None:
    cases = [
        ({"group_by": "planet"}, "group_by"), ({"group_by": "day,day"}, "group_by"),
        ({"group_by": "partner,offer,day,sub1,sub2,os"}, "group_by"),
        ({"sort": "-colour"}, "sort"), ({"sort": "day"}, "sort"),
        ({"partner": "1,x"}, "partner"), ({"offer": ""}, "offer"), ({"limit": "0"}, "limit"),
        ({"tz": "Mars/Olympus"}, "tz"), ({"to": "soon"}, "to"), ({"colour": "red"}, "colour"),
        ({"from": "2026-01-01T00:00:00Z", "to": "2027-06-01T00:00:00Z"}, "to"),
        ({"sub1": "a\x00b"}, "sub1"), ({"to": "0001-01-02T00:00:00"}, "from"),
    ]  # fmt: skip
    for params, field in cases:
        r = await api.get("/api/v1/reports", params=params)
        assert r.status_code == 422, (params, r.text)
        body = r.json()
        assert body["error"]["field"] == field and body["error"]["code"] == "invalid", body


async def test_a_click_class_outside_the_five_is_refused(pool: asyncpg.Pool) -> None:
    """Reports count bot clicks as gross less human (migration 0018, ADR 0073): exact only
    while every stored click and impression has one of the redirect's five classes."""
    day = datetime(2026, 4, 2, 12, tzinfo=UTC)
    for table, key in (("clicks", "click_id"), ("impressions", "impression_id")):
        await create(pool, table, day.date())
        insert = (f"INSERT INTO {table} ({key}, created_at, offer_id, affiliate_id, click_class)"
                  " VALUES ($1, $2, 1, 1, $3)")  # fmt: skip
        for cls in ("human", "bot", "preview", "head", "prefetch"):
            await pool.execute(insert, uuid.uuid4(), day, cls)
        for cls in ("spider", "Human", ""):
            with pytest.raises(asyncpg.CheckViolationError):
                await pool.execute(insert, uuid.uuid4(), day, cls)
