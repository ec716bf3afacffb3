-- Issue 18: conversions from the browser (the first-party SDK) and tracking domains.
--
-- An offer takes browser conversions only from the origins listed here (none: it takes
-- none). They are stored with browser_status (pending unless an admin trusts the site)
-- and refused above browser_max_amount: a browser can forge what it sends.
ALTER TABLE offer_conversion_settings
    ADD COLUMN browser_origins    text[] NOT NULL DEFAULT '{}',
    ADD COLUMN browser_status     text NOT NULL DEFAULT 'pending'
                                  CHECK (browser_status IN ('pending', 'approved')),
    ADD COLUMN browser_max_amount numeric(18, 4) NOT NULL DEFAULT 100000;

-- Hostnames the tracker answers on (docs/adr/0096). Network-wide (no advertiser, no
-- partner), an advertiser's (its links, pixels and SDK URLs) or a partner's (its links).
-- Once one exists, a request for any other Host than these and the tracker's own is
-- refused.
CREATE TABLE tracking_domains (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hostname      text NOT NULL UNIQUE CHECK (hostname = lower(hostname)),
    scope         text NOT NULL CHECK (scope IN ('network', 'advertiser', 'partner')),
    advertiser_id bigint REFERENCES advertisers (id),
    affiliate_id  bigint REFERENCES affiliates (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tracking_domains_scope CHECK (
        (scope = 'network' AND advertiser_id IS NULL AND affiliate_id IS NULL)
        OR (scope = 'advertiser' AND advertiser_id IS NOT NULL AND affiliate_id IS NULL)
        OR (scope = 'partner' AND affiliate_id IS NOT NULL AND advertiser_id IS NULL))
);
