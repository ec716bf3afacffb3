"""Which failures the worker waits out and which it treats as its own bug or bad data."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import uvloop
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    ClusterDownError,
    ConnectionError,
    CrossSlotTransactionError,
    RedisClusterException,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)

from ingest.errors import POISON, transient
from tracker.redis_client import away, writer_gone
from tracker.runtime.embedded_redis import EmbeddedRedis


def test_servers_going_away_are_waited_out() -> None:
    for exc in (
        ConnectionError("reset"),
        TimeoutError(),
        ClusterDownError("CLUSTERDOWN The cluster is down"),
        TryAgainError("TRYAGAIN"),
        SlotNotCoveredError("slot 5 not covered"),
        # raised by the cluster client without a chained cause while a master restarts
        RedisClusterException(
            "Redis Cluster cannot be connected. Please provide at least one reachable node"
        ),
        asyncpg.InternalClientError(
            "cannot switch to state 11; another operation (2) is in progress"
        ),
        asyncpg.CannotConnectNowError("the database system is starting up"),
    ):
        assert transient(exc), exc


def test_our_mistakes_and_bad_data_are_not() -> None:
    for exc in (
        ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        CrossSlotTransactionError("keys in a transaction must share a slot"),
        ValueError("bug"),
        asyncpg.DataError("invalid input syntax for type uuid"),
    ):
        assert not transient(exc), exc
    assert isinstance(asyncpg.DataError("x"), POISON)


def _failed_write(
    tmp_path: Path, fail: Callable[[Redis, Connection], Awaitable[object]]
) -> tuple[BaseException | None, bytes | None]:
    """On a real Redis, under uvloop as `tracker ingest` runs: set k to v, let ``fail``
    break the connection and write on it, and read k again with the same client (the
    next command reconnects). Returns (what the write raised, what k then holds)."""
    server = EmbeddedRedis(tmp_path)
    url = server.start()

    async def scenario() -> tuple[BaseException | None, bytes | None]:
        client = Redis.from_url(url, single_connection_client=True,
                                retry=Retry(NoBackoff(), 0), socket_timeout=1)  # fmt: skip
        try:
            await client.set("k", "v")
            assert client.connection is not None
            failure = None
            try:
                await fail(client, client.connection)
            except Exception as exc:
                failure = exc
            return failure, await client.get("k")
        finally:
            await client.aclose()

    try:
        return uvloop.run(scenario())
    finally:
        server.stop(kill=True)


def test_a_write_on_a_transport_closed_underneath_is_waited_out(tmp_path: Path) -> None:
    """Under uvloop (what `tracker ingest` runs on) a write on a transport closed under a
    connection raises RuntimeError("… the handler is closed"), not ConnectionError
    (MagicStack/uvloop#506). The cluster client closes a failed node's connections while
    another task is about to write on one; a worker killed by it left a cluster test's
    clicks unread while a master restarted. redis-py drops the connection before
    re-raising, so the next attempt reconnects: the worker must wait it out."""

    async def fail(client: Redis, conn: Connection) -> None:
        conn._writer.transport.close()  # type: ignore[union-attr]
        await asyncio.sleep(0.05)
        await client.set("k", "w")

    failure, after = _failed_write(tmp_path, fail)
    # redis-py <= 8.1 lets uvloop's RuntimeError through; 8.2 checks the transport first
    # and raises ConnectionError. Either way the worker must take it for Redis away.
    assert isinstance(failure, ConnectionError) or (
        isinstance(failure, RuntimeError) and "handler is closed" in str(failure)
    ), failure
    assert transient(failure)
    assert after == b"v"


def test_a_write_racing_a_disconnect_is_waited_out(tmp_path: Path) -> None:
    """redis-py can write on a connection another task has just disconnected (the cluster
    client dropping a failed node): its write runs under ``wait_for`` as a task of its own,
    and a disconnect in between leaves ``_writer`` None, so the write raises AttributeError
    instead of ConnectionError (redis/redis-py#4287). It killed an ingest worker while a
    cluster master restarted (CI, stop 14). The worker, the rate limiter and the postback
    route must take it for "Redis away"; the next command reconnects."""

    async def fail(client: Redis, conn: Connection) -> None:
        write = asyncio.ensure_future(conn.send_command("SET", "k", "w"))
        await asyncio.sleep(0)  # the write is scheduled under wait_for, not yet run
        await conn.disconnect(nowait=True)
        await write

    failure, after = _failed_write(tmp_path, fail)
    # redis-py 8.2 carries the fix (#4288): ConnectionError; before it, the AttributeError.
    if isinstance(failure, AttributeError):
        assert "writelines" in str(failure) and writer_gone(failure), failure
    else:
        assert isinstance(failure, ConnectionError), failure
    assert away(failure) and transient(failure)
    assert after == b"v"
    # the same error raised by our own code is a bug, never waited out
    try:
        None.writelines([])  # type: ignore[attr-defined]
    except AttributeError as ours:
        assert not writer_gone(ours) and not away(ours) and not transient(ours)
