"""The postback sender: due outbox rows → signed HTTP requests → attempts logged.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` and leased (their
``next_attempt_at`` pushed past the request timeout) in a short
transaction, so several senders never deliver the same row at once. A
failure is retried with exponential backoff and jitter until the row's
``deliver_until``; then it is dead-lettered (state ``dead``) and can be
replayed through the API. A partner whose endpoint keeps failing trips a
circuit breaker: its deliveries are postponed, never dropped or disabled.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from ingest.partner_postbacks.http import HttpClient, Outcome
from tracker import metrics
from tracker.domain.partner_signing import signed_request
from tracker.domain.retry import Breaker, backoff_delay

log = logging.getLogger("tracker.postbacks")

Clock = Callable[[], datetime]

_CLAIM = """
WITH due AS (
    SELECT o.id FROM postback_outbox o
     WHERE o.state = 'pending' AND o.next_attempt_at <= $1
     ORDER BY o.next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
UPDATE postback_outbox o SET next_attempt_at = $3
  FROM due, partner_postbacks p
 WHERE o.id = due.id AND p.id = o.postback_id
RETURNING o.id, o.affiliate_id, o.method, o.url, o.body, o.attempts, o.deliver_until,
          p.secret, p.sign_get
"""


def utcnow() -> datetime:
    return datetime.now(UTC)


class PostbackSender:
    def __init__(
        self,
        pool: asyncpg.Pool,
        http: HttpClient,
        *,
        clock: Clock = utcnow,
        batch: int = 100,
        concurrency: int = 20,
        backoff_base_s: float = 10.0,
        breaker_threshold: int = 10,
        rng: random.Random | None = None,
    ) -> None:
        self.pool = pool
        self.http = http
        self.clock = clock
        self.batch = batch
        self.backoff_base_s = backoff_base_s
        self.breaker_threshold = breaker_threshold
        self.rng = rng or random.Random()
        self.breakers: dict[int, Breaker] = {}
        self._sem = asyncio.Semaphore(concurrency)
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self, idle_s: float = 0.5) -> None:
        while not self._stop.is_set():
            try:
                done = await self.run_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("postback sender paused: %r", exc)
                done = 0
            except asyncpg.InternalClientError as exc:  # a connection dropped mid-operation
                log.warning("postback sender paused, reconnecting: %r", exc)
                self.pool.expire_connections()
                done = 0
            except Exception:  # the sender shares the worker's process: never take it down
                log.exception("postback sender: unexpected error; carrying on")
                done = 0
            if done == 0:
                try:
                    await asyncio.wait_for(self._stop.wait(), idle_s)
                except TimeoutError:
                    pass

    async def run_once(self) -> int:
        """Deliver what is due now; return how many rows were attempted."""
        now = self.clock()
        lease = now + timedelta(seconds=self.http.timeout_s * 3 + 30)
        rows = await self.pool.fetch(_CLAIM, now, self.batch, lease)
        await asyncio.gather(*(self._deliver(dict(r), now) for r in rows))
        return len(rows)

    def breaker(self, affiliate_id: int) -> Breaker:
        b = self.breakers.get(affiliate_id)
        if b is None:
            b = self.breakers[affiliate_id] = Breaker(threshold=self.breaker_threshold)
        return b

    async def _deliver(self, row: dict[str, Any], now: datetime) -> None:
        breaker = self.breaker(row["affiliate_id"])
        if not breaker.allows(now):
            # Slowed, not disabled: try again when the breaker lets a trial through.
            assert breaker.open_until is not None
            await self.pool.execute(
                "UPDATE postback_outbox SET next_attempt_at = $2 WHERE id = $1",
                row["id"], max(breaker.open_until, now),
            )  # fmt: skip
            metrics.POSTBACKS_POSTPONED.inc()
            return
        body: bytes | None = row["body"]
        url, headers = signed_request(row["method"], row["url"], body, row["secret"],
                                      row["sign_get"], str(row["id"]), int(now.timestamp()))  # fmt: skip
        async with self._sem:
            outcome = await self.http.send(row["method"], url, headers, body)
        breaker.record(outcome.ok, now)
        metrics.POSTBACK_BREAKER_OPEN.labels(str(row["affiliate_id"])).set(int(breaker.is_open))
        await self._record(row, outcome, now)

    async def _record(self, row: dict[str, Any], outcome: Outcome, now: datetime) -> None:
        attempts = row["attempts"] + 1
        if outcome.ok:
            state, next_at = "delivered", now
        else:
            next_at = now + backoff_delay(attempts, base_s=self.backoff_base_s, rng=self.rng)
            # A refused target will not become allowed by waiting: dead at once.
            state = "dead" if outcome.refused or next_at > row["deliver_until"] else "pending"
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO postback_attempts (outbox_id, attempted_at, address, status_code,
                                                  latency_ms, error, response)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)""",
                row["id"], now, outcome.address, outcome.status, outcome.latency_ms,
                outcome.error, outcome.response[:1000] or None,
            )  # fmt: skip
            await conn.execute(
                """UPDATE postback_outbox SET state = $2, attempts = $3, next_attempt_at = $4,
                          last_error = $5, delivered_at = CASE WHEN $2 = 'delivered' THEN $6::timestamptz END
                    WHERE id = $1""",
                row["id"], state, attempts, next_at, outcome.error, now,
            )  # fmt: skip
        metrics.POSTBACK_ATTEMPTS.labels(
            "ok" if outcome.ok else "refused" if outcome.refused else "failed"
        ).inc()
        metrics.POSTBACK_LATENCY.observe(outcome.latency_ms / 1000)
        if state == "dead":
            metrics.POSTBACKS_DEAD.inc()
            log.warning(
                "postback %s dead-lettered after %d attempts: %s",
                row["id"],
                attempts,
                outcome.error,
            )
