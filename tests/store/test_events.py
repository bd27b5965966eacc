"""Reading a job's stored events: ranges after a stream id, resumable from any id."""

from __future__ import annotations

import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.events import StepComplete
from acquire.models import EventType, SecFilingsRequest
from acquire.settings import Settings
from acquire.store import keys
from acquire.store.events import read_range


async def test_range_starts_after_the_given_id_and_stops_at_upto(
    settings: Settings, redis: aioredis.Redis
) -> None:
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
        for step in ("a", "b", "c"):
            await client.store.update_status(
                "acme", job.job_id, {"progress": 10}, event=EventType.STEP_COMPLETE, data={"step": step}
            )
        everything = await client.events.range("acme", job.job_id)
        assert [e.event for e in everything] == [EventType.JOB_QUEUED, *[EventType.STEP_COMPLETE] * 3]
        after_first = await client.events.range("acme", job.job_id, everything[0].id)
        assert after_first == everything[1:]
        key = keys.job_events("acme", job.job_id)
        middle = await read_range(redis, key, job.job_id, everything[0].id, everything[2].id)
        assert [e.event for e in middle] == [EventType.STEP_COMPLETE] * 2
        assert [e.data.step for e in middle if isinstance(e, StepComplete)] == ["a", "b"]
        assert await client.events.range("acme", job.job_id, everything[-1].id) == []
        assert await client.events.range("acme", job.job_id, f"{2**64 - 1}-{2**64 - 1}") == []
        assert len(await client.events.range("acme", job.job_id, count=2)) == 2
