-- Issue 17 (money), docs/adr/0081: an offer's default payout, revenue and currency, and
-- each goal's prices, are dated terms. A change applies from its valid_from on; a
-- conversion (and any later amendment of it) is priced with the terms valid at the
-- conversion's time. Terms are never edited or deleted: a change is a new row.
-- goal NULL: the offer's defaults (payout_flat = default_payout, revenue_flat =
-- default_revenue, currency); otherwise the goal's prices (currency NULL).
CREATE TABLE offer_price_terms (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offer_id        bigint NOT NULL REFERENCES offers (id),
    goal            text,
    valid_from      timestamptz NOT NULL,
    currency        char(3),
    payout_flat     numeric(18, 4) NOT NULL DEFAULT 0,
    payout_percent  numeric(9, 4) NOT NULL DEFAULT 0,
    revenue_flat    numeric(18, 4) NOT NULL DEFAULT 0,
    revenue_percent numeric(9, 4) NOT NULL DEFAULT 0,
    actor           text NOT NULL DEFAULT 'migration',
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((goal IS NULL) = (currency IS NOT NULL))
);
CREATE INDEX offer_price_terms_offer ON offer_price_terms (offer_id, goal, valid_from);

-- What was in force until now applies to every earlier time.
INSERT INTO offer_price_terms (offer_id, goal, valid_from, currency, payout_flat, revenue_flat)
SELECT id, NULL, '-infinity', currency, default_payout, default_revenue FROM offers;
INSERT INTO offer_price_terms (offer_id, goal, valid_from, payout_flat, payout_percent,
                               revenue_flat, revenue_percent)
SELECT offer_id, code, '-infinity', payout_flat, payout_percent, revenue_flat, revenue_percent
  FROM offer_goals;
