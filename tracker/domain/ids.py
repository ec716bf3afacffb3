"""UUIDv7 click ids: time-ordered, so the primary-key index stays append-only."""

from __future__ import annotations

import os
import time
from uuid import UUID

_last_ms = 0
_seq = 0


def uuid7(now_ns: int | None = None) -> UUID:
    """A UUIDv7 (RFC 9562): 48-bit Unix ms, 12-bit counter, 62 random bits.

    Within one process ids are strictly increasing: the 12-bit field counts
    ids made in the same millisecond (method 1 of RFC 9562 §6.2).
    """
    global _last_ms, _seq
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    if ms > _last_ms:
        _last_ms, _seq = ms, 0
    else:
        _seq += 1
        if _seq > 0xFFF:  # counter exhausted: borrow the next millisecond
            _last_ms, _seq = _last_ms + 1, 0
        ms = _last_ms
    rand = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (ms << 80) | (0x7 << 76) | (_seq << 64) | (0b10 << 62) | rand
    return UUID(int=value)


def uuid7_time_ms(u: UUID) -> int:
    """Unix milliseconds carried by a UUIDv7."""
    return u.int >> 80
