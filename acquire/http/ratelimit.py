"""A fleet-wide rate limiter in Redis: every process on every machine shares one budget.

The limiter is a *sliding-window log*: a sorted set (``keys.ratelimit(name)``) holds the grant
time of every request of the last window. One Lua script, run atomically by Redis, drops
entries older than the window and either records a new grant or answers how long to wait
until the oldest entry leaves the window. Times come from Redis ``TIME``, so the machines'
clocks never matter. The invariant this gives is exact: no ``limit + 1`` grants ever fall in
one window, for any window position, however many processes ask at once.

A request is granted some time before it reaches the upstream, and that delay varies: a
process may stall between the grant and the send (connection setup, a busy CPU). Two things
keep the upstream's view within the limit: :meth:`RateLimiter.sent` (called by
:func:`acquire.http.client.fetch` once the request headers are on the socket) moves the
grant's log entry to the real send time when the two differ by more than a few
milliseconds, so later grants count from when the request really left; and the window is
widened by a small ``margin`` (default 30 ms) for the remaining network and scheduling jitter.

The budget is shared fairly between *shares* (the job runtime uses one per org): each grant's
log entry names its share, and each request still waiting is registered in a second sorted set
(``keys.ratelimit_waiters(name)``) with a short lease. A free grant goes to the caller unless
another share that is waiting had fewer grants in the current window; then the caller yields for
a few milliseconds while that share takes it. So an org with one request waits for about one
grant, not behind every request another org has in flight (a window of random winners among
all waiters made that wait unbounded in the tail). A share alone keeps the whole budget, and a
waiter that went away only holds grants back until its lease ends.

Grants are also *spaced*: at least ``spacing`` apart (default ``0.9 / rate``, 90 ms for SEC). A
window's worth of grants taken at once would free at once a window later and go to whoever
waits then, so a request arriving in between waited for most of a window whatever its share;
spaced, a grant frees every ~``1 / rate`` seconds and a newcomer's share is served at the next.
The window still bounds the rate exactly; spacing only costs a job that wanted a burst.

:meth:`RateLimiter.pause` stops the upstream's traffic fleet-wide (SEC's 10-minute block
after its rate page): a key with a TTL (``keys.pause(name)``) that the script honours. A pause
longer than ``max_wait`` makes :meth:`~RateLimiter.acquire` raise
:class:`~acquire.errors.RateLimitedError` so the job runtime reschedules the job instead of
holding a worker slot for minutes.
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import redis.asyncio as aioredis

from acquire.errors import RateLimitedError
from acquire.store import keys

__all__ = ["RateLimiter"]

# The current task's last grant: (log key, member, grant time in Redis µs, local monotonic).
# A ContextVar because one limiter serves many concurrent tasks, each with its own request.
_LAST_GRANT: ContextVar[tuple[str, str, int, float] | None] = ContextVar("acquire_last_grant", default=None)

# KEYS: grant log, pause, waiters | ARGV: limit, window us, member ("<share>|<token>"), share,
# lease us, yield us, spacing us. Returns {1, grant_time_us} or {0, wait_us, paused (0/1)}.
_ACQUIRE = """
local pause_ms = redis.call('PTTL', KEYS[2])
if pause_ms > 0 then
  return {0, pause_ms * 1000, 1}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
local member, share, lease = ARGV[3], ARGV[4], tonumber(ARGV[5])
local ttl = math.ceil(window / 1000) + 1000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local wait
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local spaced = 0
if newest[2] then spaced = tonumber(newest[2]) + tonumber(ARGV[7]) - now end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  wait = tonumber(oldest[2]) + window - now
elseif spaced > 0 then
  wait = spaced
else
  local grants = {}
  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    local s = string.match(m, '^(.*)|')
    grants[s] = (grants[s] or 0) + 1
  end
  local mine = grants[share] or 0
  local behind = false
  for _, w in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    local s = string.match(w, '^(.*)|')
    if s ~= share and (grants[s] or 0) < mine then
      behind = true
      break
    end
  end
  if not behind then
    redis.call('ZADD', KEYS[1], now, member)
    redis.call('PEXPIRE', KEYS[1], ttl)
    redis.call('ZREM', KEYS[3], member)
    return {1, now}
  end
  wait = tonumber(ARGV[6])
end
redis.call('ZADD', KEYS[3], now + wait + lease, member)
redis.call('PEXPIRE', KEYS[3], ttl + math.ceil((wait + lease) / 1000))
return {0, wait, 0}
"""

# Extends the pause to at least ARGV[1] ms; never shortens a longer pause already in place.
_PAUSE = """
local current = redis.call('PTTL', KEYS[1])
local wanted = tonumber(ARGV[1])
if current < wanted then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', wanted)
  return wanted
