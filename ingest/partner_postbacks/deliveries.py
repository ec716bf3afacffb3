"""The postback sender: due outbox rows → signed HTTP requests → attempts logged.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` and leased (``lease_until``
set past the longest an attempt can take) in one statement, so several
senders never deliver the same row at once, and a replay during an attempt
does not make the row claimable again before the attempt is recorded. Each
claimed row is delivered by a task of its own: the sender claims more as
soon as any delivery ends, never waiting for a whole batch, and holds at
most ``per_destination`` attempts in flight to one destination (the URL's
host and port) and ``concurrency`` in all, so a partner that never answers
takes its own slots only (docs/adr/0100-partner-postback-sender.md).

A failure is retried with exponential backoff and jitter; the last retry is
made at the row's ``deliver_until`` itself, and only an attempt failing at
or past it dead-letters the row (state ``dead``; replayable through the
API). A partner whose endpoint keeps failing trips a circuit breaker: its
deliveries are postponed, never dropped or disabled.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from ingest.partner_postbacks.http import HttpClient, Outcome
from tracker import metrics
from tracker.domain.partner_signing import signed_request
from tracker.domain.retry import Breaker, backoff_delay
from tracker.logs import bind

log = logging.getLogger("tracker.postbacks")

Clock = Callable[[], datetime]

# $4: destinations with no room left; $5/$6: destinations with some in flight and their
# room; $7: the room of any other destination. Rows over a destination's room stay due.
_CLAIM = """
WITH due AS (
    SELECT o.id, coalesce(o.destination, '') AS destination, o.next_attempt_at
      FROM postback_outbox o
     WHERE o.state = 'pending' AND o.next_attempt_at <= $1
       AND (o.lease_until IS NULL OR o.lease_until <= $1)
       AND coalesce(o.destination, '') <> ALL($4::text[])
     ORDER BY o.next_attempt_at LIMIT $2 * 4 FOR UPDATE SKIP LOCKED),
ranked AS (
    SELECT id, destination, next_attempt_at,
           row_number() OVER (PARTITION BY destination ORDER BY next_attempt_at, id) AS n
      FROM due),
picked AS (
    SELECT r.id FROM ranked r
      LEFT JOIN unnest($5::text[], $6::int[]) AS busy(destination, room) USING (destination)
     WHERE r.n <= coalesce(busy.room, $7)
     ORDER BY r.next_attempt_at LIMIT $2)
UPDATE postback_outbox o SET lease_until = $3
  FROM picked, partner_postbacks p
 WHERE o.id = picked.id AND p.id = o.postback_id
RETURNING o.id, o.affiliate_id, o.conversion_id, coalesce(o.destination, '') AS destination,
          o.method, o.url, o.body, o.attempts, o.replays, o.deliver_until, p.secret, p.sign_get
"""

# The state is decided here, on the row as it is now: a replay during the attempt
# (replays changed) has extended deliver_until and asked for an attempt now.
_RECORD = """
UPDATE postback_outbox SET
       state = CASE WHEN $2 THEN 'delivered'
                    WHEN $3 THEN 'dead'
                    WHEN replays <> $4 THEN 'pending'
                    WHEN $5 >= deliver_until THEN 'dead'
                    ELSE 'pending' END,
       next_attempt_at = CASE WHEN $2 OR replays <> $4 THEN $5
                              ELSE least($6::timestamptz, deliver_until) END,
       attempts = attempts + 1, last_error = $7, lease_until = NULL,
       delivered_at = CASE WHEN $2 THEN $5::timestamptz END
 WHERE id = $1
RETURNING state, attempts
"""

_ATTEMPT = """
INSERT INTO postback_attempts (outbox_id, attempted_at, address, status_code, latency_ms,
                               error, response)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


