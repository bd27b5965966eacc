"""A Redis outage of any length does not stop an arq worker: the wait the patches share.

Every command retries on a fresh connection for a while (:mod:`acquire.connection`); an outage
longer than that makes arq's own commands raise ``ConnectionError``, and arq lets it out of the
poll loop (directly, or through ``t.result()`` of a job task whose start pipeline or final MULTI
failed), which ends the worker process. The patches of ``Worker._poll_iteration``, ``run_job``,
``finish_job`` and ``finish_failed_job`` (:mod:`.wakeup`, :mod:`.guard`, :mod:`.finish`) wait
for Redis instead (log, ping with backoff, log again) and then carry on where they were: the poll
loop polls again; a job whose start pipeline failed starts again (its code had not run); a job's
finish is written again (each of arq's finishing commands, and the store's final transition, is
idempotent). The worker keeps its slots: they are released only when the job really ends.
Upstream fix: a retry around each of arq's Redis round trips.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["AWAY", "REDIS_UNAVAILABLE", "wait_for_redis"]

log = logging.getLogger("acquire.jobs")

#: What redis-py raises once its own reconnection attempts are used up.
REDIS_UNAVAILABLE: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)
#: What the patches wait out: arq's own loop also meets a bare OSError (a connect to a socket
#: file that is gone).
AWAY: tuple[type[Exception], ...] = (*REDIS_UNAVAILABLE, OSError)
_WAIT_FIRST, _WAIT_MAX = 0.2, 5.0  # seconds between pings while Redis is away


async def wait_for_redis(redis: Any, doing: str, exc: BaseException) -> None:
    """Return once ``redis`` answers a PING again; logs when Redis goes away and comes back."""
    log.warning("Redis unavailable while %s (%s: %s); waiting for it", doing, type(exc).__name__, exc)
    started, delay = time.monotonic(), _WAIT_FIRST
    while True:
        try:
            await redis.ping()
            break
        except AWAY:
            await asyncio.sleep(delay)
            delay = min(_WAIT_MAX, delay * 2)
    log.warning("Redis is back after %.1f s; %s again", time.monotonic() - started, doing)
