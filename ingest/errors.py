"""The two kinds of failure the worker tells apart (as arroyo does)."""

from __future__ import annotations

import asyncpg
from redis.exceptions import (
    AskError,
    ClusterDownError,
    CrossSlotTransactionError,
    InvalidPipelineStack,
    RedisClusterException,
    RedisError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)

from tracker.redis_client import writer_gone

# "Slow down and retry": the servers are away or busy; the batch stays in hand.
TRANSIENT: tuple[type[BaseException], ...] = (
    RedisError, OSError, TimeoutError, asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
    asyncpg.TransactionRollbackError,  # deadlock, serialization failure
    asyncpg.InsufficientResourcesError, asyncpg.OperatorInterventionError,
    SlotNotCoveredError,  # Redis Cluster: a node is away
    # A connection the server dropped in the middle of an operation can come back from
    # the pool in a state asyncpg refuses ("cannot switch to state …", MagicStack/asyncpg
    # #784, #1069): the server went away; callers also expire the pool's connections.
    asyncpg.InternalClientError,
)  # fmt: skip

# The cluster client refusing what we asked (a bug of ours, never worth waiting for).
_CLUSTER_MISUSE = (CrossSlotTransactionError, InvalidPipelineStack)

# Redis error replies that only mean "not now" on Redis Cluster (a node down, slots moving).
CLUSTER_BUSY: tuple[type[BaseException], ...] = (ClusterDownError, TryAgainError, AskError)


def closed_transport(exc: BaseException) -> bool:
    """uvloop's answer to a write on a transport already closed: RuntimeError where asyncio
    raises ConnectionError (MagicStack/uvloop#506). The Redis Cluster client closes a
    failed node's connections while another task may be about to write on one; redis-py
    drops that connection before re-raising, so the next attempt reconnects."""
    return isinstance(exc, RuntimeError) and "the handler is closed" in str(exc)


def transient(exc: BaseException) -> bool:
    """Worth waiting for: the servers are away, not our request wrong. An error reply is
    transient only as a cluster's "not now"; the cluster client's own exceptions are,
    except when they say we misused it."""
    if closed_transport(exc) or writer_gone(exc):
        return True
    if isinstance(exc, ResponseError):
        return isinstance(exc, CLUSTER_BUSY)
    if isinstance(exc, _CLUSTER_MISUSE):
        return False
    if isinstance(exc, RedisClusterException):
        # The cluster client's own errors while nodes come and go ("cannot be connected",
        # "ERROR sending 'cluster slots'") do not always chain their cause: all of them
        # but the misuse above mean "the cluster is changing", and a worker must outlive that.
        return True
    return isinstance(exc, TRANSIENT)


# "Never retry": Postgres refuses the data itself; the entry goes to the dead letters.
POISON: tuple[type[BaseException], ...] = (
    asyncpg.DataError, asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
)  # fmt: skip
