"""A generated world for the report tests: clicks and impressions through the real
worker (with a replayed part), conversions and status changes through the SQL and
functions the worker and the API use, over five weeks that hold DST changes."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from redis.asyncio import Redis

from loadtests.ingest.data import build_geo_db
from tests.conversions.conftest import burst
from tests.ingest.helpers import push
from tracker import redis_keys
from tracker.settings import Settings
from tracker.store import conversion_changes as changes
from tracker.store import conversion_rows as rows
from tracker.store.reports import rollups

UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Gecko/20100101 Firefox/131.0",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
]
# Referers, as browsers send them: hosts in any case, ports, user info, no path, junk.
REFERERS = [
    "", "https://News.Example.com/a?b=1", "http://blog.example.org:8080/x", "https://x.example",
    "android-app://com.example.app/", "https://user:pw@Forum.Example.net/t#c", "not a url",
    "https://Example.COM?", "https://[2001:db8::1]/x",
]  # fmt: skip
_INSERT = f"""
WITH ins AS (
    INSERT INTO conversions (conversion_id, advertiser_id, goal, txn_id, click_id, click_at,
        offer_id, affiliate_id, status, revenue, payout, created_at, country, device,
        click_class, gate, status_reason)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)
    ON CONFLICT DO NOTHING RETURNING *
), spans AS ({rollups.conversions_cte("ins")})
SELECT count(*) FROM ins"""


PARAMS = {"utm_campaign": ["spring", "summer", "ä ü"], "gclid": ["g1", "g2"]}


async def build(pool: asyncpg.Pool, redis: Redis, settings: Settings, seed: int,
                now: datetime, currencies: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    """``currencies``: the offers' currencies, in order (default: USD, the column's)."""
    rnd = random.Random(seed)
    settings.geoip_db = build_geo_db(settings.data_dir / "geo.mmdb")
    advs = [await pool.fetchval("INSERT INTO advertisers (name, postback_token) VALUES "
                                "($1, 'tok') RETURNING id", f"A{i}") for i in range(2)]  # fmt: skip
    parts = [await pool.fetchval("INSERT INTO affiliates (name) VALUES ($1) RETURNING id",
                                 f"P{i}") for i in range(3)]  # fmt: skip
    offers = [await pool.fetchval("INSERT INTO offers (advertiser_id, name, landing_url) VALUES "
                                  "($1, $2, 'https://x.example/') RETURNING id",
                                  advs[j // 2], f"O{j}") for j in range(3)]  # fmt: skip
    for o, currency in zip(offers, currencies, strict=False):
        await pool.execute("UPDATE offers SET currency = $2 WHERE id = $1", o, currency)
    if "EUR" in currencies:  # conversions in USD on a EUR offer need the rate: the same one
        # the conversions ground truth sets (rates are global to the suite's database), so
        # that this world is whole whichever test ran first, and changes no other test
        await pool.execute("INSERT INTO currency_rates (base, quote, rate, valid_from) VALUES "
                           "('USD', 'EUR', 0.9, '2020-01-01T00:00:00Z') ON CONFLICT DO NOTHING")  # fmt: skip
    links = {(o, a): await pool.fetchval(
        "INSERT INTO tracking_links (code, offer_id, affiliate_id) VALUES ($1, $2, $3) RETURNING id",
        uuid.uuid4().hex[:12], o, a) for o in offers for a in parts}  # fmt: skip
    # fine CPC/CPM rates: a thousandth of a cent per impression must not drift
    for o, basis, cp, cr, mp, mr in (
        (offers[0], "unique", "0.0123", "0.0456", "2.0001", "3.0007"),
        (offers[1], "gross_human", "0.0100", "0.0250", "0", "1.2345"),
    ):
        await pool.execute(
            "INSERT INTO offer_conversion_settings (offer_id, cpc_basis, cpc_payout, cpc_revenue,"
            " cpm_payout, cpm_revenue) VALUES ($1, $2, $3, $4, $5, $6)",
            o, basis, Decimal(cp), Decimal(cr), Decimal(mp), Decimal(mr))  # fmt: skip
    span = 35 * 86400
    events = []
    choice = random.Random(seed + 1)  # routes and landers: the world's own draws stay as they were
    for n in range(2400):
        o, a = rnd.choice(offers), rnd.choice(parts)
        ts = now.timestamp() - 3600 - rnd.random() * span
        ev: dict[str, Any] = {
            "click_id": str(uuid.uuid4()), "ts": ts, "offer_id": o, "aff_id": a,
            "link_id": links[(o, a)], "link_code": "c",
            # 10.1-10.3 are in the test GeoIP database (country, region, city); 10.0 is not
            "ip": f"10.{rnd.randrange(4)}.{rnd.randrange(250)}.{rnd.randrange(200)}",
            "ua": rnd.choice(UAS), "referer": rnd.choice(REFERERS),
            "cls": rnd.choices(["human", "bot", "head", "preview"], [85, 8, 4, 3])[0],
            # every sub-id, some empty; text JSON and COPY must escape
            "subs": [rnd.choice(["a", "b", "c", None]), rnd.choice(["x", None]),
                     *(rnd.choice([f"s{k}", 'q"\\t|', None]) for k in range(3, 11))],
            "source": rnd.choice(["fb", "google", ""]),
            "params": {k: rnd.choice(vals) for k, vals in PARAMS.items() if rnd.random() < 0.7},
        }  # fmt: skip
        if n % 3 == 0:  # through a smart link's route (its pixel too), and a lander (issue 20)
            ev["route"] = choice.choice([9001, 9002])
        if n % 6 == 0:
            ev["kind"] = "impression"
        elif n % 2 == 0:
            ev["lander"] = choice.choice([8001, 8002])
        events.append(ev)
    # In time order, a few days per burst, as clicks arrive: the worker keeps the salts of
    # the 8 newest days it has seen, and a batch over older days fails (ingest/enrich.py).
    events.sort(key=lambda e: e["ts"])
    stream = redis_keys.of(settings).click_streams()[0]
    for day in range(35, -5, -5):
        part = [e for e in events if day - 5 <= (now.timestamp() - e["ts"]) / 86400 < day]
        await push(redis, stream, part, per_entry=25)
        await burst(settings)
    await push(redis, stream, events[-400:], per_entry=25)  # a replay: counts nothing twice
    await burst(settings)
    clicks = await pool.fetch("SELECT click_id, created_at, country, device, click_class "
                              "FROM clicks WHERE offer_id = ANY($1::int8[])", offers)  # fmt: skip
    convs = []
    for n in range(400):
        c = rnd.choice(clicks) if n % 10 else None
        o, a = rnd.choice(offers), rnd.choice(parts)
        at = (c["created_at"] if c else now - timedelta(days=30)) + timedelta(
            minutes=rnd.randrange(1, 3 * 24 * 60)
        )
        at = min(at, now - timedelta(minutes=1))
        cid = uuid.uuid4()
        status = rnd.choice(["pending", "approved", "held", "rejected", "reversed"])
        # a fraud rule's standing verdict on some rejected ones (an admin overrides it below)
        gate = "fraud:ctc_too_short" if status == "rejected" and n % 3 and n % 17 else None
        await pool.execute(
            _INSERT, cid, advs[offers.index(o) // 2], rnd.choice(["lead", "sale"]), f"t{seed}-{n}",
            c["click_id"] if c else None, c["created_at"] if c else None, o,
            a if n % 17 else None, status,
            Decimal(rnd.randrange(0, 100000)) / 10000, Decimal(rnd.randrange(0, 50000)) / 10000,
            at, c["country"] if c else "", c["device"] if c else "",
            c["click_class"] if c else "", gate)  # fmt: skip
        convs.append(cid)
    await _changes(pool, rnd, convs, seed, now)
    return {"advertisers": advs, "partners": parts, "offers": offers, "links": links}


async def _changes(
    pool: asyncpg.Pool, rnd: random.Random, convs: list[uuid.UUID], seed: int, now: datetime
) -> None:
    """Every way money's one conversion path (docs/adr/0080, 0081) changes a stored
    conversion: merchant statuses (the API, postbacks), amendments re-priced with the
    offer's rules (held when their currency has no rate), the re-pricing when that rate
    arrives, and admin overrides of a fraud verdict."""
    for cid in rnd.sample(convs, 120):  # status changes, as the API and postbacks make them
        async with pool.acquire() as conn, conn.transaction():
            row = await rows.lock(conn, cid)
            to = rnd.choice(["pending", "approved", "rejected", "reversed"])
            await changes.set_status(conn, row, to, actor="test", reason=None, at=now)
    # a currency no other test has a rate for (rates are global to the suite's database)
    lacking = f"W{chr(65 + seed // 26 % 26)}{chr(65 + seed % 26)}"
    for n, cid in enumerate(rnd.sample(convs, 90)):  # amendments, of any status
        async with pool.acquire() as conn, conn.transaction():
            row = await rows.lock(conn, cid)
            amount = Decimal(rnd.randrange(1, 10**7)) / 10000
            await changes.change(
                conn, row, await changes.rules_of(conn, row), merchant=None, merchant_at=None,
                at=now, actor="test", why="amended",
                amendment=changes.Amendment(amount, lacking if n % 3 == 0 else None),
            )  # fmt: skip
    quotes = await pool.fetch("SELECT DISTINCT offer_currency FROM conversions WHERE currency = $1"
                              " AND status = 'held'", lacking)  # fmt: skip
    for q in quotes:  # the rate arrives: what it held is priced and screened
        since = now - timedelta(days=90)
        await pool.execute("INSERT INTO currency_rates (base, quote, rate, valid_from) VALUES "
                           "($1, $2, 1.2345, $3) ON CONFLICT DO NOTHING",
                           lacking, q["offer_currency"], since)  # fmt: skip
        await changes.reprice_no_rate(pool, lacking, q["offer_currency"].strip(), since,
                                      actor="test", limit=1000)  # fmt: skip
    gated = await pool.fetch("SELECT conversion_id FROM conversions WHERE conversion_id ="
                             " ANY($1::uuid[]) AND gate LIKE 'fraud:%'", convs)  # fmt: skip
    for r in gated[: len(gated) // 2]:  # an admin's decision over the fraud rule's
        async with pool.acquire() as conn, conn.transaction():
            row = await rows.lock(conn, r["conversion_id"])
            await changes.override(conn, row, rnd.choice(["approved", "pending"]), actor="test",
                                   reason="checked by hand")  # fmt: skip
