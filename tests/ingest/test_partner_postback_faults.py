"""Partner postbacks under faults: a partner that never answers, the retry window's end,
a replay while an attempt is out. Real receivers on loopback, the real sender (inside
the real `tracker ingest` process for the first test)."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from ingest.partner_postbacks.deliveries import PostbackSender
from ingest.partner_postbacks.http import HttpClient
from tests.conftest import create_world
from tests.ingest.procs import stop, worker_env
from tests.ingest.test_partner_postbacks import (
    _burst_clicks_and_conversions,
    _clicks,
    _postbacks,
)
from tests.receiver import Receiver, receiver
from tracker.settings import Settings


async def _partner(api: httpx.AsyncClient, world: dict[str, Any], rx: Receiver) -> None:
    r = await api.post("/api/v1/partner-postbacks", json={
        "affiliate_id": world["affiliate"]["id"],
        "url_template": f"http://127.0.0.1:{rx.port}/pb?c={{click_id}}&t={{txn_id}}"})  # fmt: skip
    assert r.status_code == 201, r.text


async def _until(what: str, cond: Any, timeout_s: float) -> float:
    """Wait until cond() holds; return when (monotonic)."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
    return time.monotonic()


async def test_a_partner_that_never_answers_does_not_delay_another(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Partner A's endpoint accepts and never answers (timeout 10 s); 12 of its
    deliveries are due. Partner B's delivery, queued while A's hang, arrives as fast as
    it does with A quiet, and A never has more than its per-destination share out."""
    settings.postback_allow_loopback = True
    slow_world, fast_world = await create_world(api), await create_world(api)
    async with receiver() as slow, receiver() as fast:
        slow.behave = lambda req: None
        await _partner(api, slow_world, slow)
        await _partner(api, fast_world, fast)
        slow_cids = await _clicks(service, slow_world, 12, "slow")
        fast_cids = await _clicks(service, fast_world, 2, "fast")
        log = (settings.data_dir / "ingest.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "ingest"],
            env=worker_env(settings, TRACKER_POSTBACK_ALLOW_LOOPBACK="true",
                           TRACKER_POSTBACK_TIMEOUT_S="10", TRACKER_POSTBACK_CONCURRENCY="20",
                           TRACKER_POSTBACK_DESTINATION_CONCURRENCY="4"),
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            # B alone first: its normal time from postback to delivery.
            t0 = time.monotonic()
            await _postbacks(api, fast_world, fast_cids[:1], "alone")
            alone = await _until("B's first delivery", lambda: len(fast.requests) == 1, 30) - t0
            # A's twelve go out and hang: at most four at once to its one destination.
            await _postbacks(api, slow_world, slow_cids, "hang")
            await _until("A's deliveries to go out", lambda: slow.in_flight >= 4, 30)
            t1 = time.monotonic()
            await _postbacks(api, fast_world, fast_cids[1:], "beside")
            beside = await _until("B's second delivery", lambda: len(fast.requests) == 2, 30) - t1
            out = (slow.in_flight, slow.max_in_flight)
        finally:
            code = stop(proc, 60)
            log.close()
    assert code == 0, (settings.data_dir / "ingest.log").read_text()[-3000:]
    # "Its normal time": the same path with A quiet, plus scheduling noise; the sender used
    # to wait for its whole claimed batch, that is A's 10 s timeout.
    assert beside <= max(2 * alone, alone + 1.5), (alone, beside)
    assert beside < 5.0, (alone, beside)
    assert out == (4, 4)  # A's twelve never held more than its destination's four slots


async def _one_row(settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool,
                   rx: Receiver) -> dict[str, Any]:  # fmt: skip
    settings.postback_allow_loopback = True
    world = await create_world(api)
    await _partner(api, world, rx)
    cids = await _clicks(service, world, 1, "one")
    await asyncio.sleep(0.1)
    await _burst_clicks_and_conversions(settings, api, world, cids)
    row = await pool.fetchrow(
        "SELECT * FROM postback_outbox WHERE affiliate_id = $1", world["affiliate"]["id"]
    )
    assert row is not None
    return dict(row)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_the_whole_retry_window_is_used_before_a_delivery_is_dead(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Backoff base 60 s, window 100 s: attempt 1 at t, attempt 2 within 30-60 s; its
    backoff (60-120 s) reaches past the window, so attempt 3 is made at the window's
    end itself, and only its failure dead-letters the row."""
    async with receiver() as rx:
        rx.behave = lambda req: (503, b"down")
        row = await _one_row(settings, service, api, pool, rx)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
        until = start + timedelta(seconds=100)
        await pool.execute(
            "UPDATE postback_outbox SET deliver_until = $2, next_attempt_at = $3 WHERE id = $1",
            row["id"], until, start,
        )  # fmt: skip
        clock = Clock(start)
        sender = PostbackSender(pool, HttpClient(timeout_s=2, allow_loopback=True), clock=clock,
                                backoff_base_s=60, rng=random.Random(7))  # fmt: skip
        times = []
        for _ in range(10):
            due = await pool.fetchrow(
                "SELECT state, next_attempt_at FROM postback_outbox WHERE id = $1", row["id"]
            )
            if due["state"] != "pending":
                break
            clock.now = due["next_attempt_at"]
            before = len(rx.requests)
            await sender.run_once()
            if len(rx.requests) > before:
                times.append(clock.now)
        final = await pool.fetchrow("SELECT * FROM postback_outbox WHERE id = $1", row["id"])
    assert final["state"] == "dead" and final["attempts"] == 3, dict(final)
    assert times[0] == start and start < times[1] < until
    assert times[2] == until  # the last attempt at the window's end, not a backoff before it
    assert final["lease_until"] is None


async def _replayed_during_attempt(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool,
    first: tuple[int, bytes],
) -> tuple[Receiver, dict[str, Any]]:  # fmt: skip
    """One delivery whose first attempt is held 1.5 s by the partner and answered
    ``first``; replayed through the API while it is out, with two senders running.
    Returns the receiver and the row."""
    async with receiver() as rx:
        rx.delay_s = 1.5
        rx.behave = lambda req: first if len(rx.requests) == 1 else (200, b"ok")
        row = await _one_row(settings, service, api, pool, rx)
        # Two senders, as two ingest processes run them.
        senders = [PostbackSender(pool, HttpClient(timeout_s=5, allow_loopback=True),
                                  backoff_base_s=30) for _ in range(2)]  # fmt: skip
        runs = [asyncio.create_task(s.run(idle_s=0.05)) for s in senders]
        try:
            await _until("the first attempt", lambda: rx.in_flight == 1, 10)
            r = await api.post("/api/v1/deliveries/replay", json={"ids": [str(row["id"])]})
            assert r.json() == {"replayed": 1}
            await asyncio.sleep(1.0)  # the senders poll every 50 ms meanwhile
            assert len(rx.requests) == 1  # not sent again while the first attempt is out
            deadline = time.monotonic() + 10
            while (
                await pool.fetchval("SELECT state FROM postback_outbox WHERE id = $1", row["id"])
                != "delivered"
            ):
                assert time.monotonic() < deadline, "never delivered"
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # nothing more goes out
        finally:
            for sender in senders:
                sender.stop()
            await asyncio.gather(*runs)
        final = await pool.fetchrow("SELECT * FROM postback_outbox WHERE id = $1", row["id"])
    return rx, dict(final)


async def test_a_replay_while_the_attempt_is_out_never_sends_twice(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    rx, row = await _replayed_during_attempt(settings, service, api, pool, (200, b"ok"))
    assert len(rx.requests) == 1 and rx.max_in_flight == 1
    assert row["state"] == "delivered" and row["attempts"] == 1


async def test_a_replay_while_a_failing_attempt_is_out_sends_once_more_at_once(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """The attempt out during the replay fails: the replay's attempt follows at once (not
    after the 15-30 s backoff), one at a time, and succeeds."""
    rx, row = await _replayed_during_attempt(settings, service, api, pool, (500, b"no"))
    assert len(rx.requests) == 2 and rx.max_in_flight == 1
    assert rx.requests[1].at - rx.requests[0].at < 3.0
    assert row["state"] == "delivered" and row["attempts"] == 2
