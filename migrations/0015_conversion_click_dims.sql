-- Reports (issue 6, docs/adr/0071): a conversion carries the dimensions of its click that
-- reports group and filter by (link, sub1…sub10, source, os, browser; country and device it
-- has already), so a raw report by sub-id never looks each conversion's click up again
-- (120–170 ms of a 7-day sub1 report over 10M clicks). NULL when the conversion has no
-- click (promo code), as the lookup gave before. Written only by the trigger below, so
-- every writer of conversions (the worker, loaders, SQL by hand) is covered; clicks are
-- never updated, so the copy stays what the lookup would find.
ALTER TABLE conversions
    ADD COLUMN link_id bigint,
    ADD COLUMN sub1 text, ADD COLUMN sub2 text, ADD COLUMN sub3 text, ADD COLUMN sub4 text,
    ADD COLUMN sub5 text, ADD COLUMN sub6 text, ADD COLUMN sub7 text, ADD COLUMN sub8 text,
    ADD COLUMN sub9 text, ADD COLUMN sub10 text,
    ADD COLUMN source text,
    ADD COLUMN os text,
    ADD COLUMN browser text;

CREATE FUNCTION conversion_click_dims() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- no click, or none with this key: every dimension NULL (what the report's lookup gave)
    SELECT k.link_id, k.sub1, k.sub2, k.sub3, k.sub4, k.sub5, k.sub6, k.sub7, k.sub8, k.sub9,
           k.sub10, k.source, k.os, k.browser
      INTO NEW.link_id, NEW.sub1, NEW.sub2, NEW.sub3, NEW.sub4, NEW.sub5, NEW.sub6, NEW.sub7,
           NEW.sub8, NEW.sub9, NEW.sub10, NEW.source, NEW.os, NEW.browser
      FROM clicks k
     WHERE k.click_id = NEW.click_id AND k.created_at = NEW.click_at;
    RETURN NEW;
END $$;

CREATE TRIGGER conversion_click_dims_insert BEFORE INSERT ON conversions
    FOR EACH ROW EXECUTE FUNCTION conversion_click_dims();
CREATE TRIGGER conversion_click_dims_update BEFORE UPDATE OF click_id, click_at ON conversions
    FOR EACH ROW WHEN ((OLD.click_id, OLD.click_at) IS DISTINCT FROM (NEW.click_id, NEW.click_at))
    EXECUTE FUNCTION conversion_click_dims();

-- Conversions stored before: the same values from their clicks.
UPDATE conversions v
   SET link_id = k.link_id, sub1 = k.sub1, sub2 = k.sub2, sub3 = k.sub3, sub4 = k.sub4,
       sub5 = k.sub5, sub6 = k.sub6, sub7 = k.sub7, sub8 = k.sub8, sub9 = k.sub9,
       sub10 = k.sub10, source = k.source, os = k.os, browser = k.browser
  FROM clicks k
 WHERE k.click_id = v.click_id AND k.created_at = v.click_at;
