"""Whatever arq's ``run_job`` raises for one queue entry, the worker's loop goes on.

The JSON deserializer already refuses job hashes arq would choke on; this is the net under
it. A deserializer that lets a bad ``et`` through stands in for an arq failure nobody foresaw.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from acquire import serialization
from acquire.client import AcquireClient
from acquire.models import JobState, SecFilingsRequest
from acquire.settings import Settings
from tests.support.jobs import make_worker


def _lax(data: bytes) -> Any:
    if data.startswith(b"LAX"):
        return {"t": 1, "f": "sec_filings", "a": [{}], "k": {}, "et": "yesterday"}
    return serialization.deserialize(data)


async def test_an_exception_in_arqs_run_job_does_not_end_the_worker(
    settings: Settings, redis: aioredis.Redis
) -> None:
    await redis.set("arq:job:lax", b"LAX")
    await redis.zadd(settings.acquire_queue, {"lax": 1})
    async with await AcquireClient.connect(settings) as client:
        good = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
        worker = make_worker(settings, job_deserializer=_lax, max_burst_jobs=2)
        try:
            await worker.async_run()  # arq 0.28 re-raised run_job's TypeError here
        finally:
            await worker.close()
        assert (await good.status()).state == JobState.COMPLETED
        assert (worker.jobs_complete, worker.jobs_failed) == (1, 1)  # the bad entry counts as failed
