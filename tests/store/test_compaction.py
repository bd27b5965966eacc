"""A finished job's event stream is compacted and stays replayable (acquire.store.transition)."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.models import EventType, JobState, SecFilingsRequest
from acquire.settings import Settings
from acquire.store import keys
from acquire.store.transition import Transition, transition_script
from tests.support.jobs import drain


def sec() -> SecFilingsRequest:
    return SecFilingsRequest(companies=["NVDA", "AAPL"], years=[2024])


async def test_a_finished_jobs_events_are_compacted_and_replay_from_any_id(
    settings: Settings, redis: aioredis.Redis
) -> None:
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit("acme", sec())
        stream = keys.job_events("acme", job.job_id)
        queued = await redis.memory_usage(stream, samples=0)
        await drain(settings)
        assert (await job.status()).state == JobState.COMPLETED
        events = await client.events.read("acme", job.job_id)
        # A 4 KB first node while the job ran (Redis allocates it whole), its size once final.
        assert queued > 4096 > 2 * await redis.memory_usage(stream, samples=0)
        assert events[0].event == EventType.JOB_QUEUED and events[-1].event == EventType.JOB_COMPLETED
        assert len(events) >= 5  # queued, started, steps, items, completed
        for n, event in enumerate(events):
            assert await client.events.read("acme", job.job_id, event.id) == events[n + 1 :]
        for n, event in enumerate(events[:-1]):  # a follower ends with the terminal event
            assert [e async for e in job.events(after=event.id)] == events[n + 1 :]
        assert [e async for e in job.events()] == events
        ttl = await redis.ttl(stream)
        assert settings.acquire_result_ttl - 60 < ttl <= settings.acquire_result_ttl


async def test_a_reader_blocked_on_the_stream_gets_the_final_event(
    settings: Settings, redis: aioredis.Redis
) -> None:
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit("acme", sec())
        (first,) = await client.events.read("acme", job.job_id)
        blocked = asyncio.create_task(client.events.read("acme", job.job_id, first.id, block_ms=20_000))
        # The reader is blocked once Redis counts it (no event tells a client that).
        while (await redis.info("clients"))["blocked_clients"] < 1:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        done = Transition({"state": JobState.COMPLETED}, EventType.JOB_COMPLETED, {"state": "completed"})
        assert await client.store.apply_transitions("acme", job.job_id, [done]) == 1
        (final,) = await asyncio.wait_for(blocked, 10)
        assert final.event == EventType.JOB_COMPLETED
        assert [e.event for e in await client.events.read("acme", job.job_id)] == [
            EventType.JOB_QUEUED,
            EventType.JOB_COMPLETED,
        ]


async def test_a_redis_without_copy_compacts_the_stream_with_dump_restore(
    settings: Settings, redis: aioredis.Redis
) -> None:
    # COPY is Redis 6.2's: an older server answers the script's pcall with an error, and the
    # script falls back on DUMP/RESTORE. The same script text with COPY misspelt stands in.
    async with await AcquireClient.connect(settings) as client:
        store = client.store
        text = transition_script(store.ttl, store.events_maxlen)
        assert text.count("'COPY'") == 1
        without_copy = redis.register_script(text.replace("'COPY'", "'NO_SUCH_COPY'"))
        job = await client.submit("acme", sec())
        stream = keys.job_events("acme", job.job_id)
        assert await redis.memory_usage(stream, samples=0) > 4096
        done = Transition({"state": JobState.COMPLETED}, EventType.JOB_COMPLETED, {"state": "completed"})
        names, args = store._transition_call("acme", job.job_id, [done], force=False, result=None)
        assert await without_copy(keys=names, args=args) == 1
        assert 2 * await redis.memory_usage(stream, samples=0) < 4096
        events = await client.events.read("acme", job.job_id)
        assert [e.event for e in events] == [EventType.JOB_QUEUED, EventType.JOB_COMPLETED]
        assert await client.events.read("acme", job.job_id, events[0].id) == events[1:]
        assert settings.acquire_result_ttl - 60 < await redis.ttl(stream) <= settings.acquire_result_ttl
        assert not await redis.exists(stream + ":copy")
