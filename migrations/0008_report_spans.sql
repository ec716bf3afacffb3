-- Reports (issue 6): a rollup by partner and offer at seven nested spans, so that
-- any report whose local buckets start on a quarter hour (every zone in use:
-- +05:30, +05:45, DST) is answered from a few hundred rollup rows (docs/adr/0060).
-- Rows: span (seconds: 900, 1800, 3600, 10800, 21600, 43200, 86400) × start (aligned in UTC) × partner
-- × offer. Conversion counts by status; revenue and payout of the counted
-- statuses (pending, approved). CPC/CPM money is not stored: reports price the
-- counts with the offer's rates, as raw reports do, so both agree exactly.
-- offer_id 0: the partner's rows summed over its offers (a third of the rows to
-- read for a report by partner and time).
CREATE TABLE rollup_spans (
    span          integer NOT NULL CHECK (span IN (900, 1800, 3600, 10800, 21600, 43200, 86400)),
    t             timestamptz NOT NULL,
    affiliate_id  bigint NOT NULL,
    offer_id      bigint NOT NULL,
    gross_clicks  bigint NOT NULL DEFAULT 0,
    unique_clicks bigint NOT NULL DEFAULT 0,
    human_clicks  bigint NOT NULL DEFAULT 0,
    bot_clicks    bigint NOT NULL DEFAULT 0,
    impressions   bigint NOT NULL DEFAULT 0,
    pending       bigint NOT NULL DEFAULT 0,
    approved      bigint NOT NULL DEFAULT 0,
    rejected      bigint NOT NULL DEFAULT 0,
    reversed      bigint NOT NULL DEFAULT 0,
    revenue       numeric NOT NULL DEFAULT 0,
    payout        numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (span, t, affiliate_id, offer_id)
);

-- Start of the span that holds ts (spans are aligned on UTC midnight).
CREATE FUNCTION span_start(ts timestamptz, span integer) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN to_timestamp((floor(extract(epoch FROM ts) / span) * span)::float8);

-- Rows already stored (an upgrade): counted once, here, from the raw tables.
INSERT INTO rollup_spans (span, t, affiliate_id, offer_id, gross_clicks, unique_clicks,
                          human_clicks, bot_clicks, impressions, pending, approved, rejected,
                          reversed, revenue, payout)
SELECT s.span, span_start(q.t, s.span), q.affiliate_id,
       CASE WHEN w.total THEN 0 ELSE q.offer_id END,
       sum(g), sum(u), sum(h), sum(b), sum(i), sum(p), sum(a), sum(r), sum(v), sum(rev), sum(pay)
  FROM (
    SELECT span_start(created_at, 900) AS t, affiliate_id, offer_id,
           count(*) FILTER (WHERE click_class <> 'head') AS g, count(*) FILTER (WHERE is_unique) AS u,
           count(*) FILTER (WHERE click_class = 'human') AS h,
           count(*) FILTER (WHERE click_class IN ('bot', 'preview', 'prefetch')) AS b,
           0 AS i, 0 AS p, 0 AS a, 0 AS r, 0 AS v, 0 AS rev, 0 AS pay
      FROM clicks GROUP BY 1, 2, 3
    UNION ALL
    SELECT span_start(created_at, 900), affiliate_id, offer_id, 0, 0, 0, 0,
           count(*) FILTER (WHERE click_class <> 'head'), 0, 0, 0, 0, 0, 0
      FROM impressions GROUP BY 1, 2, 3
    UNION ALL
    SELECT span_start(created_at, 900), affiliate_id, offer_id, 0, 0, 0, 0, 0,
           count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'approved'),
           count(*) FILTER (WHERE status = 'rejected'), count(*) FILTER (WHERE status = 'reversed'),
           coalesce(sum(revenue) FILTER (WHERE status IN ('pending', 'approved')), 0),
           coalesce(sum(payout) FILTER (WHERE status IN ('pending', 'approved')), 0)
      FROM conversions WHERE offer_id IS NOT NULL AND affiliate_id IS NOT NULL GROUP BY 1, 2, 3
  ) q CROSS JOIN (VALUES (900), (1800), (3600), (10800), (21600), (43200), (86400)) AS s (span)
    CROSS JOIN (VALUES (false), (true)) AS w (total)
 GROUP BY 1, 2, 3, 4;

-- Totals by partner (offer_id 0), and an offer's rows (priced offers, offer filters).
CREATE INDEX rollup_spans_offer ON rollup_spans (offer_id, span, t);
