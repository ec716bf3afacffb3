"""Every Redis key and stream the tracker uses, and the fields of its stream entries.

One place, so that the redirect, the API and the ingest worker cannot disagree on a
name. Every key starts with the configured prefix (``TRACKER_STREAM_PREFIX``); keys
that must live together on one Redis Cluster node share a hash tag (``{…}``): each
stream shard has its own (``tracker.domain.shards``), and a shard's dead letters sit in
its slot; an offer's click-cap counters share a tag of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from tracker.domain.shards import hash_tag, shard_tag
from tracker.settings import Settings

# Fields of a click stream entry: the wire format's version and a JSON array of clicks
# (schemas.events.ClickEvent); of a conversion entry: one ConversionEvent as JSON.
VERSION = "v"
CLICKS = "clicks"
CONVERSION = "conversion"
VERSION_B, CLICKS_B, CONVERSION_B = VERSION.encode(), CLICKS.encode(), CONVERSION.encode()


@dataclass(frozen=True, slots=True)
class RedisKeys:
    prefix: str
    shards: int

    # -- streams ---------------------------------------------------------------------
    def click_streams(self) -> list[str]:
        """One stream per shard; the hash tags spread the shards evenly over the nodes."""
        n = self.shards
        return [f"{self.prefix}:clicks:{{{shard_tag(i, n)}}}" for i in range(n)]

    def conversion_streams(self) -> list[str]:
        n = self.shards
        return [f"{self.prefix}:conversions:{{{shard_tag(i, n)}}}" for i in range(n)]

    def conversion_stream(self, conversion_id: UUID) -> str:
        """The stream of one conversion: every postback (and every retry) of the same
        conversion goes to the same shard, so one worker sees them in order."""
        streams = self.conversion_streams()
        return streams[conversion_id.int % len(streams)]

    def dead_letter_stream(self) -> str:
        """The base dead-letter stream: conversions that fail on their own data when
        they are written (outside any XACK)."""
        return f"{self.prefix}:dead-letter"

    def dead_letter_of(self, source: str) -> str:
        """The dead letters of entries from stream ``source``: in the source's slot, so
        that they are added in the same MULTI as its XACK."""
        return f"{self.dead_letter_stream()}:{{{hash_tag(source)}}}"

    def dead_letter_streams(self) -> list[str]:
        """Every dead-letter stream: the base one and one per source shard."""
        sources = self.click_streams() + self.conversion_streams()
        base = self.dead_letter_stream()
        return [base, *dict.fromkeys(self.dead_letter_of(s) for s in sources)]

    # -- counters and marks ------------------------------------------------------------
    def click_cap(self, offer_id: int, day: str) -> str:
        """An offer's paid clicks reserved under its click caps on one UTC day (``total``:
        all time); both of an offer's counters share one hash tag (redirect.caps)."""
        return f"{self.prefix}:clickcap:{{c{offer_id}}}:{day}"

    def unique_prefix(self, tag: int) -> str:
        """Visitor marks of the unique-click judge, spread over ``tag`` slots."""
        return f"{self.prefix}:uniq:{{u{tag}}}:"

    def postback_seen(self, conversion_id: UUID) -> str:
        """The last status queued for an incoming postback's conversion (repeats)."""
        return f"{self.prefix}:pbseen:{conversion_id}"

    def postback_signature(self, advertiser_id: int, digest: str) -> str:
        """A signed incoming postback's signature, remembered against replays."""
        return f"{self.prefix}:pbsig:{advertiser_id}:{digest}"

    def rate_limit(self, key_id: int, minute: int) -> str:
        return f"{self.prefix}:rl:{key_id}:{minute}"

    def sweep_lock(self) -> str:
        return f"{self.prefix}:ingest:sweep-lock"

    def health(self, consumer: str) -> str:
        """An ingest worker's heartbeat; every worker's in one slot (``*``: a pattern)."""
        return f"{self.prefix}:ingest:health:{{{self.prefix}-health}}:{consumer}"


def of(settings: Settings) -> RedisKeys:
    return RedisKeys(settings.stream_prefix, settings.stream_shards)
