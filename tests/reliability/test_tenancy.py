"""Scenario 5: tenancy. Every read path of the client and the router, tried by one org on
another org's jobs (finished and unfinished): zero leaks."""

from __future__ import annotations

import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.models import JobState, SecFilingsRequest
from acquire.settings import Settings
from acquire.testing.reliability.tenancy import count_leaks
from tests.support.jobs import drain


async def test_no_read_path_leaks_across_orgs(settings: Settings, redis: aioredis.Redis) -> None:
    async with await AcquireClient.connect(settings) as client:
        request = SecFilingsRequest(companies=["NVDA", "AAPL"], years=[2024])
        finished = {org: await client.submit(org, request) for org in ("acme", "globex", "initech")}
        await drain(settings)  # the test job kind: items, steps, result and events for each
        for handle in finished.values():
            assert (await handle.status()).state == JobState.COMPLETED
            assert await handle.result() and await handle.items()  # the owner does see them
        pending = [await client.submit(org, request) for org in ("acme", "globex")]  # never run
        attempts, leaks = await count_leaks(client, [*finished.values(), *pending], finished)
    assert attempts == 11 * (3 * 2 + 2 * 2)  # 5 victims, each tried by the 2 other orgs
    assert leaks == []
