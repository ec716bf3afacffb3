"""Click caps: an atomic reservation in Redis for each paid click of a capped offer.

A cap counts only paid (human) clicks (tracker.domain.counted) and never overshoots,
whatever the burst and however many ``tracker serve`` processes share the offer: the
redirect reserves the click's place with one script call that increments the offer's
day and all-time counters and takes the increment back when either is over its cap
(docs/adr/0092). Only capped offers pay this round trip; the others never reach this
object. Other classes on a capped offer take no place: they follow the offer's last
known state (full or not) without a call.

When Redis does not answer within the deadline the click is not reserved: the visitor
goes to the offer's fallback, as for a full cap (a cap may be under-filled while Redis
is away, never over-filled).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from redis.asyncio import Redis

from tracker import metrics
from tracker.redis_keys import RedisKeys
from tracker.resources import Services

log = logging.getLogger("tracker.redirect")

_DAY_TTL_S = 3 * 86_400
_FULL_RECHECK_S = 1.0  # a full offer is re-tried by a paid click after this long
# KEYS: day counter, all-time counter (one hash tag); ARGV: day cap, total cap (-1: none),
# the day counter's time to live. 1: reserved; 0: a cap is full (nothing changed).
_RESERVE_LUA = """
local d = redis.call('INCR', KEYS[1])
if d == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
local t = redis.call('INCR', KEYS[2])
local dc, tc = tonumber(ARGV[1]), tonumber(ARGV[2])
if (dc >= 0 and d > dc) or (tc >= 0 and t > tc) then
  redis.call('DECR', KEYS[1])
  redis.call('DECR', KEYS[2])
  return 0
end
return 1
"""


def utc_day(ts: float | None = None) -> str:
    return time.strftime("%Y%m%d", time.gmtime(time.time() if ts is None else ts))


class ClickCaps:
    """The one click-cap counter of a process, shared by everything that decides a click."""

    def __init__(self, keys: RedisKeys, deadline_s: float) -> None:
        self._keys = keys
        self._deadline_s = deadline_s
        self._redis: Redis | None = None
        self._script: Any = None
        self._full: dict[int, float] = {}  # offer id → monotonic time it was found full
        self._failing = False

    def start(self, redis: Redis) -> None:
        self._redis = redis
        self._script = redis.register_script(_RESERVE_LUA)

    async def start_with(self, services: Services) -> None:
        self.start(services.redis)

    async def stop(self) -> None:
        pass

    def full(self, offer_id: int) -> bool:
        """Whether the offer was found full recently (no call: for unpaid clicks)."""
        at = self._full.get(offer_id)
        return at is not None and time.monotonic() - at < _FULL_RECHECK_S

    async def reserve(self, offer_id: int, daily_cap: int | None, total_cap: int | None) -> bool:
        """Take one place under the offer's caps for a paid click; False: full (or Redis away)."""
        if self._script is None:
            return False
        day = utc_day()
        keys = [self._keys.click_cap(offer_id, day), self._keys.click_cap(offer_id, "total")]
        args = [-1 if daily_cap is None else daily_cap, -1 if total_cap is None else total_cap,
                _DAY_TTL_S]  # fmt: skip
        try:
            async with asyncio.timeout(self._deadline_s):
                ok = await self._script(keys=keys, args=args)
        except Exception as exc:  # Redis away or slow: never overshoot, send to the fallback
            metrics.CLICK_CAP_ERRORS.inc()
            if not self._failing:
                log.warning("click caps: cannot reserve, capped offers go to fallback: %r", exc)
            self._failing = True
            return False
        self._failing = False
        if ok == 1:
            self._full.pop(offer_id, None)
            return True
        self._full[offer_id] = time.monotonic()
        return False

    async def used(self, offer_id: int) -> tuple[int, int]:
        """(today's, all-time) paid clicks reserved under the offer's caps (tests, tools)."""
        assert self._redis is not None
        day, total = await self._redis.mget(
            self._keys.click_cap(offer_id, utc_day()), self._keys.click_cap(offer_id, "total")
        )
        return int(day or 0), int(total or 0)