# Each partial index answers its own count (postback_outbox_due, postback_outbox_dead).
_BACKLOG = """
SELECT 'pending' AS state, count(*) AS n FROM postback_outbox WHERE state = 'pending'
UNION ALL
SELECT 'dead', count(*) FROM postback_outbox WHERE state = 'dead'
"""
BACKLOG_EVERY_S = 15.0


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
        per_destination: int = 4,
        backoff_base_s: float = 10.0,
        breaker_threshold: int = 10,
        rng: random.Random | None = None,
    ) -> None:
        self.pool = pool
        self.http = http
        self.clock = clock
        self.batch = batch
        self.concurrency = concurrency
        self.per_destination = per_destination
        self.backoff_base_s = backoff_base_s
        self.breaker_threshold = breaker_threshold
        self.rng = rng or random.Random()
        self.breakers: dict[int, Breaker] = {}
        self.busy: Counter[str] = Counter()  # attempts in flight per destination
        self._tasks: set[asyncio.Task[None]] = set()
        self._freed = asyncio.Event()  # a delivery ended (or stop was asked)
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()
        self._freed.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def run(self, idle_s: float = 0.5, drain_s: float | None = None) -> None:
        """Claim and deliver until stopped; then wait for the attempts in flight (up to
        ``drain_s``, default the request timeout; those still out are cancelled and their
        rows claimed again once their lease ends)."""
        next_count = 0.0
        try:
            while not self._stop.is_set():
                if time.monotonic() >= next_count:
                    next_count = time.monotonic() + BACKLOG_EVERY_S
                    await self._count_backlog()
                self._freed.clear()
                started = 0
                if len(self._tasks) < self.concurrency:
                    started = await self._guarded_start()
                if started == 0 or len(self._tasks) >= self.concurrency:
                    try:
                        await asyncio.wait_for(self._freed.wait(), idle_s)
                    except TimeoutError:
                        pass
        finally:
            await self.drain(self.http.timeout_s if drain_s is None else drain_s)

    async def _count_backlog(self) -> None:
        try:
            rows = await self.pool.fetch(_BACKLOG)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("postback sender: backlog not counted: %r", exc)
            return
        counts = {r["state"]: r["n"] for r in rows}
        for state in ("pending", "dead"):
            metrics.POSTBACK_OUTBOX.labels(state).set(counts.get(state, 0))

    async def drain(self, timeout_s: float) -> None:
        if not self._tasks:
            return
        _, late = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in late:
            task.cancel()
        if late:
            log.warning("postback sender: %d attempts still out at stop, cancelled", len(late))
            await asyncio.gather(*late, return_exceptions=True)

    async def _guarded_start(self) -> int:
        try:
            return len(await self._start_due(self.concurrency - len(self._tasks)))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("postback sender paused: %r", exc)
        except asyncpg.InternalClientError as exc:  # a connection dropped mid-operation
            log.warning("postback sender paused, reconnecting: %r", exc)
            self.pool.expire_connections()
        except Exception:  # the sender shares the worker's process: never take it down
            log.exception("postback sender: unexpected error; carrying on")
        return 0

    async def run_once(self) -> int:
        """Deliver what is due now (up to ``batch`` rows and the destinations' room) and
        wait for those attempts; return how many rows were attempted."""
        tasks = await self._start_due(self.batch)
        await asyncio.gather(*tasks)
        return len(tasks)

    async def _start_due(self, room: int) -> list[asyncio.Task[None]]:
        now = self.clock()
        lease = now + timedelta(seconds=self.http.timeout_s * 3 + 30)
        full = [d for d, n in self.busy.items() if n >= self.per_destination]
        some = [(d, self.per_destination - n) for d, n in self.busy.items() if n > 0]
        rows = await self.pool.fetch(
            _CLAIM, now, min(room, self.batch), lease, full,
            [d for d, _ in some], [r for _, r in some], self.per_destination,
        )  # fmt: skip
        tasks = []
        for r in rows:
            row = dict(r)
            self.busy[row["destination"]] += 1
            task = asyncio.create_task(self._attempt(row), name=f"postback-{row['id']}")
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._ended, row["destination"]))
            tasks.append(task)
        return tasks

    def _ended(self, destination: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self.busy[destination] -= 1
        if self.busy[destination] <= 0:
            del self.busy[destination]
        self._freed.set()

    def breaker(self, affiliate_id: int) -> Breaker:
        b = self.breakers.get(affiliate_id)
        if b is None:
            b = self.breakers[affiliate_id] = Breaker(threshold=self.breaker_threshold)
        return b

    async def _attempt(self, row: dict[str, Any]) -> None:
        with bind(delivery_id=str(row["id"]), conversion_id=str(row["conversion_id"])):
            try:
                await self._deliver(row)
            except asyncio.CancelledError:
                raise
            except Exception:  # its lease ends and the row is tried again
                log.exception("postback %s: attempt not recorded", row["id"])

    async def _deliver(self, row: dict[str, Any]) -> None:
        now = self.clock()
        breaker = self.breaker(row["affiliate_id"])
        if not breaker.allows(now):
            # Slowed, not disabled: try again when the breaker lets a trial through.
            assert breaker.open_until is not None
            await self.pool.execute(
                "UPDATE postback_outbox SET next_attempt_at = $2, lease_until = NULL WHERE id = $1",
                row["id"], max(breaker.open_until, now),
            )  # fmt: skip
            metrics.POSTBACKS_POSTPONED.inc()
            return
        body: bytes | None = row["body"]
        url, headers = signed_request(row["method"], row["url"], body, row["secret"],
                                      row["sign_get"], str(row["id"]), int(now.timestamp()))  # fmt: skip
        outcome = await self.http.send(row["method"], url, headers, body)
        breaker.record(outcome.ok, now)
        metrics.POSTBACK_BREAKER_OPEN.labels(str(row["affiliate_id"])).set(int(breaker.is_open))
        await self._record(row, outcome, now)

    async def _record(self, row: dict[str, Any], outcome: Outcome, now: datetime) -> None:
        retry_at = now + backoff_delay(
            row["attempts"] + 1, base_s=self.backoff_base_s, rng=self.rng
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                _ATTEMPT, row["id"], now, outcome.address, outcome.status, outcome.latency_ms,
                outcome.error, outcome.response[:1000] or None,
            )  # fmt: skip
            state, attempts = await conn.fetchrow(
                _RECORD, row["id"], outcome.ok, outcome.refused, row["replays"], now, retry_at,
                outcome.error,
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
