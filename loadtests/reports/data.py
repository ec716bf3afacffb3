"""The report benchmark's data set, generated inside Postgres one UTC day at a time.

Rows are made by ``generate_series`` (bounded time: no client formatting), and
each day's rollup rows are added by the SQL the worker runs on its replay path
(``rollups.clicks_cte`` over the rows ``INSERT … RETURNING`` gave back) and by
the conversion writer's (``rollups.conversions_cte``), so the benchmark reads
the rollup production writes. Past the 10M set's density (BASE clicks a day, for
the 30M point of the cost curve) a day is filled with copies of its own rows.

Shape: 200 partners (traffic skewed: partner k gets about (k+1)^-0.5 of it),
50 offers of 10 advertisers, each partner on 3 offers, 5,000 sub1 values
(skewed), 2,000 values of the custom parameter ``campaign`` on 70% of clicks
(skewed), 20 countries, 60 regions, 300 cities, 3 devices; 7% bots, 2% HEAD,
70% unique; impressions one per ten clicks; CPC/CPM rates on a fifth of the
offers. Rows are as wide as production's: an agent, a referer on 40%, the
address block and its hash, three sub-ids and three custom parameters.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import asyncpg

from ingest.partitions import Partitions
from tracker.store.reports import rollups

PARTNERS, OFFERS, ADVERTISERS = 200, 50, 10

# Row width as production stores it: an agent, a referer for two clicks in five, an address
# block and its salted hash, sub-ids and custom parameters for most clicks.
_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/1{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/17.{v} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S9{v}8B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/1{v}.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.{v} Safari/605.1.15",
]
AGENTS = [a.format(v=v) for a in _AGENTS for v in range(10, 22)]
_ARRAY = "ARRAY[" + ", ".join("'" + a + "'" for a in AGENTS) + "]"
PARAM = "campaign"  # the custom parameter the benchmark reports by (about 2,000 values)

_CLICKS = f"""
WITH gen AS (
    SELECT $1::timestamptz + random() * interval '1 day' AS t,
           floor(power(random(), 2) * {PARTNERS})::int8 + 1 AS a, floor(random() * 3)::int AS j,
           random() AS r, floor(power(random(), 3) * 5000)::int AS s,
           floor(power(random(), 2) * 2000)::int AS k, floor(random() * 400)::int AS q
      FROM generate_series(1, $2::int)
), ins AS (
    INSERT INTO clicks (click_id, created_at, link_id, link_code, offer_id, affiliate_id, sub1,
                        sub2, sub3, source, params, referer, referer_domain, ip_trunc, ip_hash,
                        user_agent, country, region, city, device, os, browser, click_class,
                        is_unique)
    SELECT gen_random_uuid(), t, a * 3 + j, 'l' || (a * 3 + j), (a * 7 + j * 13) % {OFFERS} + 1, a,
           's' || s, CASE WHEN r < 0.5 THEN 'x' END, CASE WHEN q < 300 THEN 'pl' || q END,
           (ARRAY['fb', 'google', 'tt'])[1 + s % 3],
           CASE WHEN k < 1400 THEN jsonb_build_object('{PARAM}', 'c' || k, 'adset', 'as' || q,
                                                      'gclid', md5(t::text)) END,
           CASE WHEN q < 160 THEN 'https://site' || q || '.example/articles/' || s || '?ref=x' END,
           CASE WHEN q < 160 THEN 'site' || q || '.example' END,
           ('10.' || (a % 200) || '.' || (s % 250) || '.0')::inet, decode(md5(t::text), 'hex'),
           ({_ARRAY})[1 + (s + q) % {len(AGENTS)}],
           (ARRAY['US','DE','FR','GB','IN','BR','JP','CA','AU','ES','IT','NL','SE','PL','MX',
                  'TR','ID','NG','ZA','KR'])[1 + (s * 7 + a) % 20],
           'R' || (s * 7 + a) % 60, 'City ' || (s * 7 + a) % 300,
           (ARRAY['desktop','mobile','tablet'])[1 + (s + a) % 3],
           (ARRAY['Windows','iOS','Android','macOS'])[1 + s % 4],
           (ARRAY['Chrome','Safari','Firefox'])[1 + a % 3],
           CASE WHEN r < 0.07 THEN 'bot' WHEN r < 0.09 THEN 'head' ELSE 'human' END,
           r >= 0.09 AND r < 0.79
      FROM gen
    RETURNING created_at, offer_id, affiliate_id, click_class, is_unique
), imp AS (
    INSERT INTO impressions (impression_id, created_at, link_id, link_code, offer_id,
                             affiliate_id, sub1, params, click_class, country, device, os,
                             browser)
    SELECT gen_random_uuid(), t, a * 3 + j, 'l' || (a * 3 + j), (a * 7 + j * 13) % {OFFERS} + 1,
           a, 's' || s, CASE WHEN k < 1400 THEN jsonb_build_object('{PARAM}', 'c' || k) END,
           'human', 'US', 'desktop', 'iOS', 'Safari'
      FROM gen WHERE r < 0.1
    RETURNING created_at, offer_id, affiliate_id, click_class
), spans AS ({rollups.clicks_cte("ins", "imp")}
)
SELECT (SELECT count(*) FROM ins)
"""

# Beyond BASE clicks a day (the 10M set's density), the rest of a day is copies of the
# day's generated rows with new ids (the same times and values): far cheaper to make, and
# the copies go through the same rollup SQL as any inserted row.
BASE = 111_112
_COLS = ("created_at, link_id, link_code, offer_id, affiliate_id, sub1, sub2, sub3, source, "
         "params, referer, referer_domain, ip_trunc, ip_hash, user_agent, country, region, city, "
         "device, os, browser, click_class")  # fmt: skip
_IMP_COLS = (
    "created_at, link_id, link_code, offer_id, affiliate_id, sub1, params, click_class, "
    "country, device, os, browser"
)
_COPIES = f"""
WITH ins AS (
    INSERT INTO clicks (click_id, is_unique, {_COLS})
    SELECT gen_random_uuid(), is_unique, {_COLS} FROM clicks
     WHERE created_at >= $1 AND created_at < $1 + interval '1 day' LIMIT $2
    RETURNING created_at, offer_id, affiliate_id, click_class, is_unique
), imp AS (
    INSERT INTO impressions (impression_id, {_IMP_COLS})
    SELECT gen_random_uuid(), {_IMP_COLS} FROM impressions
     WHERE created_at >= $1 AND created_at < $1 + interval '1 day' LIMIT $2 / 10
    RETURNING created_at, offer_id, affiliate_id, click_class
), spans AS ({rollups.clicks_cte("ins", "imp")}
)
SELECT (SELECT count(*) FROM ins)
"""

_CONVERSIONS = f"""
WITH ins AS (
    INSERT INTO conversions (conversion_id, advertiser_id, goal, txn_id, click_id, click_at,
        offer_id, affiliate_id, status, revenue, payout, created_at, country, device)
    SELECT gen_random_uuid(), (c.offer_id - 1) % {ADVERTISERS} + 1,
           (ARRAY['lead', 'sale'])[1 + (c.sub1 > 's2')::int], 'tx-' || gen_random_uuid(),
           c.click_id, c.created_at, c.offer_id, c.affiliate_id,
           (ARRAY['pending', 'approved', 'approved', 'approved', 'rejected', 'reversed'])
               [1 + floor(random() * 6)::int],
           round((random() * 80)::numeric, 2), round((random() * 40)::numeric, 2),
           least(c.created_at + random() * interval '2 hours', $2::timestamptz), c.country,
           c.device
      FROM clicks c
     WHERE c.created_at >= $1 AND c.created_at < $2 AND c.click_class = 'human'
     ORDER BY random() LIMIT $3
    RETURNING *
), spans AS ({rollups.conversions_cte("ins")}
)
SELECT count(*) FROM ins
"""


async def _entities(pool: asyncpg.Pool) -> None:
    for i in range(ADVERTISERS):
        await pool.execute(
            "INSERT INTO advertisers (name, postback_token) VALUES ($1, 'tok')", f"adv{i}"
        )
    await pool.execute(
        f"INSERT INTO affiliates (name) SELECT 'p' || g FROM generate_series(1, {PARTNERS}) g"
    )
    await pool.execute(
        "INSERT INTO offers (advertiser_id, name, landing_url) SELECT (g - 1) % "
        f"{ADVERTISERS} + 1, 'o' || g, 'https://x.example/' FROM generate_series(1, {OFFERS}) g"
    )
    await pool.execute(
        "INSERT INTO offer_conversion_settings (offer_id, cpc_basis, cpc_payout, cpc_revenue,"
        " cpm_payout, cpm_revenue) SELECT g, 'unique', 0.0125, 0.0300, 1.2345, 2.0001"
        f" FROM generate_series(1, {OFFERS}, 5) g"
    )


async def load(pool: asyncpg.Pool, clicks: int, conversions: int, days: int,
               end: datetime) -> None:  # fmt: skip
    await _entities(pool)
    first = (end - timedelta(days=days)).date()
    per_day, conv_per_day = clicks // days, conversions // days
    parts = Partitions()
    t0 = time.monotonic()
    for n in range(days):
        day = first + timedelta(days=n)
        await parts.ensure(pool, {day})
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        await pool.fetchval(_CLICKS, start, min(per_day, BASE))
        for done in range(BASE, per_day, BASE):
            await pool.fetchval(_COPIES, start, min(BASE, per_day - done))
        await pool.fetchval(_CONVERSIONS, start, start + timedelta(days=1), conv_per_day)
        if n % 10 == 9:
            print(f"  loaded {n + 1}/{days} days, {time.monotonic() - t0:.0f} s", flush=True)
    await pool.execute("VACUUM ANALYZE")
