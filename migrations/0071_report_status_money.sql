-- Issue 17 (statuses in reports), docs/adr/0105: each status's conversion money has columns
-- of its own in the rollup, so a report shows pending, approved, held, rejected and
-- reversed money apart (revenue and payout stay the money of the counted statuses,
-- pending + approved). A held conversion's price is never pending payout.
ALTER TABLE rollup_spans
    ADD COLUMN pending_revenue  numeric NOT NULL DEFAULT 0,
    ADD COLUMN pending_payout   numeric NOT NULL DEFAULT 0,
    ADD COLUMN approved_revenue numeric NOT NULL DEFAULT 0,
    ADD COLUMN approved_payout  numeric NOT NULL DEFAULT 0,
    ADD COLUMN rejected_revenue numeric NOT NULL DEFAULT 0,
    ADD COLUMN rejected_payout  numeric NOT NULL DEFAULT 0,
    ADD COLUMN reversed_revenue numeric NOT NULL DEFAULT 0,
    ADD COLUMN reversed_payout  numeric NOT NULL DEFAULT 0;

-- Conversions stored before: their money, by status, at every span and local day of the
-- rows that already count them (the grid of reports.rollups: the seven spans, one day per
-- registered phase; each conversion once per offer and once in its partner's total).
WITH f AS (
    SELECT s.span, span_start(c.created_at, s.span, s.phase) AS t, c.affiliate_id,
           CASE WHEN w.total THEN 0 ELSE c.offer_id END AS offer_id,
           coalesce(sum(c.revenue) FILTER (WHERE c.status = 'pending'), 0) AS pr,
           coalesce(sum(c.payout) FILTER (WHERE c.status = 'pending'), 0) AS pp,
           coalesce(sum(c.revenue) FILTER (WHERE c.status = 'approved'), 0) AS ar,
           coalesce(sum(c.payout) FILTER (WHERE c.status = 'approved'), 0) AS ap,
           coalesce(sum(c.revenue) FILTER (WHERE c.status = 'rejected'), 0) AS jr,
           coalesce(sum(c.payout) FILTER (WHERE c.status = 'rejected'), 0) AS jp,
           coalesce(sum(c.revenue) FILTER (WHERE c.status = 'reversed'), 0) AS vr,
           coalesce(sum(c.payout) FILTER (WHERE c.status = 'reversed'), 0) AS vp
      FROM conversions c
     CROSS JOIN (SELECT x, 0 FROM unnest('{900,1800,3600,10800,21600,43200,86400}'::int4[]) AS x
                 UNION ALL
                 SELECT 86400, p FROM rollup_day_phases d, unnest(d.phases) AS p) AS s (span, phase)
     CROSS JOIN (VALUES (false), (true)) AS w (total)
     WHERE c.offer_id IS NOT NULL AND c.affiliate_id IS NOT NULL
     GROUP BY 1, 2, 3, 4
)
UPDATE rollup_spans r
   SET pending_revenue = f.pr, pending_payout = f.pp, approved_revenue = f.ar,
       approved_payout = f.ap, rejected_revenue = f.jr, rejected_payout = f.jp,
       reversed_revenue = f.vr, reversed_payout = f.vp
  FROM f
 WHERE r.span = f.span AND r.t = f.t AND r.affiliate_id = f.affiliate_id
   AND r.offer_id = f.offer_id;
