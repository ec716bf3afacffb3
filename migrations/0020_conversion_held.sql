-- Issue 17 (money), docs/adr/0080: a conversion keeps what the merchant said apart from
-- what the tracker decided. status = settle(merchant_status, gate, rate known, caps):
--   held     the tracker holds it (a full cap with cap_action 'pending', no currency rate):
--            not counted, not pending payout, takes no cap;
--   merchant_status / merchant_at  the merchant's last status and when it arrived (our
--            clock): a postback never moves it back, nor applies when older;
--   gate     the tracker's standing verdict (attribution, goal rule, enforced fraud rule),
--            decided when the conversion is first stored; only an admin override clears it.
ALTER TABLE conversions DROP CONSTRAINT IF EXISTS conversions_status_check;
ALTER TABLE conversions
    ADD CONSTRAINT conversions_status_check
        CHECK (status IN ('pending', 'approved', 'held', 'rejected', 'reversed')),
    ADD COLUMN merchant_status text
        CHECK (merchant_status IN ('pending', 'approved', 'rejected', 'reversed')),
    ADD COLUMN merchant_at timestamptz,
    ADD COLUMN gate text;

-- The money after each change (a status move, an amendment, a re-pricing, an override).
ALTER TABLE conversion_status_history
    ADD COLUMN amount  numeric(18, 4),
    ADD COLUMN payout  numeric(18, 4),
    ADD COLUMN revenue numeric(18, 4);

-- Held conversions have a count of their own; their money is not in revenue/payout
-- (which stay the money of pending + approved).
ALTER TABLE rollup_spans ADD COLUMN held bigint NOT NULL DEFAULT 0;

-- Rows stored before. The tracker's standing verdicts become gates.
UPDATE conversions SET gate = status_reason
 WHERE status = 'rejected'
   AND (status_reason LIKE 'fraud:%'
        OR status_reason IN ('unknown_goal', 'duplicate_goal', 'recurring_limit', 'no_click',
                             'click_not_found', 'other_advertiser', 'outside_window',
                             'before_click'));

-- What the merchant said: the status itself when the merchant (or the API) set it; else
-- unknown, kept as 'pending' (the merchant has to confirm it).
UPDATE conversions v SET
    merchant_status = CASE
        WHEN v.status IN ('pending', 'approved', 'rejected', 'reversed')
             AND (v.status_reason IS NULL OR v.status_reason LIKE 'postback%'
                  OR v.status_reason LIKE 'pixel%'
                  OR (SELECT h.actor FROM conversion_status_history h
                       WHERE h.conversion_id = v.conversion_id ORDER BY h.id DESC LIMIT 1)
                     LIKE 'api:%')
        THEN v.status ELSE 'pending' END,
    merchant_at = coalesce(v.status_at, v.created_at);

-- A cap or a missing rate held them 'pending': they become 'held', and leave the rollup's
-- pending count and money, at every span and local day they were added to.
WITH moved AS (
    UPDATE conversions SET status = 'held'
     WHERE status = 'pending' AND status_reason IN ('cap', 'no_rate')
    RETURNING created_at, affiliate_id, offer_id, revenue, payout
), grid AS (
    SELECT s AS span, 0 AS phase
      FROM unnest('{900,1800,3600,10800,21600,43200,86400}'::int4[]) AS s
    UNION ALL
    SELECT 86400, p FROM rollup_day_phases AS d, unnest(d.phases) AS p
)
INSERT INTO rollup_spans AS r (span, t, affiliate_id, offer_id, pending, held, revenue, payout)
SELECT g.span, span_start(m.created_at, g.span, g.phase), m.affiliate_id, o.o,
       -count(*), count(*), -sum(m.revenue), -sum(m.payout)
  FROM moved m CROSS JOIN grid g CROSS JOIN LATERAL (VALUES (m.offer_id), (0::int8)) AS o (o)
 WHERE m.offer_id IS NOT NULL AND m.affiliate_id IS NOT NULL
 GROUP BY 1, 2, 3, 4
 ORDER BY 1, 2, 3, 4
ON CONFLICT (span, t, affiliate_id, offer_id) DO UPDATE
   SET pending = r.pending + EXCLUDED.pending, held = r.held + EXCLUDED.held,
       revenue = r.revenue + EXCLUDED.revenue, payout = r.payout + EXCLUDED.payout;

CREATE INDEX conversions_held ON conversions (status_reason, created_at) WHERE status = 'held';
