"""Which failures the worker waits out and which it treats as its own bug or bad data."""

from __future__ import annotations

import asyncpg
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
