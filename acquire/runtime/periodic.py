"""Background tasks a worker runs on a period, beside arq's job loop.

The reconciler used to be an arq cron job: every run cost arq's enqueue (WATCH, EXISTS, MULTI,
PSETEX, ZADD, EXEC, tried by every worker of the fleet), a pickup, arq's finish and two extra
turns of the worker loop, about 30 Redis commands for a pass whose own work is two reads.
:class:`Periodic` runs it as a plain task of the worker's event loop instead, and
:func:`fleet_lease` keeps what arq's unique cron gave: one worker of the fleet per period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

__all__ = ["Periodic", "fleet_lease", "worker_token"]

log = logging.getLogger("acquire.periodic")


def worker_token() -> str:
    """Who holds a lease (host, pid and a random part: two workers never share one)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


async def fleet_lease(redis: Redis, key: str, token: str, ttl: float) -> bool:
    """True for the one caller that takes ``key`` (one ``SET NX PX``); it lapses after ``ttl`` s."""
    return bool(await redis.set(key, token, nx=True, px=max(1, math.ceil(ttl * 1000))))


class Periodic:
    """Runs ``action(period)`` every ``interval`` seconds until :meth:`stop`.

    ``period`` is the tick's number (0 when not ``aligned``); what ``action`` returns is kept
    in :attr:`history` with it (the last 32 ticks; ``None`` when it raised or timed out).

    ``aligned``: ticks fall on multiples of ``interval`` of the wall clock (like a cron
    schedule), so every worker of a fleet ticks at the same instant and names the period by
    the same number (``period`` = tick time // interval): a per-period lease then has exactly
    one winner however late a worker's loop is. A tick more than half a period late is
    skipped rather than run twice in a row. ``timeout`` bounds one run, so a stuck pass cannot
    delay the next ones; an exception is logged and the task goes on (it must never end the
    worker). :attr:`runs` counts finished ticks and :meth:`wait_runs` awaits them (tests).
    """

    def __init__(
        self,
        name: str,
        interval: float,
        action: Callable[[int], Awaitable[Any]],
        *,
        timeout: float | None = None,
        aligned: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.interval = interval
        self.timeout = timeout
        self.aligned = aligned
        self.runs = 0
        self.history: deque[tuple[int, Any]] = deque(maxlen=32)
        self._action = action
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._ran = asyncio.Condition()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"acquire-{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_runs(self, runs: int) -> None:
        """Until at least ``runs`` ticks have finished (successfully or not)."""
        async with self._ran:
            await self._ran.wait_for(lambda: self.runs >= runs)

    async def _loop(self) -> None:
        if not self.aligned:
            while True:
                await self._tick(0)
                await asyncio.sleep(self.interval)
        last = 0
        while True:
            # max(): a sleep may end a hair before the tick (two clocks), never run one twice.
            last = period = max(last + 1, math.floor(self._clock() / self.interval) + 1)
            await asyncio.sleep(max(0.0, period * self.interval - self._clock()))
            if self._clock() - period * self.interval > self.interval / 2:
                continue  # woken far too late (a blocked loop): the next tick is near
            await self._tick(period)

    async def _tick(self, period: int) -> None:
        result = None
        scope = asyncio.timeout(self.timeout)
        try:
            async with scope:
                result = await self._action(period)
        except TimeoutError:
            if not scope.expired():
                log.exception("%s failed; it runs again in %g s", self.name, self.interval)
            else:
                log.error("%s: a run took longer than %g s and was cancelled", self.name, self.timeout)
        except RedisConnectionError as exc:  # an outage: the worker waits it out, no traceback
            log.warning("%s skipped a run, Redis unavailable: %s", self.name, exc)
        except Exception:
            log.exception("%s failed; it runs again in %g s", self.name, self.interval)
        self.history.append((period, result))
        self.runs += 1
        async with self._ran:
            self._ran.notify_all()
