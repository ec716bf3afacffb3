-- Partner postbacks under faults (issue 21, docs/adr/0100-partner-postback-sender.md).
-- destination: the URL's authority (host[:port], lower case, no user info), so that the
--   sender bounds its deliveries per destination and one slow partner never holds up
--   another's.
-- lease_until: set while an attempt is in flight (the row is claimed); a replay leaves it
--   alone, so a replayed row is not sent a second time while the first attempt is out.
--   An expired lease (a sender that died mid-attempt) makes the row claimable again.
-- replays: counts replays; the attempt in flight during a replay sees it changed and, if
--   it failed, schedules one more attempt at once.
ALTER TABLE postback_outbox
    ADD COLUMN destination text GENERATED ALWAYS AS (
        lower(substring(url from '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/?#]*)'))
    ) STORED,
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN replays integer NOT NULL DEFAULT 0;
-- Leases used to live in next_attempt_at: a row claimed before this migration is simply
-- due again at its old lease's end.
-- The sender counts pending and dead deliveries for tracker_postback_outbox every 15 s;
-- pending ones have postback_outbox_due, dead ones get an index of their own.
CREATE INDEX postback_outbox_dead ON postback_outbox (created_at) WHERE state = 'dead';