end
return current
"""


class RateLimiter:
    """At most ``rate`` requests per second to the upstream ``name``, across the whole fleet.

    Implements :class:`acquire.http.client.SendAwareLimiter`. ``rate`` becomes ``limit`` grants per
    window of ``limit / rate`` seconds (10 per 1 s for SEC, 2 per 1 s for Yahoo's default);
    rates below 1/s become one grant per ``1 / rate`` seconds.

    ``share`` names the caller's share of the budget (called once per request; the job runtime
    passes the current job's org). Requests without one share the unnamed share ``""``.
    ``lease`` is how long a waiting request's registration outlives its expected next try;
    ``yield_for`` is how long a caller that leaves a free grant to a share behind it waits
    before asking again. ``spacing`` is the least time between two grants (default
    ``0.9 / rate``; 0 lets a window's grants go at once).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        name: str,
        rate: float,
        *,
        margin: float = 0.03,
        max_wait: float = 30.0,
        restamp_after: float = 0.003,
        share: Callable[[], str] | None = None,
        lease: float = 0.1,
        yield_for: float = 0.005,
        spacing: float | None = None,
    ) -> None:
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
        if margin < 0:
            raise ValueError(f"margin must be >= 0 seconds, got {margin!r}")
        self.name = name
        self.rate = rate
        self.limit = max(1, math.floor(rate + 1e-9))
        #: The window the script enforces (seconds), margin included.
        self.window = self.limit / rate + margin
        self.max_wait = max_wait
        self.restamp_after = restamp_after
        self._redis = redis
        self._share = share
        self._lease_us = str(round(lease * 1_000_000))
        self._yield_us = str(round(yield_for * 1_000_000))
        #: The least time between two grants (seconds).
        self.spacing = 0.9 / rate if spacing is None else spacing
        if self.spacing < 0:
            raise ValueError(f"spacing must be >= 0 seconds, got {spacing!r}")
        self._spacing_us = str(round(self.spacing * 1_000_000))
        self._log_key = keys.ratelimit(name)
        self._waiters_key = keys.ratelimit_waiters(name)
        self._pause_key = keys.pause(name)
        self._acquire = redis.register_script(_ACQUIRE)
        self._pause = redis.register_script(_PAUSE)

    async def acquire(self) -> None:
        """Wait until one more request may be sent (see :meth:`acquire_at`)."""
        await self.acquire_at()

    async def acquire_at(self) -> float:
        """Wait for a grant and return its time (seconds, Redis clock).

        Raises :class:`RateLimitedError` (with ``retry_after``) when the upstream is paused
        for longer than ``max_wait``.
        """
        window_us = str(round(self.window * 1_000_000))
        limit = str(self.limit)
        share = self._share() if self._share is not None else ""
        # One member for all tries of this request: its waiting registration is renewed, not
        # repeated, and becomes its grant's log entry.
        member = f"{share}|{secrets.token_hex(8)}"
        while True:
            reply: list[Any] = await self._acquire(
                keys=[self._log_key, self._pause_key, self._waiters_key],
                args=[limit, window_us, member, share, self._lease_us, self._yield_us, self._spacing_us],
            )
            if int(reply[0]) == 1:
                _LAST_GRANT.set((self._log_key, member, int(reply[1]), time.monotonic()))
                return int(reply[1]) / 1_000_000
            wait = max(0.0, int(reply[1]) / 1_000_000)
            if int(reply[2]) == 1 and wait > self.max_wait:
                raise RateLimitedError(
                    f"{self.name} is paused fleet-wide for {wait:.0f}s more", retry_after=wait
                )
            # A little jitter spreads the processes that all woke for the same freed slot.
            await asyncio.sleep(wait + random.uniform(0, 0.002))

    async def sent(self) -> None:
        """This task's last granted request was just sent: account it at the real send time.

        Only costs a Redis call when the send lagged the grant by more than ``restamp_after``;
        the entry only ever moves later, which can delay later grants, never hasten them.
        """
        grant = _LAST_GRANT.get()
        if grant is None or grant[0] != self._log_key:
            return
        _LAST_GRANT.set(None)
        log_key, member, granted_us, granted_local = grant
        lag = time.monotonic() - granted_local
        if lag > self.restamp_after:
            await self._redis.zadd(log_key, {member: granted_us + round(lag * 1_000_000)}, xx=True)

    async def pause(self, seconds: float) -> None:
        """Stop all traffic to the upstream, fleet-wide, for at least ``seconds``."""
        if seconds <= 0:
            return
        await self._pause(keys=[self._pause_key], args=[max(1, math.ceil(seconds * 1000)), "1"])

    async def paused_for(self) -> float:
        """Seconds the fleet-wide pause still lasts (0 when not paused)."""
        ms = int(await self._redis.pttl(self._pause_key))
        return ms / 1000 if ms > 0 else 0.0

    async def reset(self) -> None:
        """Forget the request log and any pause (tests and operators)."""
        await self._redis.delete(self._log_key, self._pause_key, self._waiters_key)
