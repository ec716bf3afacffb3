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

# A smart link's route (issue 20): the route's counters beside its offer's, all under the
# offer's hash tag. KEYS: counters; ARGV[1]: the day counters' time to live, then each
# counter's cap (-1: none), then 1 for a day counter. 0: reserved; else the 1-based index
# of the first counter over its cap (nothing changed).
_RESERVE_MANY_LUA = """
local n = #KEYS
local values = {}
for i = 1, n do
  values[i] = redis.call('INCR', KEYS[i])
  if values[i] == 1 and ARGV[1 + n + i] == '1' then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
end
for i = 1, n do
  local cap = tonumber(ARGV[1 + i])
  if cap >= 0 and values[i] > cap then
    for j = 1, n do redis.call('DECR', KEYS[j]) end
    return i
  end
end
return 0
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
        self._many: Any = None
        # offer id (a route: minus its id) → monotonic time it was found full
        self._full: dict[int, float] = {}
        self._failing = False

    def start(self, redis: Redis) -> None:
        self._redis = redis
        self._script = redis.register_script(_RESERVE_LUA)
        self._many = redis.register_script(_RESERVE_MANY_LUA)

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
        sent = time.monotonic()
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
            self._room_again(offer_id, sent)
            return True
        self._full[offer_id] = time.monotonic()
        return False

    def _room_again(self, key: int, sent: float) -> None:
        """A reservation sent at ``sent`` succeeded: forget a full mark older than it (one
        set meanwhile, by a concurrent click's refusal, stands: answers come in any order)."""
        at = self._full.get(key)
        if at is not None and at < sent:
            del self._full[key]

    def route_full(self, route_id: int) -> bool:
        return self.full(-route_id)

    async def reserve_route(self, offer_id: int, offer_caps: tuple[int | None, int | None],
                            route_id: int, route_caps: tuple[int | None, int | None]) -> bool:  # fmt: skip
        """A paid click through a smart link's route: one place under the route's caps and
        its offer's (if any), all or none; False: one is full (or Redis away)."""
        if self._many is None:
            return False
        day = utc_day()
        keys: list[str] = []
        caps: list[int | None] = []
        daily: list[int] = []
        if offer_caps != (None, None):
            keys += [self._keys.click_cap(offer_id, day), self._keys.click_cap(offer_id, "total")]
            caps += offer_caps
            daily += [1, 0]
        keys += [self._keys.route_cap(offer_id, route_id, day),
                 self._keys.route_cap(offer_id, route_id, "total")]  # fmt: skip
        caps += route_caps
        daily += [1, 0]
        args = [_DAY_TTL_S, *(-1 if c is None else c for c in caps), *daily]
        sent = time.monotonic()
        try:
            async with asyncio.timeout(self._deadline_s):
                over = await self._many(keys=keys, args=args)
        except Exception as exc:  # as for offers: never overshoot, go to the next route
            metrics.CLICK_CAP_ERRORS.inc()
            if not self._failing:
                log.warning("click caps: cannot reserve, capped routes are skipped: %r", exc)
            self._failing = True
            return False
        self._failing = False
        if over == 0:
            self._room_again(-route_id, sent)
            self._room_again(offer_id, sent)
            return True
        offer_full = offer_caps != (None, None) and over <= 2
        self._full[offer_id if offer_full else -route_id] = time.monotonic()
        return False

    async def route_used(self, offer_id: int, route_id: int) -> tuple[int, int]:
        """(today's, all-time) paid clicks reserved under a route's caps (tests, tools)."""
        assert self._redis is not None
        day, total = await self._redis.mget(
            self._keys.route_cap(offer_id, route_id, utc_day()),
            self._keys.route_cap(offer_id, route_id, "total"),
        )
        return int(day or 0), int(total or 0)

    async def used(self, offer_id: int) -> tuple[int, int]:
        """(today's, all-time) paid clicks reserved under the offer's caps (tests, tools)."""
        assert self._redis is not None
        day, total = await self._redis.mget(
            self._keys.click_cap(offer_id, utc_day()), self._keys.click_cap(offer_id, "total")
        )
        return int(day or 0), int(total or 0)
