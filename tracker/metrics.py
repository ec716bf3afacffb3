"""Every Prometheus metric of the tracker, declared once with what it means
(how they are kept and scraped: tracker/exposition.py)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from tracker.exposition import LoopCounter, LoopHistogram

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series: they double the scrape for nothing

# With several processes (docs/adr/0101), each gauge says how the processes' values
# combine: "livesum" (this process's own share), "livemostrecent" (every process sees the
# same thing, e.g. a stream's state), "livemax"/"livemin" (any process).

# Redirects answered, by outcome (redirect, deep_link, fallback, not_found, gone, unavailable,
# pixel) and click class (human, bot, preview, head, prefetch; '-' when nothing was recorded).
REDIRECTS = LoopCounter("tracker_redirects_total", "Redirects answered", ("outcome", "cls"))


# Seconds spent in the redirect handler (our own time, not the network's).
REDIRECT_SECONDS = LoopHistogram(
    "tracker_redirect_seconds",
    "Redirect handler latency",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25),
)
# Click events written to a Redis stream (counted per click, not per entry).
STREAM_EVENTS_WRITTEN = Counter(
    "tracker_stream_events_written_total", "Events written to streams", ["stream"]
)
# Clicks dropped: in-process buffer full, or spool full (Redis away too long).
CLICKS_DROPPED = Counter("tracker_clicks_dropped_total", "Clicks dropped: buffer full")
# Clicks waiting in the in-process buffer of this process.
CLICK_BUFFER = Gauge(
    "tracker_click_buffer", "Clicks buffered in process", multiprocess_mode="livesum"
)
# Clicks per stream entry written by the sink.
SINK_BATCH = Histogram(
    "tracker_sink_batch_size", "Clicks per stream entry", buckets=(1, 10, 50, 100, 250, 500, 1000)
)
# Seconds to write one batch to Redis.
SINK_FLUSH_SECONDS = Histogram("tracker_sink_flush_seconds", "Sink flush latency")
# Failed flushes to Redis (the batch goes to the local spool).
SINK_FLUSH_ERRORS = Counter("tracker_sink_flush_errors_total", "Sink flush failures")
# Clicks written to the local spool because Redis was away.
CLICKS_SPOOLED = Counter("tracker_clicks_spooled_total", "Clicks written to the local spool")
# Clicks replayed from the spool into the streams once Redis was back.
CLICKS_REPLAYED = Counter("tracker_clicks_replayed_total", "Clicks replayed from the spool")
# Bytes in the spool not yet replayed (own segments and adopted ones).
SPOOL_BYTES = Gauge(
    "tracker_spool_bytes", "Bytes waiting in the click spool", multiprocess_mode="livesum"
)

# Rows inserted into Postgres by the ingest worker (duplicates excluded).
ROWS_INGESTED = Counter(
    "tracker_rows_ingested_total", "Rows inserted by the ingest worker", ["table"]
)
# Rows skipped as already present (replays).
ROWS_DUPLICATE = Counter(
    "tracker_rows_duplicate_total", "Rows already present (replayed)", ["table"]
)
# Seconds from reading a batch to its XACK.
INGEST_BATCH_SECONDS = Histogram("tracker_ingest_batch_seconds", "Ingest batch latency", ["stream"])
# Entries (or single clicks in them) moved to the dead-letter stream.
DEAD_LETTERED = Counter("tracker_dead_lettered_total", "Items dead-lettered", ["reason"])
# Entries in a stream not yet delivered to the consumer group.
STREAM_LAG = Gauge(
    "tracker_stream_lag", "Entries not yet read by the group", ["stream"],
    multiprocess_mode="livemostrecent",
)  # fmt: skip
# Entries delivered but not acknowledged.
STREAM_PENDING = Gauge(
    "tracker_stream_pending", "Entries pending acknowledgement", ["stream"],
    multiprocess_mode="livemostrecent",
)  # fmt: skip
# Entries claimed from dead consumers.
CLAIMED = Counter(
    "tracker_claimed_total", "Pending entries claimed from idle consumers", ["stream"]
)

# Outgoing partner postback attempts, by outcome (ok, failed, refused by the SSRF guard).
POSTBACK_ATTEMPTS = Counter(
    "tracker_postback_attempts_total", "Partner postback attempts", ["outcome"]
)
# Seconds per partner postback attempt.
POSTBACK_LATENCY = Histogram("tracker_postback_seconds", "Partner postback latency")
# Partner postbacks dead-lettered (retry window over, or target refused); replayable via the API.
POSTBACKS_DEAD = Counter("tracker_postbacks_dead_total", "Partner postbacks dead-lettered")
# Deliveries postponed because the partner's circuit breaker is open.
POSTBACKS_POSTPONED = Counter(
    "tracker_postbacks_postponed_total", "Postbacks postponed by a breaker"
)
# 1 while a partner's endpoint keeps failing (breaker open): alert on this.
POSTBACK_BREAKER_OPEN = Gauge(
    "tracker_postback_breaker_open", "Partner breaker open", ["affiliate_id"],
    multiprocess_mode="livemax",
)  # fmt: skip

# API requests refused with 429 (a key over its per-minute budget).
RATE_LIMITED = Counter("tracker_api_rate_limited_total", "API requests refused: rate limit")
# API requests let through unchecked because Redis did not answer the limiter.
RATE_LIMIT_UNCHECKED = Counter("tracker_api_rate_limit_unchecked_total", "Rate limit not checked")

# Conversions re-queued because their click had not reached Postgres yet.
CONVERSIONS_DEFERRED = Counter(
    "tracker_conversions_deferred_total", "Conversions waiting for their click"
)
# Postbacks and pixels refused at intake, by reason (bad_token, stale, replayed, ip…).
POSTBACKS_REFUSED = Counter("tracker_postbacks_refused_total", "Postbacks refused", ["reason"])
# Postbacks accepted at intake, by outcome (queued, repeat).
POSTBACKS = Counter("tracker_postbacks_total", "Postbacks accepted", ["outcome"])

# Clicks and impressions per committed ingest batch.
INGEST_BATCH_ROWS = Histogram(
    "tracker_ingest_batch_rows",
    "Rows per ingest batch",
    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000),
)
# Entries in a stream (what trimming has not yet removed).
STREAM_LENGTH = Gauge(
    "tracker_stream_length", "Entries in the stream", ["stream"], multiprocess_mode="livemostrecent"
)
# Age in seconds of the oldest entry delivered but not acknowledged.
OLDEST_PENDING_SECONDS = Gauge(
    "tracker_stream_oldest_pending_seconds", "Age of the oldest pending entry", ["stream"],
    multiprocess_mode="livemostrecent",
)  # fmt: skip
# Age in seconds of the oldest entry not yet read by the group (consumer lag in time).
STREAM_LAG_SECONDS = Gauge(
    "tracker_stream_lag_seconds", "Age of the oldest undelivered entry", ["stream"],
    multiprocess_mode="livemostrecent",
)  # fmt: skip
# Entries removed by trimming below the oldest pending entry.
STREAM_TRIMMED = Counter("tracker_stream_trimmed_total", "Entries trimmed", ["stream"])
# Unix time of the ingest worker's last progress (a committed batch, or nothing to do).
INGEST_LAST_PROGRESS = Gauge(
    "tracker_ingest_last_progress_seconds", "Last ingest progress", multiprocess_mode="livemax"
)

# -- issue 18: browser conversions and tracking domains --
# Browser conversions (the SDK) by outcome: queued, repeat, or why refused (origin,
# preflight, too_large, malformed_json, invalid, unknown_click, unknown_offer, amount).
BROWSER_CONVERSIONS = Counter(
    "tracker_browser_conversions_total", "Browser conversions by outcome", ["outcome"]
)
# Requests refused because their Host is not a registered tracking domain.
HOSTS_REFUSED = Counter("tracker_hosts_refused_total", "Requests for an unregistered Host")

# -- issue 21: production (dashboards, alerts, several processes) --
# Seconds per API request by route template, method and status class (not the redirect's).
API_SECONDS = Histogram(
    "tracker_api_request_seconds", "API request latency", ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)  # fmt: skip
# Entries in each dead-letter stream (set aside by ingest with their reason), per sweep.
DEAD_LETTER_LENGTH = Gauge(
    "tracker_dead_letter_length", "Entries in the dead-letter stream", ["stream"],
    multiprocess_mode="livemostrecent",
)  # fmt: skip
# Conversions stored by the ingest worker, by their status when stored (after the commit).
CONVERSIONS = Counter("tracker_conversions_total", "Conversions stored", ["status"])
# Conversion status changes (later postbacks, the API) by new status, in the transaction.
CONVERSION_STATUS_CHANGES = Counter(
    "tracker_conversion_status_changes_total", "Conversion status changes", ["to"]
)
# 1 while this process's last probe of the dependency (postgres, redis) answered in time.
DEPENDENCY_UP = Gauge(
    "tracker_dependency_up", "Dependency answered the last probe", ["dependency"],
    multiprocess_mode="livemin",
)  # fmt: skip
# Partner postback deliveries in the outbox by state (pending, dead), read every 15 s.
POSTBACK_OUTBOX = Gauge(
    "tracker_postback_outbox", "Partner postback deliveries by state", ["state"],
    multiprocess_mode="livemostrecent",
)  # fmt: skip
# -- issue 19: traffic truth --
# Click-cap reservations that Redis did not answer in time (the click went to the fallback).
CLICK_CAP_ERRORS = Counter("tracker_click_cap_errors_total", "Click-cap reservations failed")
