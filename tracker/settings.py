"""Configuration, read once from ``TRACKER_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tracker.domain import landing_urls


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKER_", extra="ignore")

    # Servers. Unset means: start (or reuse) the embedded ones in data_dir.
    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = Path(".tracker")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    server: Literal["uvicorn", "granian"] = Field(
        "uvicorn",
        description="HTTP server of `tracker serve`/`up`: uvicorn answers visitors sooner below "
        "saturation (docs/adr/0103); granian (`pip install 'tracker[granian]'`) serves more at it",
    )
    public_url: str | None = Field(
        None,
        description="Base URL of the redirect as partners see it; defaults to http://host:port",
    )

    # Streams
    stream_prefix: str = Field("trk", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    stream_shards: int = Field(1, ge=1, le=1024)
    consumer_group: str = "ingest"

    # Redirect click batch: flushed at this many clicks or after this long.
    click_batch_max: int = Field(500, ge=1, le=10_000)
    click_batch_ms: int = Field(20, ge=1, le=5_000)
    click_buffer_max: int = Field(200_000, ge=1_000)
    link_refresh_s: float = Field(1.0, gt=0, le=60)

    # Redirect
    fallback_url: str | None = Field(
        None,
        description="Network default for offers without a fallback_url (paused, expired, capped)",
    )
    click_cookie: str = Field("trk_cid", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    country_header: str | None = Field(
        None,
        description="Request header with the visitor's country set by a trusted proxy (CF-IPCountry)",
    )
    # Deadline of one sink write to Redis; past it the batch goes to the spool.
    sink_deadline_s: float = Field(1.0, gt=0, le=10)
    spool_dir: Path | None = Field(
        None, description="Click spool while Redis is away; default data_dir/spool"
    )
    spool_max_bytes: int = Field(1 << 30, ge=1 << 20)

    # Ingest
    ingest_batch_entries: int = Field(50, ge=1, le=1_000)
    ingest_block_ms: int = Field(200, ge=1, le=10_000)
    unique_window_s: int = Field(86_400, ge=1)
    max_deliveries: int = Field(5, ge=1)
    # Conversions (issue 5): how long a postback waits for its click to reach Postgres.
    conversion_click_wait_s: float = Field(120.0, ge=0, le=3_600)
    # How long the worker keeps an offer's rules, and the API an advertiser's postback auth.
    conversion_rules_cache_s: float = Field(1.0, ge=0, le=60)
    postback_auth_cache_s: float = Field(2.0, ge=0, le=60)
    # Proxies whose X-Forwarded-For is believed (CIDRs); empty: the peer address is the client.
    trusted_proxies: list[str] = []
    # -- issue 19: traffic truth --
    # MaxMind-format ASN database (GeoLite2-ASN layout): clicks carry ASN, organisation
    # and the datacenter flag (tracker.domain.datacenters); traffic rules can block them.
    asn_db: Path | None = None
    datacenter_asns: list[int] = Field(
        [],
        max_length=10_000,
        description="AS numbers counted as datacenters beyond the built-in list",
    )
    ingest_claim_idle_ms: int = Field(30_000, ge=0)  # pending this long → claimed by the sweep
    ingest_sweep_s: float = Field(5.0, gt=0)  # how often the (lock-guarded) sweep runs
    ingest_grace_s: float = Field(10.0, gt=0)  # SIGTERM: time to commit the batch in hand
    ingest_health_ttl_s: int = Field(60, ge=5)  # `tracker ingest --check`: max heartbeat age
    geoip_db: Path | None = None  # MaxMind-format .mmdb (country, region, city)
    retention_days: int = Field(90, ge=1)  # raw clicks/impressions; rollups are kept
    partitions_ahead_days: int = Field(2, ge=0, le=60)
    # Reports (docs/adr/0062): zones whose local days get rollup rows of their own, added
    # and back-filled by `tracker migrate`; each offset in use costs one row per fact.
    report_time_zones: list[str] = Field(
        ["Asia/Kolkata"], max_length=50,
        description="IANA zones reports are mostly read in (JSON list)",
    )  # fmt: skip

    # Timeouts (seconds) for every network call
    redis_timeout_s: float = Field(1.0, gt=0)
    db_timeout_s: float = Field(10.0, gt=0)

    # Outgoing partner postbacks
    postback_allow_loopback: bool = Field(
        False, description="development only: allow loopback targets (and any port on them)"
    )
    postback_retry_window_s: int = Field(86_400, ge=60)
    postback_timeout_s: float = Field(10.0, gt=0, le=60)
    postback_concurrency: int = Field(20, ge=1, le=500)
    postback_backoff_base_s: float = Field(10.0, gt=0)
    postback_breaker_threshold: int = Field(10, ge=1)

    api_rate_limit_per_min: int = Field(
        1200, ge=1, description="per key, unless the key sets its own"
    )
    api_max_body_bytes: int = Field(1_048_576, ge=1024)
    api_key_cache_s: float = Field(30.0, ge=0, le=60)
    # -- issue 17: visibility and holes --
    # After a rotation, an advertiser's previous postback secret stays valid this long.
    postback_secret_overlap_s: int = Field(86_400, ge=0, le=30 * 86_400)
    log_level: str = "info"
    # -- issue 21: production (processes, logs, partner postbacks under faults) --
    log_format: Literal["auto", "text", "json"] = Field(
        "auto", description="auto: text on a terminal, one JSON object per line otherwise"
    )
    # Processes of `tracker serve`/`up` (on one port) and of `tracker ingest` (one group).
    workers: int = Field(1, ge=1, le=64)
    # Partner postback attempts in flight to one destination (host and port) at once.
    postback_destination_concurrency: int = Field(4, ge=1, le=100)

    @field_validator("database_url")
    @classmethod
    def _pg_scheme(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("postgres://", "postgresql://")):
            raise ValueError("TRACKER_DATABASE_URL must start with postgresql://")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(
            ("redis://", "rediss://", "unix://", "redis+cluster://")
        ):
            raise ValueError(
                "TRACKER_REDIS_URL must start with redis://, rediss://, unix:// "
                "or redis+cluster://host:port,host:port"
            )
        return v

    @field_validator("report_time_zones")
    @classmethod
    def _report_zones(cls, v: list[str]) -> list[str]:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        for zone in v:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"TRACKER_REPORT_TIME_ZONES: unknown zone {zone!r}") from None
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        from ipaddress import ip_network

        for cidr in v:
            try:
                ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"TRACKER_TRUSTED_PROXIES: not a CIDR: {cidr!r}") from None
        return v

    @field_validator("fallback_url")
    @classmethod
    def _fallback_scheme(cls, v: str | None) -> str | None:
        why = landing_urls.problem(v) if v is not None else None
        if why is not None:  # the same check as an offer's fallback_url (docs/adr/0086)
            raise ValueError(f"TRACKER_FALLBACK_URL: {why}")
        return v

    @property
    def spool_path(self) -> Path:
        return self.spool_dir or self.data_dir / "spool"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
