"""A woken worker picks its job up in the wait's own round trip (acquire.runtime.arq_patches).

The script that rides on the wait after BLPOP reads the queue and picks up the first job arq
would start; the worker then starts it with no command of its own. What it picked up and did
not start (the worker stopping, a wait cancelled as Redis ran it) is handed back: no marker
left, no try counted, so the next worker runs the job at once, as its first try.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq import ArqRedis
from arq.constants import in_progress_key_prefix, retry_key_prefix
from arq.worker import Worker
from redis.asyncio.client import Pipeline

from acquire.client import AcquireClient, JobHandle
from acquire.connection import connect
from acquire.models import JobKind, JobState
from acquire.runtime.arq_patches import WAKE_CTX, pickup
from acquire.runtime.run import JobSpec
from acquire.settings import Settings
from tests.runtime.test_pickup import (
    QUEUE,
    SEEN_TTL,
    Setup,
    _decide,
    _due,
    _left_the_queue,
    _not_yet_due,
    _running_elsewhere,
    _worker,
)
from tests.runtime.test_wakeup import GUARD, _client, running, sec
from tests.support.jobs import MARKER, echo_marker


async def _wait_pick_up(pool: ArqRedis, worker: Worker) -> str | None:
    """The wait's script alone (its BLPOP left out), as the wait sends it: the id picked up."""
    mark = pickup.new_mark()
    async with pool.pipeline(transaction=False) as pipe:
        pickup.queue_wait_pick_up(worker, pipe, mark)
        (reply,) = await pipe.execute(raise_on_error=False)
    _, picked = await pickup.wait_pick_up_reply(worker, reply, mark)
    return picked


@pytest.mark.parametrize("setup", [_due, _running_elsewhere, _not_yet_due, _left_the_queue])
async def test_the_waits_pickup_decides_as_arqs_start_jobs(settings: Settings, setup: Setup) -> None:
    theirs = await _decide(settings, setup, ours=False)
    picked: list[str | None] = []

    async def before_start(pool: ArqRedis, worker: Worker) -> None:
        picked.append(await _wait_pick_up(pool, worker))

    ours = await _decide(settings, setup, ours=True, before_start=before_start)
    assert ours == theirs
    assert (picked == [f"pickup-{setup.__name__}-ours"]) == (setup is _due)


async def test_a_woken_worker_sends_no_command_between_its_wait_and_the_jobs_code(
    settings: Settings,
) -> None:
    spec = JobSpec(kind=JobKind.SEC_FILINGS, run=echo_marker)
    watcher = aioredis.Redis.from_url(settings.redis_url)
    async with running(settings, spec) as worker, AcquireClient(await _client(settings), settings) as client:
        first = await client.submit("acme", sec())  # Redis learns the scripts
        assert (await first.wait(GUARD)).state == JobState.COMPLETED
        await asyncio.wait_for(worker.ctx[WAKE_CTX].idle.wait(), GUARD)
        async with watcher.monitor() as monitor:
            job = await client.submit("acme", sec("AAPL"))
            sent: list[str] = []  # by clients: a script's own commands are the "lua" client's
            while MARKER not in (entry := await monitor.next_command())["command"]:
                if entry["client_type"] != "lua":
                    sent.append(entry["command"].split()[0])
        assert (await job.wait(GUARD)).state == JobState.COMPLETED
    await watcher.aclose()
    # The submit's script, then the wait's (it ran once BLPOP returned): the queue read and
    # the pickup of the old path (ZRANGEBYSCORE, then a pickup EVALSHA) are in it.
    assert sent == ["EVALSHA", "EVALSHA"], sent


async def test_a_job_the_wait_picked_up_and_did_not_start_is_handed_back(
    settings: Settings, redis: aioredis.Redis
) -> None:
    pool = await connect(settings)
    worker = _worker(pool, ours=True)
    try:
        await pool.delete(QUEUE)
        # Due a second ago: the script compares with Redis's clock, which a host whose clock
        # is being stepped can put a few ms behind the enqueuer's (arq's own path compares
        # with the worker's); the test is about the hand-back, not that margin.
        ago = datetime.now(UTC) - timedelta(seconds=1)
        await pool.enqueue_job("probe", _job_id="handed-back", _queue_name=QUEUE, _defer_until=ago)
        assert await _wait_pick_up(pool, worker) == "handed-back"
        assert pickup.holds_jobs(worker)
        assert await redis.exists(in_progress_key_prefix + "handed-back") == 1
        assert await pickup.hand_back(worker) == ["handed-back"]
        assert not pickup.holds_jobs(worker)
        # As before the pickup: free, due, no try counted; the next start is its first try.
        names = (in_progress_key_prefix + "handed-back", retry_key_prefix + "handed-back")
        assert await redis.exists(*names) == 0
        assert await redis.zscore(QUEUE, "handed-back") is not None
        await worker.start_jobs([b"handed-back"])
        await worker.tasks["handed-back"]
        assert SEEN_TTL.pop("handed-back") > 0
        assert worker.jobs_complete == 1
    finally:
        await worker.close()


async def test_a_wait_cancelled_as_redis_ran_its_pickup_hands_the_job_back(
    settings: Settings, redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stop cancels the worker's wait; Redis may have run the script by then (BLPOP had
    # returned), its reply unread. The job must not wait out arq's in-progress timeout.
    execute = Pipeline.execute
    picked_unseen: list[bool] = []

    async def cancelled_after_redis_ran_it(self: Pipeline, raise_on_error: bool = True) -> Any:
        waits = any(args[0] == "BLPOP" for args, _ in self.command_stack)  # execute empties it
        replies = await execute(self, raise_on_error)
        if waits and not picked_unseen:
            picked_unseen.append(len(replies[1]) > 1)  # the script's reply: {read, id, ...}
            raise asyncio.CancelledError
        return replies

    async with running(settings), AcquireClient(await _client(settings), settings) as client:
        warm = await client.submit("acme", sec())  # Redis learns the scripts
        assert (await warm.wait(GUARD)).state == JobState.COMPLETED
    # In place before the worker's first wait: the one the submit's token ends.
    monkeypatch.setattr(Pipeline, "execute", cancelled_after_redis_ran_it)
    async with running(settings) as worker, AcquireClient(await _client(settings), settings) as client:
        loop_task = worker.main_task
        assert loop_task is not None
        job = await client.submit("acme", sec())
        await asyncio.gather(loop_task, return_exceptions=True)  # the wait's loop ended there
        monkeypatch.undo()
        assert picked_unseen == [True], "the wait did not pick the job up: the test tested nothing"
        assert await redis.exists(in_progress_key_prefix + job.job_id, retry_key_prefix + job.job_id) == 0
        assert await redis.zscore(settings.acquire_queue, job.job_id) is not None
        assert (await client.store.get_status("acme", job.job_id)).state == JobState.QUEUED
    async with running(settings), AcquireClient(await _client(settings), settings) as client:
        final = await JobHandle(client, "acme", job.job_id, JobKind.SEC_FILINGS).wait(GUARD)
        assert final.state == JobState.COMPLETED and final.attempts == 1
