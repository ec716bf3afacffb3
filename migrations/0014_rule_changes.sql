-- Issue 6 (management): payout tiers get a validity, like payout overrides, so a
-- tier is changed by ending it and adding its successor (past conversions keep
-- the terms they were priced with: their decision record names the tier id);
-- conversion caps can be changed (limit) and archived (no longer applied; the
-- usage counters stay, so re-adding the same cap does not reset a period).
ALTER TABLE payout_tiers
    ADD COLUMN valid_from timestamptz,
    ADD COLUMN valid_to   timestamptz,
    ADD CONSTRAINT payout_tiers_validity CHECK (valid_from IS NULL OR valid_to IS NULL OR valid_from < valid_to);

ALTER TABLE conversion_caps
    ADD COLUMN updated_at  timestamptz,
    ADD COLUMN archived_at timestamptz;
