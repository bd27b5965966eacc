"""The fleet-wide limiter on the real Redis, including several worker processes at once."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import textwrap
from collections.abc import Awaitable
from typing import cast

import httpx
import pytest
import redis.asyncio as aioredis

from acquire.errors import RateLimitedError
from acquire.http.client import Limiter, SendAwareLimiter, fetch
from acquire.http.ratelimit import RateLimiter
from acquire.store import keys
from acquire.testing.replay import Fault, ReplayServer


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Most grants in any half-open window [t, t + window)."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_max_in_window_helper() -> None:
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.2]) == 4  # [0.5, 1.5)
    assert max_in_window([0.0, 0.5, 0.99, 1.0]) == 3
    assert max_in_window([0.0, 1.0, 2.0]) == 1
    assert max_in_window([]) == 0


async def test_is_a_limiter_and_validates_its_rate(redis: aioredis.Redis) -> None:
    limiter: Limiter = RateLimiter(redis, "sec", 10)
    assert isinstance(limiter, RateLimiter)
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(redis, "sec", 0)
    slow = RateLimiter(redis, "slow", 0.5, margin=0)
    assert (slow.limit, slow.window) == (1, 2.0)
    sec = RateLimiter(redis, "sec", 10, margin=0.03)
    assert sec.limit == 10 and sec.window == pytest.approx(1.03)


async def test_grants_never_exceed_the_limit_in_any_window(redis: aioredis.Redis) -> None:
    limiter = RateLimiter(redis, "burst", 100, margin=0, spacing=0)  # the window alone
    grants = await asyncio.gather(*(limiter.acquire_at() for _ in range(150)))
    assert len(set(grants)) == 150
    assert max_in_window(grants, 1.0) == 100  # saturated, never over
    assert await redis.zcard(keys.ratelimit("burst")) <= 100


async def test_pause_is_honoured_and_never_shortened(redis: aioredis.Redis) -> None:
    limiter = RateLimiter(redis, "sec", 10)
    seconds, micros = await redis.time()
    before = seconds + micros / 1e6
    await limiter.pause(0.3)
    assert 0 < await limiter.paused_for() <= 0.3
    granted = await limiter.acquire_at()
    assert granted >= before + 0.3 - 0.002  # Redis clock: the grant waited out the pause
    await limiter.pause(600)
    await limiter.pause(1)  # a shorter pause must not cut SEC's 10-minute block
    assert await limiter.paused_for() > 590


async def test_long_pause_raises_for_the_job_to_retry_later(redis: aioredis.Redis) -> None:
    limiter = RateLimiter(redis, "sec", 10, max_wait=5)
    other = RateLimiter(redis, "yahoo", 2, max_wait=5)
    await limiter.pause(600)
    with pytest.raises(RateLimitedError) as caught:
        await limiter.acquire()
    assert caught.value.retry_after is not None and 590 < caught.value.retry_after <= 600
    await other.acquire()  # limiters are per upstream: Yahoo is not paused by SEC's block
    await limiter.reset()
    await limiter.acquire()


_CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    import redis.asyncio as aioredis
    from acquire.http.ratelimit import RateLimiter

    async def main(url, n, rate):
        r = aioredis.Redis.from_url(url)
        limiter = RateLimiter(r, "fleet", rate, spacing=0)  # the window alone
        await r.rpush("test:ready", 1)
        await r.blpop(["test:go"])
        # several concurrent requesters per process, like a worker running several jobs
        per_task = n // 4
        results = await asyncio.gather(*(
            asyncio.gather(*[_one(limiter) for _ in range(per_task)]) for _ in range(4)))
        print(json.dumps([t for chunk in results for t in chunk]))
        await r.aclose()

    async def _one(limiter):
        return await limiter.acquire_at()

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
    """
)


async def test_several_processes_share_one_budget(redis: aioredis.Redis, redis_url: str) -> None:
    rate, processes, per_process = 20, 4, 12
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _CHILD,
            redis_url,
            str(per_process),
            str(rate),
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    for _ in range(processes):  # every process is connected and waiting
        assert await cast(Awaitable[list[bytes] | None], redis.blpop(["test:ready"], timeout=30)) is not None
    await cast(Awaitable[int], redis.rpush("test:go", *[1] * processes))
    outputs = [await child.communicate() for child in children]
    assert all(child.returncode == 0 for child in children)
    per_child = [json.loads(out) for out, _ in outputs]
    grants = [t for chunk in per_child for t in chunk]
    assert len(grants) == processes * per_process
    assert all(len(chunk) == per_process for chunk in per_child)
    # The correctness property, from the grant times on Redis' clock: never more than `rate`
    # in any one-second window, and the budget was used fully (not needlessly conservative).
    assert max_in_window(grants, 1.0) == rate


async def _grants_until(limiter: RateLimiter, count: int, into: list[float], enough: asyncio.Event) -> None:
    grant = await limiter.acquire_at()
    into.append(grant)
    if len(into) >= count:
        enough.set()


