-- Conversions (issue 5): goals, payout rules, promo codes, currency rates, caps,
-- fraud settings, postback authentication, status history, decision record.
-- Money is NUMERIC; times are timestamptz (UTC).

-- Issue 3 adds the same column identically.
ALTER TABLE offers ADD COLUMN IF NOT EXISTS attribution_window_days integer NOT NULL DEFAULT 30;

-- How an offer attributes, caps and screens its conversions; how its clicks are priced.
CREATE TABLE offer_conversion_settings (
    offer_id          bigint PRIMARY KEY REFERENCES offers (id),
    attribution_model text NOT NULL DEFAULT 'last_click'
                      CHECK (attribution_model IN ('last_click', 'first_click')),
    coupon_wins       boolean NOT NULL DEFAULT false,  -- promo code beats click id when both given
    timezone          text NOT NULL DEFAULT 'UTC',     -- cap days and tier months
    cap_action        text NOT NULL DEFAULT 'reject' CHECK (cap_action IN ('reject', 'pending')),
    fraud_mode        text NOT NULL DEFAULT 'enforce' CHECK (fraud_mode IN ('enforce', 'shadow')),
    min_click_seconds integer,
    max_click_seconds integer,
    require_click     boolean NOT NULL DEFAULT false,
    duplicate_txn     boolean NOT NULL DEFAULT false,
    max_conversions_per_ip integer,          -- per IP key and offer, over 24 h
    max_clicks_per_sub_hour integer,         -- click flooding on the converting click's sub1
    cpc_basis         text NOT NULL DEFAULT 'unique' CHECK (cpc_basis IN ('unique', 'gross_human')),
    cpc_payout        numeric(18, 4) NOT NULL DEFAULT 0,
    cpc_revenue       numeric(18, 4) NOT NULL DEFAULT 0,
    cpm_payout        numeric(18, 4) NOT NULL DEFAULT 0,
    cpm_revenue       numeric(18, 4) NOT NULL DEFAULT 0,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE offer_goals (
    offer_id        bigint NOT NULL REFERENCES offers (id),
    code            text NOT NULL,
    name            text NOT NULL DEFAULT '',
    multiple        boolean NOT NULL DEFAULT false,  -- may convert more than once per click
    max_count       integer,                         -- recurring: at most this many per click
    max_months      integer,                         -- recurring: within this many months of the first
    payout_flat     numeric(18, 4) NOT NULL DEFAULT 0,
    payout_percent  numeric(9, 4) NOT NULL DEFAULT 0,
    revenue_flat    numeric(18, 4) NOT NULL DEFAULT 0,
    revenue_percent numeric(9, 4) NOT NULL DEFAULT 0,
    PRIMARY KEY (offer_id, code)
);

CREATE TABLE payout_overrides (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offer_id       bigint NOT NULL REFERENCES offers (id),
    affiliate_id   bigint NOT NULL REFERENCES affiliates (id),
    goal           text,  -- NULL: every goal
    valid_from     timestamptz,
    valid_to       timestamptz,
    payout_flat    numeric(18, 4) NOT NULL DEFAULT 0,
    payout_percent numeric(9, 4) NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payout_overrides_offer ON payout_overrides (offer_id, affiliate_id);

CREATE TABLE payout_tiers (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offer_id       bigint NOT NULL REFERENCES offers (id),
    goal           text,
    metric         text NOT NULL CHECK (metric IN ('conversions', 'amount', 'revenue')),
    threshold      numeric(18, 4) NOT NULL,
    payout_flat    numeric(18, 4) NOT NULL DEFAULT 0,
    payout_percent numeric(9, 4) NOT NULL DEFAULT 0
);
CREATE INDEX payout_tiers_offer ON payout_tiers (offer_id);

CREATE TABLE promo_codes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offer_id       bigint NOT NULL REFERENCES offers (id),
    affiliate_id   bigint NOT NULL REFERENCES affiliates (id),
    code           text NOT NULL,
    starts_at      timestamptz NOT NULL DEFAULT '-infinity',
    ends_at        timestamptz NOT NULL DEFAULT 'infinity',
    payout_flat    numeric(18, 4),
    payout_percent numeric(9, 4)
);
CREATE INDEX promo_codes_code ON promo_codes (lower(code));

CREATE TABLE currency_rates (
    base       char(3) NOT NULL,
    quote      char(3) NOT NULL,
    rate       numeric(24, 10) NOT NULL CHECK (rate > 0),
    valid_from timestamptz NOT NULL,
    PRIMARY KEY (base, quote, valid_from)
);

CREATE TABLE conversion_caps (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offer_id     bigint NOT NULL REFERENCES offers (id),
    affiliate_id bigint REFERENCES affiliates (id),  -- NULL: the whole offer
    period       text NOT NULL CHECK (period IN ('day', 'month', 'total')),
    metric       text NOT NULL CHECK (metric IN ('conversions', 'payout')),
    cap_limit    numeric(18, 4) NOT NULL CHECK (cap_limit >= 0)
);
CREATE INDEX conversion_caps_offer ON conversion_caps (offer_id);

-- One counter per cap and period; a row lock serialises parallel postbacks.
CREATE TABLE cap_usage (
    cap_id     bigint NOT NULL REFERENCES conversion_caps (id),
    period_key text NOT NULL,
    used       numeric(20, 4) NOT NULL DEFAULT 0,
    PRIMARY KEY (cap_id, period_key)
);

CREATE TABLE advertiser_postback_auth (
    advertiser_id     bigint PRIMARY KEY REFERENCES advertisers (id),
    hmac_secret       text,
    require_signature boolean NOT NULL DEFAULT false,
    ip_allowlist      cidr[] NOT NULL DEFAULT '{}',
    allow_pixel       boolean NOT NULL DEFAULT true
);

ALTER TABLE conversions
    ADD COLUMN method           text,
    ADD COLUMN coupon           text,
    ADD COLUMN adv_subs         text[],
    ADD COLUMN offer_currency   char(3),
    ADD COLUMN amount_converted numeric(18, 4),
    ADD COLUMN ip_key           text,
    ADD COLUMN click_class      text NOT NULL DEFAULT '',
    ADD COLUMN country          text NOT NULL DEFAULT '',
    ADD COLUMN device           text NOT NULL DEFAULT '',
    ADD COLUMN caps_used        jsonb NOT NULL DEFAULT '[]',  -- [[cap_id, period_key, amount]]
    ADD COLUMN status_at        timestamptz;
CREATE INDEX conversions_offer_time ON conversions (offer_id, created_at);
CREATE INDEX conversions_offer_ip ON conversions (offer_id, ip_key, created_at);
CREATE INDEX conversions_txn ON conversions (advertiser_id, txn_id);

CREATE TABLE conversion_status_history (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversion_id uuid NOT NULL REFERENCES conversions (conversion_id),
    from_status   text,
    to_status     text NOT NULL,
    reason        text,
    actor         text NOT NULL,  -- 'postback', 'pixel', 'api:<key id>'
    at            timestamptz NOT NULL
);
CREATE INDEX conversion_status_history_conv ON conversion_status_history (conversion_id, id);

-- CPC and CPM accrue into the hourly rollup as the click writer adds clicks and
-- impressions to it: exactly once, because it only adds rows it inserted.
CREATE FUNCTION accrue_click_pricing() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s offer_conversion_settings%ROWTYPE;
    d_clicks bigint;
    d_impr bigint;
BEGIN
    SELECT * INTO s FROM offer_conversion_settings WHERE offer_id = NEW.offer_id;
    IF NOT FOUND THEN
        RETURN NEW;
    END IF;
    IF s.cpc_basis = 'unique' THEN
        d_clicks := NEW.unique_clicks - CASE WHEN TG_OP = 'UPDATE' THEN OLD.unique_clicks ELSE 0 END;
    ELSE
        d_clicks := NEW.human_clicks - CASE WHEN TG_OP = 'UPDATE' THEN OLD.human_clicks ELSE 0 END;
    END IF;
    d_impr := NEW.impressions - CASE WHEN TG_OP = 'UPDATE' THEN OLD.impressions ELSE 0 END;
    NEW.payout := NEW.payout + s.cpc_payout * d_clicks + round(s.cpm_payout * d_impr / 1000, 4);
    NEW.revenue := NEW.revenue + s.cpc_revenue * d_clicks + round(s.cpm_revenue * d_impr / 1000, 4);
    RETURN NEW;
END $$;

CREATE TRIGGER rollup_hourly_click_pricing BEFORE INSERT OR UPDATE ON rollup_hourly
    FOR EACH ROW EXECUTE FUNCTION accrue_click_pricing();
