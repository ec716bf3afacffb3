-- Issue 22 (reports): every dimension a user filters by is stored on the row it describes.
-- docs/adr/0105-how-a-report-is-answered.md
--
-- clicks: the referer's host (lower case, no port), written by the worker
-- (ingest.clicks.rows.referer_domain); clicks stored before get it from the same rule here.
ALTER TABLE clicks ADD COLUMN referer_domain text;

-- The rule of ingest.clicks.rows.referer_domain, for the back-fill below (and tests check
-- both give the same host for the same referer).
CREATE FUNCTION referer_domain(referer text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN lower(substring(referer FROM
        '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([A-Za-z0-9._-]{1,253})(?:[:/?#]|$)'));

UPDATE clicks SET referer_domain = referer_domain(referer) WHERE referer IS NOT NULL;

-- impressions: the pixel's hit carries what a click's does; store it the same way (every
-- column of a click but is_unique), so impressions group, filter and export like clicks.
ALTER TABLE impressions
    ADD COLUMN link_code text,
    ADD COLUMN sub1 text, ADD COLUMN sub2 text, ADD COLUMN sub3 text, ADD COLUMN sub4 text,
    ADD COLUMN sub5 text, ADD COLUMN sub6 text, ADD COLUMN sub7 text, ADD COLUMN sub8 text,
    ADD COLUMN sub9 text, ADD COLUMN sub10 text,
    ADD COLUMN source text,
    ADD COLUMN params jsonb,
    ADD COLUMN referer text,
    ADD COLUMN referer_domain text,
    ADD COLUMN ip_trunc inet,
    ADD COLUMN ip_hash bytea,
    ADD COLUMN region text NOT NULL DEFAULT '',
    ADD COLUMN city text NOT NULL DEFAULT '',
    ADD COLUMN user_agent text,
    ADD COLUMN os text NOT NULL DEFAULT '',
    ADD COLUMN browser text NOT NULL DEFAULT '';

-- conversions: the rest of their click's dimensions (migration 0015 copied link, sub-ids,
-- source, os and browser), by the same trigger.
ALTER TABLE conversions
    ADD COLUMN region text,
    ADD COLUMN city text,
    ADD COLUMN params jsonb,
    ADD COLUMN referer_domain text;

CREATE OR REPLACE FUNCTION conversion_click_dims() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- no click, or none with this key: every dimension NULL (what the report's lookup gave)
    SELECT k.link_id, k.sub1, k.sub2, k.sub3, k.sub4, k.sub5, k.sub6, k.sub7, k.sub8, k.sub9,
           k.sub10, k.source, k.os, k.browser, k.region, k.city, k.params, k.referer_domain
      INTO NEW.link_id, NEW.sub1, NEW.sub2, NEW.sub3, NEW.sub4, NEW.sub5, NEW.sub6, NEW.sub7,
           NEW.sub8, NEW.sub9, NEW.sub10, NEW.source, NEW.os, NEW.browser, NEW.region,
           NEW.city, NEW.params, NEW.referer_domain
      FROM clicks k
     WHERE k.click_id = NEW.click_id AND k.created_at = NEW.click_at;
    RETURN NEW;
END $$;

UPDATE conversions v
   SET region = k.region, city = k.city, params = k.params, referer_domain = k.referer_domain
  FROM clicks k
 WHERE k.click_id = v.click_id AND k.created_at = v.click_at;