async def test_a_share_with_one_request_is_not_queued_behind_a_flooding_share(redis: aioredis.Redis) -> None:
    heavy = RateLimiter(redis, "fair", 10, margin=0, share=lambda: "globex")
    light = RateLimiter(redis, "fair", 10, margin=0, share=lambda: "acme")
    heavy_grants: list[float] = []
    first_window = asyncio.Event()
    flood = [asyncio.create_task(_grants_until(heavy, 10, heavy_grants, first_window)) for _ in range(30)]
    try:
        await first_window.wait()  # the window is full; 20 heavy requests wait for it to move
        light_grant = await light.acquire_at()
        ahead = [t for t in heavy_grants[10:] if t < light_grant]
        # Among 21 waiters a random winner per freed grant would put ~10 heavy grants first;
        # the fair rule gives the light share the first grant its count entitles it to.
        assert len(ahead) <= 1, ahead
    finally:
        for task in flood:
            task.cancel()
        await asyncio.gather(*flood, return_exceptions=True)
    members = [m.decode() for m in await redis.zrange(keys.ratelimit("fair"), 0, -1)]
    assert {m.split("|")[0] for m in members} == {"globex", "acme"}  # each grant names its share
    assert max_in_window([*heavy_grants, light_grant], 1.0) <= 10  # fairness never exceeds the limit


async def test_grants_are_spaced_and_a_newcomer_takes_the_next(redis: aioredis.Redis) -> None:
    heavy = RateLimiter(redis, "spaced", 20, margin=0, share=lambda: "globex")
    light = RateLimiter(redis, "spaced", 20, margin=0, share=lambda: "acme")
    assert heavy.spacing == pytest.approx(0.045)
    with pytest.raises(ValueError, match="spacing"):
        RateLimiter(redis, "spaced", 20, spacing=-1)
    heavy_grants: list[float] = []
    enough = asyncio.Event()
    flood = [asyncio.create_task(_grants_until(heavy, 25, heavy_grants, enough)) for _ in range(40)]
    try:
        await enough.wait()  # the flood has taken a window and a bit: it holds every grant
        light_grant = await light.acquire_at()
        since = max(t for t in heavy_grants if t < light_grant)
    finally:
        for task in flood:
            task.cancel()
        await asyncio.gather(*flood, return_exceptions=True)
    ordered = sorted(heavy_grants)
    # Spaced: a burst of 20 at once would free at once a window later, and a request arriving
    # in between would wait for that whatever its share.
    assert min(b - a for a, b in itertools.pairwise(ordered)) >= 0.045 - 1e-6
    assert light_grant - since >= 0.045 - 1e-6  # the light request is spaced from the flood too
    assert max_in_window([*heavy_grants, light_grant], 1.0) <= 20


async def test_a_waiter_that_went_away_holds_grants_back_only_for_its_lease(redis: aioredis.Redis) -> None:
    heavy = RateLimiter(redis, "lease", 10, margin=0, share=lambda: "globex", lease=0.05, spacing=0)
    light = RateLimiter(redis, "lease", 10, margin=0, share=lambda: "acme", lease=0.05, spacing=0)
    first = [await heavy.acquire_at() for _ in range(10)]
    waiting = asyncio.create_task(light.acquire_at())
    while not await redis.zcard(keys.ratelimit_waiters("lease")):  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    waiting.cancel()  # the light request is abandoned while registered as waiting
    await asyncio.gather(waiting, return_exceptions=True)
    # The first freed grant goes to the heavy share (both had none in the window); the second
    # waits for the abandoned light request until its lease ends, then goes to the heavy share.
    later = [await heavy.acquire_at() for _ in range(2)]
    assert first[0] < later[0] <= later[1]
    assert await redis.zrangebyscore(keys.ratelimit_waiters("lease"), "-inf", "+inf") == []
    assert all(m.startswith(b"globex|") for m in await redis.zrange(keys.ratelimit("lease"), 0, -1))


async def test_sent_moves_a_lagging_grant_to_its_send_time(redis: aioredis.Redis) -> None:
    limiter = RateLimiter(redis, "lag", 10, restamp_after=-1)  # restamp even the smallest lag
    granted = await limiter.acquire_at()
    await limiter.sent()
    ((member, score),) = await redis.zrange(keys.ratelimit("lag"), 0, -1, withscores=True)
    assert score > granted * 1_000_000  # later, never earlier
    await limiter.sent()  # a second call for the same grant changes nothing
    assert await redis.zrange(keys.ratelimit("lag"), 0, -1, withscores=True) == [(member, score)]


class CountingLimiter:
    """Records the order of the limiter calls fetch() makes."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def acquire(self) -> None:
        self.calls.append("acquire")

    async def pause(self, seconds: float) -> None:
        self.calls.append("pause")

    async def sent(self) -> None:
        self.calls.append("sent")


async def test_fetch_reports_each_send_to_the_limiter(upstream: ReplayServer) -> None:
    limiter = CountingLimiter()
    assert isinstance(limiter, SendAwareLimiter)
    upstream.inject(r"company_tickers", Fault(503, b"busy"))
    url = f"{upstream.url}/www.sec.gov/files/company_tickers.json"
    async with httpx.AsyncClient(headers={"User-Agent": "acquire tests tests@example.com"}) as client:
        response = await fetch(client, url, limiter=limiter, backoff_base=0.001)
    assert response.status_code == 200
    assert limiter.calls == ["acquire", "sent", "acquire", "sent"]
