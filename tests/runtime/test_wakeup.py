"""An idle worker is woken by new work instead of polling (acquire.runtime.arq_patches).

Each test runs a long-lived (not burst) worker whose fallback poll is far longer than the test:
a job that starts at all was started by a wake-up, not by the poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

import arq.utils
import pytest
import redis.asyncio as aioredis
from arq.worker import Worker

from acquire.client import AcquireClient, JobHandle
from acquire.errors import TransientError
from acquire.ids import new_job_id
from acquire.models import JobKind, JobState, JobStatus, SecFilingsRequest, compact_request
from acquire.runtime import arq_patches
from acquire.runtime.arq_patches import finish, wakeup
from acquire.runtime.run import JobContext, JobSpec, Outcome
from acquire.settings import Settings
from acquire.store import keys
from acquire.store.wake import QueueEntry, wake_workers
from acquire.worker import create_worker
from tests.support.jobs import TEST_SPEC, commands_until_marker, echo_marker

#: Far beyond any test's length: only a wake-up can start a job in time.
NEVER = 300.0
#: A hang guard, not a speed limit: a job that is not woken waits NEVER seconds.
GUARD = 30.0


def _settings(settings: Settings) -> Settings:
    # The background tasks' commands (reconciler, queue depth) stay out of the tests' counts too.
    update = {
        "acquire_idle_poll": NEVER,
        "acquire_reconcile_interval": NEVER,
        "acquire_queue_depth_interval": NEVER,
    }
    return settings.model_copy(update=update)


@asynccontextmanager
async def running(
    settings: Settings, spec: JobSpec[Any, Any] = TEST_SPEC, **overrides: Any
) -> AsyncIterator[Worker]:
    """A worker on its own task; ``cron_jobs=[]`` so no arq cron job wakes it."""
    wake = arq_patches.WakeUp.for_queue(settings.acquire_queue, NEVER)
    worker = create_worker(
        _settings(settings),
        specs=[spec],
        resources=[],
        extra_functions=[],
        cron_jobs=[],
        poll_delay=NEVER,  # arq's own loop would not read the queue again during a test
        ctx={arq_patches.WAKE_CTX: wake},
        **overrides,
    )
    task = asyncio.create_task(worker.async_run())
    try:
        await asyncio.wait_for(wake.idle.wait(), GUARD)
        yield worker
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()


def sec(company: str = "NVDA") -> SecFilingsRequest:
    return SecFilingsRequest(companies=[company], years=[2024])


async def test_a_submit_wakes_a_blocked_worker(settings: Settings) -> None:
    async with running(settings) as worker, AcquireClient(await _client(settings), settings) as client:
        wake = worker.ctx[arq_patches.WAKE_CTX]
        job = await client.submit("acme", sec())
        status = await job.wait(GUARD)
        assert status.state == JobState.COMPLETED
        assert wake.woken >= 1


async def test_a_woken_worker_starts_the_job_with_the_read_sent_with_its_wait(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The queue read rides on the wait's round trip (BLPOP, DEL, ZRANGEBYSCORE): the turn that
    # a token ends starts the job without arq's own read of the queue.
    async with running(settings) as worker, AcquireClient(await _client(settings), settings) as client:
        reads: list[Worker] = []

        async def arqs_read(self: Worker) -> None:
            reads.append(self)
            await original(self)

        original = wakeup.original_poll_iteration
        monkeypatch.setattr(wakeup, "original_poll_iteration", arqs_read)
        job = await client.submit("acme", sec())
        assert (await job.wait(GUARD)).state == JobState.COMPLETED
        assert worker.ctx[arq_patches.WAKE_CTX].woken >= 1
        assert reads == []


async def test_an_idle_worker_sends_almost_no_commands(settings: Settings, redis: aioredis.Redis) -> None:
    async with running(settings):
        before = await _calls(redis)
        await asyncio.sleep(2.0)  # the window the commands are counted over, not a synchronisation
        sent = await _calls(redis) - before - 1  # the closing INFO
    # arq's own loop, polling every acquire_poll_delay (50 ms by default), sends ~40-80 here.
    assert sent <= 4, sent


async def test_a_retry_starts_again_without_the_poll(settings: Settings) -> None:
    tries: list[int] = []

    async def flaky(job: JobContext, request: Any) -> Outcome[dict[str, Any]]:
        tries.append(job.attempt)
        if job.attempt == 1:
            raise TransientError("HTTP 503", retry_after=0.2)
        return Outcome(result={"ok": True})

    spec = JobSpec(kind=JobKind.SEC_FILINGS, run=flaky)
    async with running(settings, spec), AcquireClient(await _client(settings), settings) as client:
        status = await (await client.submit("acme", sec())).wait(GUARD)
    assert status.state == JobState.COMPLETED and tries == [1, 2]


async def test_a_deferred_job_starts_when_due(settings: Settings) -> None:
    async with running(settings) as worker, AcquireClient(await _client(settings), settings) as client:
        job = await client.submit("acme", sec())
        # The job is re-scheduled for later the way arq defers one, and the worker is told.
        await client.redis.zadd(settings.acquire_queue, {job.job_id: (await _now_ms(client)) + 300})
        await wake_workers(client.redis, settings.acquire_queue)
        status = await job.wait(GUARD)
        assert status.state == JobState.COMPLETED
        assert worker.ctx[arq_patches.WAKE_CTX].waits >= 1


async def test_a_worker_that_is_full_wakes_another(settings: Settings) -> None:
    # Each worker runs one job at a time; both jobs wait until two are running at once, so
    # they finish only if the second worker was woken for the job the first could not take.
    both = asyncio.Event()
    running_now: list[str] = []

    async def pair(job: JobContext, request: Any) -> Outcome[dict[str, Any]]:
        running_now.append(job.job_id)
        if len(running_now) == 2:
            both.set()
        await both.wait()
        return Outcome(result={"ok": True})

    spec = JobSpec(kind=JobKind.SEC_FILINGS, run=pair)
    async with (
        running(settings, spec, max_jobs=1),
        running(settings, spec, max_jobs=1),
        AcquireClient(await _client(settings), settings) as client,
    ):
        jobs = [await client.submit("acme", sec(c)) for c in ("NVDA", "AAPL")]
        for job in jobs:
            assert (await job.wait(GUARD)).state == JobState.COMPLETED


# What the wake-up relies on in arq: main() turns poll() -> _poll_iteration(), which reads ready
# ids and hands them to start_jobs (whose loop arq_patches' one-script pickup follows), and
# finish_job(finish=False) is how a job goes back on the queue. If an arq upgrade changes any of
# these, re-check arq_patches and update the digests.
ARQ_SOURCES: dict[str, Callable[..., Any]] = {
    "Worker.main": Worker.main,
    "Worker._poll_iteration": wakeup.original_poll_iteration,
    "Worker.start_jobs": wakeup.original_start_jobs,
    "Worker.finish_job": finish.original_finish_job,
    "arq.utils.poll": arq.utils.poll,
}
ARQ_DIGESTS = {
    "Worker.main": "45ca1591c9717466",
    "Worker._poll_iteration": "f8d39d823a0a59f2",
    "Worker.start_jobs": "b45797cfa40bed7f",
    "Worker.finish_job": "903f09c92830d3fd",
    "arq.utils.poll": "d8cc8542a1ab2bc3",
}


def test_the_arq_code_the_wake_up_relies_on_is_unchanged() -> None:
    digests = {
        name: hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()[:16]
        for name, fn in ARQ_SOURCES.items()
    }
    assert digests == ARQ_DIGESTS


async def _client(settings: Settings) -> Any:
    from acquire.connection import connect

    return await connect(settings)


async def _calls(redis: aioredis.Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


async def _now_ms(client: AcquireClient) -> float:
    seconds, micros = cast(tuple[int, int], await client.redis.time())
    return seconds * 1000 + micros / 1000


async def test_a_submit_is_one_script_that_queues_the_job_and_wakes_a_worker(
    settings: Settings, redis: aioredis.Redis
) -> None:
    async with AcquireClient(await _client(settings), settings) as client:
        await client.submit("acme", sec())  # loads the script
        await redis.delete(keys.queue_wake(settings.acquire_queue))
        before = await redis.info("commandstats")
        job = await client.submit("acme", sec("AAPL"))
        after = await redis.info("commandstats")
    sent = {name: after[name]["calls"] - before.get(name, {}).get("calls", 0) for name in after}
    # Commands run inside a script count in commandstats too: the client sent one EVALSHA,
    # and none of arq's WATCH/MULTI/EXEC round trips.
    assert sent["cmdstat_evalsha"] == 1
    assert all(sent.get(f"cmdstat_{name}", 0) == 0 for name in ("watch", "multi", "exec", "eval"))
    assert await redis.zscore(settings.acquire_queue, job.job_id) is not None
    wake = keys.queue_wake(settings.acquire_queue)
    assert await cast(Awaitable[list[bytes]], redis.lrange(wake, 0, -1)) == [b"1"]


async def test_a_picked_up_jobs_code_starts_before_the_workers_next_read(
    settings: Settings, redis: aioredis.Redis
) -> None:
    # Once a job is picked up its code runs at once: the worker's loop sends its next round
    # trip (the wait's reads of the queue) only after the job's first command.
    spec = JobSpec(kind=JobKind.SEC_FILINGS, run=echo_marker)
    watcher = aioredis.Redis.from_url(settings.redis_url)
    async with running(settings, spec) as worker, AcquireClient(await _client(settings), settings) as client:
        async with watcher.monitor() as monitor:
            job = await client.submit("acme", sec())
            seen = await commands_until_marker(monitor)
        assert (await job.wait(GUARD)).state == JobState.COMPLETED
        assert worker.ctx[arq_patches.WAKE_CTX].woken >= 1
    await watcher.aclose()
    pickup = max(i for i, c in enumerate(seen) if c.startswith("PSETEX"))
    # Between the pickup and the job's code: only the pickup script's own commands.
    assert not [c for c in seen[pickup + 1 :] if c.startswith(("ZRANGEBYSCORE", "BLPOP", "PTTL"))], seen


async def test_a_woken_turn_reads_the_queue_once_and_deletes_nothing(
    settings: Settings, redis: aioredis.Redis
) -> None:
    # The wait's read held the whole queue (it is short): the next wait takes its deadline
    # from it, with no read of its own, and BLPOP took the only token: no DEL of the list.
    watcher = aioredis.Redis.from_url(settings.redis_url)
    async with running(settings) as worker, AcquireClient(await _client(settings), settings) as client:
        wake = worker.ctx[arq_patches.WAKE_CTX]
        async with watcher.monitor() as monitor:
            job = await client.submit("acme", sec())
            seen: list[str] = []
            # Up to the worker's next wait (the one it blocks in once the job is done).
            while not (command := (await monitor.next_command())["command"]).startswith("BLPOP"):
                seen.append(command)
        assert (await job.wait(GUARD)).state == JobState.COMPLETED
        assert wake.woken >= 1
    await watcher.aclose()
    wake_key = keys.queue_wake(settings.acquire_queue)
    assert len([c for c in seen if c.startswith("ZRANGEBYSCORE")]) == 1, seen
    assert not [c for c in seen if c.startswith("DEL") and wake_key in c], seen


async def test_a_deferred_job_read_with_the_wake_starts_when_due(settings: Settings) -> None:
    # The worker wakes for a job not yet due: the deadline of its next wait comes from the
    # read sent with the one that woke it (no read of its own); a wrong one waits NEVER.
    async with running(settings) as worker, AcquireClient(await _client(settings), settings) as client:
        wake = worker.ctx[arq_patches.WAKE_CTX]
        status = JobStatus(
            job_id=new_job_id(),
            org="acme",
            kind=JobKind.SEC_FILINGS,
            state=JobState.QUEUED,
            created_at=datetime.now(UTC),
            request=compact_request(sec()),
        )
        envelope = {"job_id": status.job_id, "org": "acme", "kind": "sec_filings", "request": status.request}
        entry = QueueEntry.now(
            settings.acquire_queue, status.job_id, "sec_filings", envelope,
            expires_extra_ms=client.redis.expires_extra_ms,
        )  # fmt: skip
        due = entry.score_ms + 400
        assert await client.store.create(status, enqueue=entry._replace(score_ms=due)) == status.job_id
        final = await JobHandle(client, "acme", status.job_id, JobKind.SEC_FILINGS).wait(GUARD)
        assert final.state == JobState.COMPLETED
        assert final.started_at is not None and final.started_at.timestamp() * 1000 >= due - 5
        assert wake.woken >= 1
