"""Redis connection settings shared by the client and the worker.

One place decides how acquire talks to Redis, so a client and a worker configured from the same
:class:`~acquire.settings.Settings` ride out a Redis restart the same way. Importing this module
loads no part of the job runtime.
"""

from __future__ import annotations

import math

from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from acquire import serialization
from acquire.settings import Settings

__all__ = ["connect", "redis_settings", "worker_redis_settings"]

#: How a command rides out a Redis restart or failover: ``ACQUIRE_REDIS_RETRIES`` (20)
#: reconnection attempts with jittered exponential backoff from 50 ms to 2 s, about 16-31 s in
#: all. A longer outage fails the command; the worker then waits for Redis itself
#: (:mod:`acquire.runtime.arq_patches`) and the job's code runs again.
_RETRY_BACKOFF = (2.0, 0.05)  # (cap, base) in seconds


def redis_settings(settings: Settings) -> RedisSettings:
    """arq's connection settings for ``REDIS_URL`` (redis://, rediss:// or unix://).

    Commands that fail on a dropped connection are retried on a fresh one for a while, so a
    Redis restart neither stops arq's poll loop nor fails the job code running at that moment.
    Repeating a command is safe for the store's scripts (a final state is set once, an item
    counted once, retry/step events de-duplicated); a reply lost after Redis applied a command
    is the one case where a plain write could run twice. A WATCHed transaction is not retried
    by redis-py (it raises ``WatchError``); see :mod:`acquire.runtime.arq_patches`.
    """
    base = RedisSettings.from_dsn(settings.redis_url)
    base.retry = Retry(EqualJitterBackoff(*_RETRY_BACKOFF), settings.acquire_redis_retries)
    # OSError too: connecting raises it unwrapped, e.g. FileNotFoundError for a unix socket a
    # stopping Redis removed, and redis-py retries a failed connect only on the listed types.
    base.retry_on_error = [RedisConnectionError, RedisTimeoutError, OSError]
    return base


#: Seconds between a starting worker's attempts to reach Redis (each attempt also retries).
_STARTUP_RETRY_DELAY = 1


def worker_redis_settings(settings: Settings) -> RedisSettings:
    """:func:`redis_settings` for a worker: a worker started while Redis is down (a fleet
    restarted during an outage, a worker scaled up in one) keeps trying to connect for at least
    ``ACQUIRE_STARTUP_WAIT`` seconds, logging each attempt, before it exits. A client or the
    router fails fast instead: its caller decides what an unreachable Redis means."""
    base = redis_settings(settings)
    base.conn_retry_delay = _STARTUP_RETRY_DELAY
    base.conn_retries = math.ceil(settings.acquire_startup_wait / _STARTUP_RETRY_DELAY)
    return base


async def connect(settings: Settings) -> ArqRedis:
    """An arq pool for ``settings`` with acquire's JSON serialisation and default queue."""
    return await create_pool(
        redis_settings(settings),
        job_serializer=serialization.serialize,
        job_deserializer=serialization.deserialize,
        default_queue_name=settings.acquire_queue,
    )
