-- Dated CPC/CPM rates (issue 5, docs/adr/0036): reports price each click and impression
-- with the rate in effect at its time, so changing a rate never re-prices past money.
-- A row holds from valid_from until the offer's next row. Rows start on a UTC quarter
-- hour (or -infinity), like the rollup's pieces, so a report always has a rollup cover
-- that no rate change cuts through.
CREATE TABLE offer_click_rates (
    offer_id    bigint NOT NULL REFERENCES offers (id),
    valid_from  timestamptz NOT NULL CHECK (CASE WHEN isfinite(valid_from)
                    THEN extract(epoch FROM valid_from) % 900 = 0
                    ELSE valid_from = '-infinity' END),
    cpc_basis   text NOT NULL CHECK (cpc_basis IN ('unique', 'gross_human')),
    cpc_payout  numeric(18, 4) NOT NULL,
    cpc_revenue numeric(18, 4) NOT NULL,
    cpm_payout  numeric(18, 4) NOT NULL,
    cpm_revenue numeric(18, 4) NOT NULL,
    PRIMARY KEY (offer_id, valid_from)
);

-- Every writer of offer_conversion_settings is covered here, not in the API code.
-- An offer's first rates hold from the start (its clicks had no rates before); a later
-- change from the next UTC quarter hour strictly after now(). A second change within
-- the same quarter replaces the pending row, and one back to the rates in effect drops it.
CREATE FUNCTION record_click_rates() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    at timestamptz := to_timestamp(((floor(extract(epoch FROM now()) / 900) + 1) * 900)::float8);
BEGIN
    IF TG_OP = 'INSERT' AND NOT EXISTS (SELECT 1 FROM offer_click_rates
                                         WHERE offer_id = NEW.offer_id) THEN
        at := '-infinity';
    END IF;
    IF at <> '-infinity' AND EXISTS (
        SELECT 1 FROM (SELECT * FROM offer_click_rates p
                        WHERE p.offer_id = NEW.offer_id AND p.valid_from < at
                        ORDER BY p.valid_from DESC LIMIT 1) p
         WHERE (p.cpc_basis, p.cpc_payout, p.cpc_revenue, p.cpm_payout, p.cpm_revenue)
             = (NEW.cpc_basis, NEW.cpc_payout, NEW.cpc_revenue, NEW.cpm_payout, NEW.cpm_revenue)
    ) THEN
        DELETE FROM offer_click_rates WHERE offer_id = NEW.offer_id AND valid_from = at;
        RETURN NULL;
    END IF;
    INSERT INTO offer_click_rates AS r (offer_id, valid_from, cpc_basis, cpc_payout, cpc_revenue,
                                        cpm_payout, cpm_revenue)
    VALUES (NEW.offer_id, at, NEW.cpc_basis, NEW.cpc_payout, NEW.cpc_revenue, NEW.cpm_payout,
            NEW.cpm_revenue)
    ON CONFLICT (offer_id, valid_from) DO UPDATE
       SET cpc_basis = EXCLUDED.cpc_basis, cpc_payout = EXCLUDED.cpc_payout,
           cpc_revenue = EXCLUDED.cpc_revenue, cpm_payout = EXCLUDED.cpm_payout,
           cpm_revenue = EXCLUDED.cpm_revenue;
    RETURN NULL;
END $$;

CREATE TRIGGER offer_click_rates_insert AFTER INSERT ON offer_conversion_settings
    FOR EACH ROW EXECUTE FUNCTION record_click_rates();
CREATE TRIGGER offer_click_rates_update
    AFTER UPDATE OF cpc_basis, cpc_payout, cpc_revenue, cpm_payout, cpm_revenue
    ON offer_conversion_settings FOR EACH ROW
    WHEN ((OLD.cpc_basis, OLD.cpc_payout, OLD.cpc_revenue, OLD.cpm_payout, OLD.cpm_revenue)
          IS DISTINCT FROM
          (NEW.cpc_basis, NEW.cpc_payout, NEW.cpc_revenue, NEW.cpm_payout, NEW.cpm_revenue))
    EXECUTE FUNCTION record_click_rates();

-- Offers configured before this migration: their current rates hold from the start
-- (what reports priced them with until now).
INSERT INTO offer_click_rates (offer_id, valid_from, cpc_basis, cpc_payout, cpc_revenue,
                               cpm_payout, cpm_revenue)
SELECT offer_id, '-infinity', cpc_basis, cpc_payout, cpc_revenue, cpm_payout, cpm_revenue
  FROM offer_conversion_settings;
