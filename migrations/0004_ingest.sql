-- Ingest worker (issue 4): impressions counted exactly once, daily IP-hash salts.

-- Impression pixel hits, keyed by their own id like clicks, one partition per
-- UTC day (created ahead and dropped at retention by the worker). The worker
-- inserts them ON CONFLICT DO NOTHING and rolls up only the rows it inserted,
-- so a replayed batch never counts an impression twice.
CREATE TABLE impressions (
    impression_id uuid NOT NULL,
    created_at    timestamptz NOT NULL,
    link_id       bigint,
    offer_id      bigint NOT NULL,
    affiliate_id  bigint NOT NULL,
    click_class   text NOT NULL DEFAULT 'human',
    country       text NOT NULL DEFAULT '',
    device        text NOT NULL DEFAULT '',
    ingested_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (impression_id, created_at)
) PARTITION BY RANGE (created_at);

-- One random salt per UTC day for clicks.ip_hash; old salts are deleted so
-- that old hashes can no longer be matched against guessed addresses.
CREATE TABLE ip_salts (
    day  date PRIMARY KEY,
    salt bytea NOT NULL
);
