-- Issue 20 (docs/adr/0110): offer targeting, lander rotation and split tests, smart links.
--
-- An offer's targeting (tracker.domain.targeting, NULL: every visitor) is read by the
-- redirect with the offer. Landers are an offer's landing URLs with weights; changing one
-- moves its offer's updated_at in the same statement, so the redirect's refresher (which
-- reads offers changed since its last look) takes landers along within link_refresh_s.
ALTER TABLE offers ADD COLUMN targeting jsonb;

CREATE TABLE offer_landers (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offer_id    bigint NOT NULL REFERENCES offers (id),
    name        text NOT NULL DEFAULT '',
    url         text NOT NULL,
    weight      integer NOT NULL CHECK (weight BETWEEN 1 AND 1000000),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'archived')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX offer_landers_offer ON offer_landers (offer_id, id);

-- A smart link is a tracking link (same codes, same /c/{code}, same partner) whose clicks
-- go to one of its routes: no offer of its own. Its routes name an offer or another smart
-- link of the same partner; changing a route moves its link's updated_at.
ALTER TABLE tracking_links
    ADD COLUMN kind         text NOT NULL DEFAULT 'offer' CHECK (kind IN ('offer', 'smart')),
    ADD COLUMN name         text NOT NULL DEFAULT '',
    ADD COLUMN fallback_url text,
    ADD COLUMN sticky_hours integer NOT NULL DEFAULT 24 CHECK (sticky_hours BETWEEN 0 AND 720),
    ALTER COLUMN offer_id DROP NOT NULL,
    ADD CONSTRAINT tracking_links_kind_offer CHECK ((kind = 'offer') = (offer_id IS NOT NULL));

CREATE TABLE link_routes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    link_id         bigint NOT NULL REFERENCES tracking_links (id),
    offer_id        bigint REFERENCES offers (id),
    target_link_id  bigint REFERENCES tracking_links (id),
    priority        integer NOT NULL DEFAULT 1 CHECK (priority BETWEEN 1 AND 1000),
    weight          integer NOT NULL DEFAULT 100 CHECK (weight BETWEEN 1 AND 1000000),
    targeting       jsonb,
    daily_click_cap integer CHECK (daily_click_cap >= 0),
    total_click_cap bigint CHECK (total_click_cap >= 1),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'archived')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT link_routes_target CHECK ((offer_id IS NULL) <> (target_link_id IS NULL)),
    CONSTRAINT link_routes_not_itself CHECK (target_link_id IS DISTINCT FROM link_id)
);
CREATE INDEX link_routes_link ON link_routes (link_id, id);
CREATE INDEX link_routes_offer ON link_routes (offer_id) WHERE offer_id IS NOT NULL;
CREATE INDEX link_routes_target ON link_routes (target_link_id) WHERE target_link_id IS NOT NULL;

-- The route a smart link chose and the lander shown, on the click (reports group by
-- them), on impressions (stored as clicks are, migration 0070: a smart link's pixel names
-- its route; a pixel shows no lander), and on conversions, copied from their click by a
-- trigger of its own (beside conversion_click_dims, migration 0015).
ALTER TABLE clicks ADD COLUMN route_id bigint, ADD COLUMN lander_id bigint;
ALTER TABLE impressions ADD COLUMN route_id bigint, ADD COLUMN lander_id bigint;
ALTER TABLE conversions ADD COLUMN route_id bigint, ADD COLUMN lander_id bigint;

CREATE FUNCTION conversion_route_dims() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT k.route_id, k.lander_id INTO NEW.route_id, NEW.lander_id
      FROM clicks k
     WHERE k.click_id = NEW.click_id AND k.created_at = NEW.click_at;
    RETURN NEW;
END $$;

CREATE TRIGGER conversion_route_dims_insert BEFORE INSERT ON conversions
    FOR EACH ROW EXECUTE FUNCTION conversion_route_dims();
CREATE TRIGGER conversion_route_dims_update BEFORE UPDATE OF click_id, click_at ON conversions
    FOR EACH ROW WHEN ((OLD.click_id, OLD.click_at) IS DISTINCT FROM (NEW.click_id, NEW.click_at))
    EXECUTE FUNCTION conversion_route_dims();
