-- Offer and link settings the redirect needs: fallback, deep links, expiry,
-- click caps, cookieless tracking, parameter pass-through.
-- attribution_window_days is also added by the conversions work (same statement).
ALTER TABLE offers ADD COLUMN IF NOT EXISTS attribution_window_days integer NOT NULL DEFAULT 30;
ALTER TABLE offers
    ADD COLUMN IF NOT EXISTS fallback_url text,               -- template; NULL: the network default
    ADD COLUMN IF NOT EXISTS deep_links boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS deep_link_domains text[] NOT NULL DEFAULT '{}',  -- exact host or its subdomains
    ADD COLUMN IF NOT EXISTS expires_at timestamptz,
    ADD COLUMN IF NOT EXISTS daily_click_cap integer CHECK (daily_click_cap > 0),  -- per UTC day
    ADD COLUMN IF NOT EXISTS total_click_cap bigint CHECK (total_click_cap > 0),
    ADD COLUMN IF NOT EXISTS cookieless boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS pass_params boolean NOT NULL DEFAULT false;  -- append custom params

