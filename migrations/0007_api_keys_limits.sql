-- Per-key request rate (NULL: the configured default) and last use, for operators.
ALTER TABLE api_keys
    ADD COLUMN rate_limit_per_min integer CHECK (rate_limit_per_min > 0),
    ADD COLUMN last_used_at timestamptz;
CREATE INDEX api_keys_active ON api_keys (id) WHERE revoked_at IS NULL;
