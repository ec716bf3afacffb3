-- Issue 19 (traffic truth): the closed class set gains `blocked` (a click a traffic
-- rule sent to the fallback; never paid), and a click carries what the worker learnt of
-- its network (ASN, organisation, whether that network is a hosting/cloud one) and the
-- traffic rule that blocked or flagged it (tracker.domain.traffic_rules).
ALTER TABLE clicks DROP CONSTRAINT clicks_click_class;
ALTER TABLE clicks ADD CONSTRAINT clicks_click_class
    CHECK (click_class IN ('human', 'bot', 'preview', 'head', 'prefetch', 'blocked'));
ALTER TABLE impressions DROP CONSTRAINT impressions_click_class;
ALTER TABLE impressions ADD CONSTRAINT impressions_click_class
    CHECK (click_class IN ('human', 'bot', 'preview', 'head', 'prefetch', 'blocked'));
ALTER TABLE clicks
    ADD COLUMN asn bigint,
    ADD COLUMN asn_org text NOT NULL DEFAULT '',
    ADD COLUMN datacenter boolean NOT NULL DEFAULT false,
    ADD COLUMN traffic_rule text;
