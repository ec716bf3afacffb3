-- Issue 19: click-level traffic rules (tracker.domain.traffic_rules), per offer, per
-- partner, per offer x partner, or (neither) the whole network. The redirect reads the
-- rows changed since its last look (updated_at), like links and offers.
CREATE TABLE traffic_rules (
    id            bigserial PRIMARY KEY,
    offer_id      bigint REFERENCES offers (id),
    affiliate_id  bigint REFERENCES affiliates (id),
    name          text NOT NULL DEFAULT '',
    datacenter    text NOT NULL DEFAULT 'allow' CHECK (datacenter IN ('allow', 'flag', 'block')),
    ip_blocklist  cidr[] NOT NULL DEFAULT '{}',
    sub_blocklist jsonb NOT NULL DEFAULT '{}',
    ua_blocklist  text[] NOT NULL DEFAULT '{}',
    archived_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX traffic_rules_updated ON traffic_rules (updated_at);
CREATE INDEX traffic_rules_offer ON traffic_rules (offer_id, id);
