-- Issue 6 (management): revenue rules with validity dates. What the advertiser pays
-- for a conversion can change from a date (a renegotiated CPA or share), for every
-- partner or one partner, for every goal or one goal, scheduled ahead of time. A
-- conversion is priced with the rule valid at its time, and its decision record
-- names the rule; a rule is never deleted, it is ended (valid_to).
CREATE TABLE revenue_rules (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offer_id        bigint NOT NULL REFERENCES offers (id),
    affiliate_id    bigint REFERENCES affiliates (id),  -- NULL: every partner
    goal            text,                               -- NULL: every goal
    valid_from      timestamptz,
    valid_to        timestamptz,
    revenue_flat    numeric(18, 4) NOT NULL DEFAULT 0,
    revenue_percent numeric(9, 4) NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT revenue_rules_validity CHECK (valid_from IS NULL OR valid_to IS NULL OR valid_from < valid_to)
);
CREATE INDEX revenue_rules_offer ON revenue_rules (offer_id, affiliate_id);
