"""The two kinds of failure the worker tells apart (as arroyo does)."""

from __future__ import annotations

import asyncpg
from redis.exceptions import RedisError

# "Slow down and retry": the servers are away or busy; the batch stays in hand.
TRANSIENT: tuple[type[BaseException], ...] = (
    RedisError, OSError, TimeoutError, asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
    asyncpg.TransactionRollbackError,  # deadlock, serialization failure
    asyncpg.InsufficientResourcesError, asyncpg.OperatorInterventionError,
)  # fmt: skip

# "Never retry": Postgres refuses the data itself; the entry goes to the dead letters.
POISON: tuple[type[BaseException], ...] = (
    asyncpg.DataError, asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
)  # fmt: skip
