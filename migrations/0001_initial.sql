-- First schema of the tracker. Money is NUMERIC, time is timestamptz (UTC).

CREATE TABLE advertisers (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL,
    postback_token text NOT NULL,
    status         text NOT NULL DEFAULT 'active',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE affiliates (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL,
    status     text NOT NULL DEFAULT 'active',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE offers (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advertiser_id   bigint NOT NULL REFERENCES advertisers (id),
    name            text NOT NULL,
    landing_url     text NOT NULL,  -- template with {macros}
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'archived')),
    currency        char(3) NOT NULL DEFAULT 'USD',
    default_payout  numeric(18, 4) NOT NULL DEFAULT 0,
    default_revenue numeric(18, 4) NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX offers_advertiser ON offers (advertiser_id);
CREATE INDEX offers_updated ON offers (updated_at);

CREATE TABLE tracking_links (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code         text NOT NULL UNIQUE,
    offer_id     bigint NOT NULL REFERENCES offers (id),
    affiliate_id bigint NOT NULL REFERENCES affiliates (id),
    sub1 text, sub2 text, sub3 text, sub4 text, sub5 text,  -- defaults when the click has none
    status       text NOT NULL DEFAULT 'active',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tracking_links_updated ON tracking_links (updated_at);

-- Raw clicks, one partition per UTC day (created ahead by the ingest worker).
-- click_id is a UUIDv7 and part of every key so that Citus can distribute on it.
CREATE TABLE clicks (
    click_id     uuid NOT NULL,
    created_at   timestamptz NOT NULL,
    link_id      bigint,
    link_code    text,
    offer_id     bigint NOT NULL,
    affiliate_id bigint NOT NULL,
    sub1 text, sub2 text, sub3 text, sub4 text, sub5 text,
    ip_trunc     inet,           -- /24 or /48: the full address is never stored
    user_agent   text,
    referer      text,
    country      text NOT NULL DEFAULT '',
    device       text NOT NULL DEFAULT '',
    click_class  text NOT NULL DEFAULT 'human',
    is_unique    boolean NOT NULL DEFAULT false,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (click_id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX clicks_affiliate_time ON clicks (affiliate_id, created_at);
CREATE INDEX clicks_offer_time ON clicks (offer_id, created_at);

CREATE TABLE conversions (
    conversion_id   uuid PRIMARY KEY,
    advertiser_id   bigint NOT NULL REFERENCES advertisers (id),
    goal            text NOT NULL DEFAULT 'default',
    txn_id          text NOT NULL,
    click_id        uuid,
    click_at        timestamptz,
    offer_id        bigint,
    affiliate_id    bigint,
    status          text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'reversed')),
    status_reason   text,
    amount          numeric(18, 4) NOT NULL DEFAULT 0,  -- as the merchant sent it
    currency        char(3) NOT NULL DEFAULT 'USD',
    revenue         numeric(18, 4) NOT NULL DEFAULT 0,  -- what the advertiser pays us
    payout          numeric(18, 4) NOT NULL DEFAULT 0,  -- what we pay the partner
    decision        jsonb NOT NULL DEFAULT '{}',        -- why it was attributed this way
    created_at      timestamptz NOT NULL,
    ingested_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (advertiser_id, goal, txn_id)
);
CREATE INDEX conversions_click ON conversions (click_id);
CREATE INDEX conversions_affiliate_time ON conversions (affiliate_id, created_at);

-- Hourly rollup, updated only from rows a transaction actually inserted.
-- country/device are '' when unknown so that they can sit in the key.
CREATE TABLE rollup_hourly (
    hour           timestamptz NOT NULL,
    offer_id       bigint NOT NULL,
    affiliate_id   bigint NOT NULL,
    click_class    text NOT NULL,
    country        text NOT NULL,
    device         text NOT NULL,
    gross_clicks   bigint NOT NULL DEFAULT 0,
    unique_clicks  bigint NOT NULL DEFAULT 0,
    human_clicks   bigint NOT NULL DEFAULT 0,
    bot_clicks     bigint NOT NULL DEFAULT 0,
    impressions    bigint NOT NULL DEFAULT 0,
    conversions    bigint NOT NULL DEFAULT 0,
    revenue        numeric(20, 4) NOT NULL DEFAULT 0,
    payout         numeric(20, 4) NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, offer_id, affiliate_id, click_class, country, device)
);
CREATE INDEX rollup_hourly_affiliate ON rollup_hourly (affiliate_id, hour);

CREATE TABLE api_keys (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prefix        text NOT NULL UNIQUE,
    key_hash      text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'advertiser', 'affiliate')),
    scopes        text[] NOT NULL DEFAULT '{read,write}',
    advertiser_id bigint REFERENCES advertisers (id),
    affiliate_id  bigint REFERENCES affiliates (id),
    label         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
