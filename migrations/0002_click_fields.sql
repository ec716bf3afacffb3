-- Fields of the full click wire format: ten sub-ids, source, custom parameters,
-- and what the worker's enrichment fills in.
ALTER TABLE clicks
    ADD COLUMN sub6 text, ADD COLUMN sub7 text, ADD COLUMN sub8 text, ADD COLUMN sub9 text,
    ADD COLUMN sub10 text,
    ADD COLUMN source text,
    ADD COLUMN params jsonb,
    ADD COLUMN os text NOT NULL DEFAULT '',
    ADD COLUMN browser text NOT NULL DEFAULT '',
    ADD COLUMN region text NOT NULL DEFAULT '',
    ADD COLUMN city text NOT NULL DEFAULT '',
    ADD COLUMN ip_hash bytea;  -- salted (daily salt) hash of the full address, for fraud rules

ALTER TABLE clicks ALTER COLUMN offer_id SET NOT NULL;
