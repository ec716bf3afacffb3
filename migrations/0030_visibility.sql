-- Visibility and holes (issue 17): in-house advertisers, postback secrets that are shown
-- once and rotated with an overlap, the pixel off by default, pixel amount bounds per offer.

-- An in-house program (advertiser and network are one company): its keys see payouts.
ALTER TABLE advertisers ADD COLUMN IF NOT EXISTS in_house boolean NOT NULL DEFAULT false;

-- The previous secret stays valid until previous_until after a rotation.
ALTER TABLE advertiser_postback_auth
    ADD COLUMN IF NOT EXISTS previous_secret text,
    ADD COLUMN IF NOT EXISTS previous_until  timestamptz,
    ADD COLUMN IF NOT EXISTS pixel_status    text NOT NULL DEFAULT 'pending'
        CHECK (pixel_status IN ('pending', 'approved')),
    ALTER COLUMN allow_pixel SET DEFAULT false;

-- Pixel conversions outside these amounts (in the pixel's currency) are refused at intake.
ALTER TABLE offer_conversion_settings
    ADD COLUMN IF NOT EXISTS pixel_min_amount numeric(18, 4),
    ADD COLUMN IF NOT EXISTS pixel_max_amount numeric(18, 4);
