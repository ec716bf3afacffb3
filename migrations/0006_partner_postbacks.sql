-- Outgoing postbacks to partners' own trackers: settings, an outbox written in
-- the conversion's transaction, and a log of every delivery attempt.

CREATE TABLE partner_postbacks (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    affiliate_id  bigint NOT NULL REFERENCES affiliates (id),
    offer_id      bigint REFERENCES offers (id),   -- NULL: every offer
    goal          text,                            -- NULL: every goal
    url_template  text NOT NULL,
    method        text NOT NULL DEFAULT 'GET' CHECK (method IN ('GET', 'POST')),
    events        text[] NOT NULL DEFAULT '{created}',  -- created, approved, reversed
    secret        text NOT NULL,                   -- HMAC key for signatures
    sign_get      boolean NOT NULL DEFAULT false,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partner_postbacks_affiliate ON partner_postbacks (affiliate_id) WHERE active;

CREATE TABLE postback_outbox (
    id              uuid PRIMARY KEY,
    postback_id     bigint NOT NULL REFERENCES partner_postbacks (id),
    affiliate_id    bigint NOT NULL,
    conversion_id   uuid NOT NULL,
    event           text NOT NULL,
    method          text NOT NULL,
    url             text NOT NULL,      -- rendered when the event happened
    body            bytea,              -- JSON for POST
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    deliver_until   timestamptz NOT NULL,  -- then the delivery is dead-lettered
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL,
    UNIQUE (postback_id, conversion_id, event)
);
CREATE INDEX postback_outbox_due ON postback_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX postback_outbox_affiliate ON postback_outbox (affiliate_id, created_at);

CREATE TABLE postback_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id    uuid NOT NULL REFERENCES postback_outbox (id),
    attempted_at timestamptz NOT NULL,
    address      text,          -- the checked address the connection went to
    status_code  integer,
    latency_ms   numeric(12, 3),
    error        text,
    response     text           -- cropped
);
CREATE INDEX postback_attempts_outbox ON postback_attempts (outbox_id, attempted_at);
