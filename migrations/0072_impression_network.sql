-- Issue 22 (reports), after issue 19's network fields of a click (migration 0040): an
-- impression keeps storing every column of a click but the unique verdict (migration 0070),
-- so impressions export and report like clicks.
ALTER TABLE impressions
    ADD COLUMN asn bigint,
    ADD COLUMN asn_org text NOT NULL DEFAULT '',
    ADD COLUMN datacenter boolean NOT NULL DEFAULT false,
    ADD COLUMN traffic_rule text;
