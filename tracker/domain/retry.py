"""Retry timing and a per-partner circuit breaker: pure, with an injected clock and dice."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta


def backoff_delay(attempt: int, *, base_s: float = 10.0, cap_s: float = 3600.0,
                  rng: random.Random | None = None) -> timedelta:  # fmt: skip
    """Delay before attempt ``attempt + 1`` (attempt counts from 1): exponential
    with full jitter, between half and all of ``base * 2**(attempt-1)``, capped."""
    ceiling = min(cap_s, base_s * (2 ** max(attempt - 1, 0)))
    r = (rng or random).random()
    return timedelta(seconds=ceiling * (0.5 + r / 2))


@dataclass
class Breaker:
    """Opens after ``threshold`` consecutive failures; while open, deliveries to the
    partner are postponed (slowed, never disabled); one trial after ``cooldown``."""

    threshold: int = 10
    cooldown: timedelta = timedelta(minutes=5)
    failures: int = 0
    open_until: datetime | None = None
    opened: int = field(default=0)  # how many times it has opened

    def allows(self, now: datetime) -> bool:
        return self.open_until is None or now >= self.open_until

    def record(self, ok: bool, now: datetime) -> None:
        if ok:
            self.failures = 0
            self.open_until = None
            return
        self.failures += 1
        if self.failures >= self.threshold:
            # Each consecutive opening doubles the cooldown, up to an hour.
            factor = 2 ** min(max(self.failures - self.threshold, 0), 4)
            self.open_until = now + min(self.cooldown * factor, timedelta(hours=1))
            self.opened += 1

    @property
    def is_open(self) -> bool:
        return self.open_until is not None
