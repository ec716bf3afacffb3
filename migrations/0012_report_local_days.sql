-- Reports (issue 6, docs/adr/0062): rollup rows per *local day* for the UTC offsets a
-- network reports in. Such a row is (span 86400, t = a local midnight): the day
-- [t, t + 1 day) of a zone at that offset, stored in rollup_spans beside the seven
-- UTC-aligned spans, so a 30-day report by partner and day reads 30 rows per partner.
-- phases: seconds after UTC midnight at which those local days start (0 excluded:
-- UTC days are there already), e.g. 66600 (18:30 UTC) for +05:30. Written only by
-- tracker.store.reports.days.register (run by `tracker migrate` from the setting
-- TRACKER_REPORT_TIME_ZONES), which back-fills a new phase from the rollup's own rows in
-- the same transaction. Every writer of rollup_spans reads the row FOR KEY SHARE, so a
-- phase appears for all writers at once: none of them is half counted.
CREATE TABLE rollup_day_phases (
    one    boolean PRIMARY KEY DEFAULT true CHECK (one),
    phases integer[] NOT NULL DEFAULT '{}'
           CHECK (0 < ALL (phases) AND 86400 > ALL (phases))
);
INSERT INTO rollup_day_phases DEFAULT VALUES;

-- Start of the span that holds ts, spans aligned on UTC midnight + phase seconds.
CREATE FUNCTION span_start(ts timestamptz, span integer, phase integer) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN to_timestamp((floor((extract(epoch FROM ts) - phase) / span) * span + phase)::float8);
