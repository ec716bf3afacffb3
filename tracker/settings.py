"""Configuration, read once from ``TRACKER_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKER_", extra="ignore")

    # Servers. Unset means: start (or reuse) the embedded ones in data_dir.
    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = Path(".tracker")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
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

    # Timeouts (seconds) for every network call
    redis_timeout_s: float = Field(1.0, gt=0)
    db_timeout_s: float = Field(10.0, gt=0)

    api_key_cache_s: float = Field(30.0, ge=0, le=60)
    log_level: str = "info"

    @field_validator("database_url")
    @classmethod
    def _pg_scheme(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("postgres://", "postgresql://")):
            raise ValueError("TRACKER_DATABASE_URL must start with postgresql://")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("TRACKER_REDIS_URL must start with redis://, rediss:// or unix://")
        return v

    @field_validator("fallback_url")
    @classmethod
    def _fallback_scheme(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("https://", "http://")):
            raise ValueError("TRACKER_FALLBACK_URL must start with http:// or https://")
        return v

    @property
    def spool_path(self) -> Path:
        return self.spool_dir or self.data_dir / "spool"

    def click_count_key(self, shard: int, day: str) -> str:
        """Per-shard click counters of one UTC day (``total`` for all time), for click caps."""
        return f"{self.stream_prefix}:clickcount:{{{shard}}}:{day}"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def click_streams(self) -> list[str]:
        """Stream keys; the hash tag puts each shard on one Redis Cluster node."""
        return [f"{self.stream_prefix}:clicks:{{{i}}}" for i in range(self.stream_shards)]

    def conversion_streams(self) -> list[str]:
        return [f"{self.stream_prefix}:conversions:{{{i}}}" for i in range(self.stream_shards)]

    def dead_letter_stream(self) -> str:
        return f"{self.stream_prefix}:dead-letter"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
