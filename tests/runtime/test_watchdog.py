"""The worker's watchdog: deferred job_started writes and soft time limits, one task for all."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.models import JobKind, JobState, SecFilingsRequest
from acquire.runtime.run import JobContext, JobSpec, Outcome
from acquire.runtime.watchdog import START_FLUSH_DELAY, Watchdog
from acquire.settings import Settings
from tests.support.jobs import drain


class Job:
    """A stand-in running job: records what the watchdog asked of it."""

    def __init__(self) -> None:
        self.flushed = asyncio.Event()
        self.expired = asyncio.Event()

    def flush_start(self) -> None:
        self.flushed.set()

    def expire(self) -> None:
        self.expired.set()


async def test_start_flush_and_expiry_come_in_deadline_order() -> None:
    dog = Watchdog()
    loop = asyncio.get_running_loop()
    now = loop.time()
    slow, quick, done = Job(), Job(), Job()
    dog.watch(slow, started=now, deadline=now + 30)
    dog.watch(quick, started=now, deadline=now + 0.05)
    dog.watch(done, started=now, deadline=now + 0.05)
    dog.unwatch(done)  # its code returned in time: nothing happens to it
    await quick.expired.wait()
    assert quick.flushed.is_set() and slow.flushed.is_set()
    assert loop.time() - now >= 0.05
    assert not slow.expired.is_set() and not done.flushed.is_set() and not done.expired.is_set()
    dog.close()


async def test_short_jobs_do_not_wake_the_watchdog_each() -> None:
    # A busy worker's jobs mostly end within milliseconds; the watchdog must not take a task
    # step per job (e.g. by waking whenever a job registers while it is idle).
    dog = Watchdog()
    loop = asyncio.get_running_loop()
    jobs = [Job() for _ in range(200)]
    start = loop.time()
    for job in jobs:
        dog.watch(job, started=loop.time(), deadline=loop.time() + 30)
        dog.unwatch(job)
        await asyncio.sleep(0)  # the watchdog task could run between jobs
    woken = dog.wakeups
    elapsed = loop.time() - start
    # At most its first run plus one wake-up per flush delay that passed.
    assert woken <= 2 + int(elapsed / START_FLUSH_DELAY), (woken, elapsed)
    assert not any(job.flushed.is_set() for job in jobs)
    dog.close()


async def test_a_job_registered_while_idle_wakes_the_watchdog() -> None:
    dog = Watchdog()
    loop = asyncio.get_running_loop()
    first = Job()
    now = loop.time()
    dog.watch(first, started=now, deadline=now + 30)
    await first.flushed.wait()
    dog.unwatch(first)
    later = Job()  # the watchdog waits with no timer at all; registering must wake it
    now = loop.time()
    dog.watch(later, started=now, deadline=now + 0.03)
    await later.expired.wait()
    assert loop.time() - now >= START_FLUSH_DELAY
    dog.close()


async def _wait_for_release(job: JobContext, request: Any) -> Outcome[dict[str, Any]]:
    await RELEASE.wait()
    return Outcome(result={"released": True})


RELEASE = asyncio.Event()


async def test_long_job_shows_as_running_while_it_runs(settings: Settings, redis: aioredis.Redis) -> None:
    RELEASE.clear()
    client = await AcquireClient.connect(settings)
    job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
    spec = JobSpec(kind=JobKind.SEC_FILINGS, run=_wait_for_release)
    worker = asyncio.create_task(drain(settings, [spec]))
    async for event in client.events.follow("acme", job.job_id, block_ms=1000):
        if event.event.value == "job_started":
            break
    assert (await job.status()).state == JobState.RUNNING  # written by the watchdog, not the end
    RELEASE.set()
    await worker
    assert (await job.status()).state == JobState.COMPLETED
    events = [e.event.value for e in await client.events.read("acme", job.job_id)]
    assert events == ["job_queued", "job_started", "job_completed"]
    await client.close()


async def _ignore_shutdown_race(job: JobContext, request: Any) -> Outcome[dict[str, Any]]:
    # The soft limit and a shutdown cancel the job at the same moment.
    task = asyncio.current_task()
    assert task is not None
    job.expire()
    task.cancel()
    await asyncio.Event().wait()
    return Outcome(result={})


async def test_soft_limit_with_a_shutdown_at_once_counts_as_shutdown(settings: Settings) -> None:
    client = await AcquireClient.connect(settings)
    job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
    spec = JobSpec(kind=JobKind.SEC_FILINGS, run=_ignore_shutdown_race)
    await drain(settings.model_copy(update={"acquire_max_tries": 1}), [spec])
    status = await job.status()
    # Not failed with the soft-limit reason: the cancellation was reported as a stop, and arq
    # (out of tries) ended the job without the runtime; the reconciler finishes such jobs.
    assert status.state == JobState.RETRYING, status
    assert "soft time limit" not in (status.error or "")
    events = [e.event.value for e in await client.events.read("acme", job.job_id)]
    assert "job_retrying" in events
    await client.close()
