"""The two kinds of failure the worker tells apart (as arroyo does)."""

from __future__ import annotations

import asyncpg
from redis.exceptions import (
    AskError,
    ClusterDownError,
    RedisClusterException,
    RedisError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)

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

# Redis error replies that only mean "not now" on Redis Cluster (a node down, slots moving).
CLUSTER_BUSY: tuple[type[BaseException], ...] = (ClusterDownError, TryAgainError, AskError)


def transient(exc: BaseException) -> bool:
    """Worth waiting for: the servers are away, not our request wrong. An error reply is
    transient only as a cluster's "not now"; the cluster client's own exception only
    when it wraps a connection failure (no seed node reachable)."""
    if isinstance(exc, ResponseError):
        return isinstance(exc, CLUSTER_BUSY)
    if isinstance(exc, RedisClusterException) and not isinstance(exc, SlotNotCoveredError):
        return isinstance(exc.__cause__, TRANSIENT)
    return isinstance(exc, TRANSIENT)


# "Never retry": Postgres refuses the data itself; the entry goes to the dead letters.
POISON: tuple[type[BaseException], ...] = (
    asyncpg.DataError, asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
)  # fmt: skip
