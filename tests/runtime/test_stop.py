"""A stop signal ends the worker cleanly wherever it finds a job (acquire.runtime.arq_patches).

arq's ``close()`` gathers the job tasks its signal handler cancelled; a cancellation that lands
outside the job's own ``try`` used to escape that gather and end the process with exit code 1.
The hooks below hold a job at such a point so the signal lands there every time.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import redis.asyncio as aioredis
from arq.constants import in_progress_key_prefix, result_key_prefix

from acquire.client import AcquireClient
from acquire.settings import Settings
from tests.support.jobs import make_worker


async def plain(ctx: dict[str, Any]) -> str:
    return "done"


class _Hold:
    """An arq hook that parks the job until the worker is stopped."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()

    async def __call__(self, ctx: dict[str, Any]) -> None:
        self.reached.set()
        await asyncio.Event().wait()


async def _stop_while_held(settings: Settings, hook: str) -> str:
    client = await AcquireClient.connect(settings)
    job = await client.redis.enqueue_job("plain", _queue_name=settings.acquire_queue)
    assert job is not None
    hold = _Hold()
    worker = make_worker(settings, [], extra_functions=[plain], **{hook: hold})
    run = asyncio.create_task(worker.async_run())
    await hold.reached.wait()
    worker.handle_sig(signal.SIGTERM)  # what arq's handler does once the grace is over
    await asyncio.gather(run, return_exceptions=True)
    # As a worker that handles its signals does: close() cancels nothing more, it gathers.
    await asyncio.wait(worker.tasks.values())
    await worker.close()  # raised CancelledError before the patch
    await client.close()
    return job.job_id


async def test_a_job_stopped_before_its_finish_is_released_for_the_next_worker(
    settings: Settings, redis: aioredis.Redis
) -> None:
    job_id = await _stop_while_held(settings, "on_job_end")
    # Not finished, still queued, and no in-progress marker: the next worker takes it at once.
    assert await redis.exists(in_progress_key_prefix + job_id) == 0
    assert await redis.zscore(settings.acquire_queue, job_id) is not None
    assert await redis.exists(result_key_prefix + job_id) == 0
    worker = make_worker(settings, [], extra_functions=[plain])
    try:
        await worker.async_run()
    finally:
        await worker.close()
    assert worker.jobs_complete == 1
    assert await redis.zscore(settings.acquire_queue, job_id) is None


async def test_a_job_stopped_after_its_finish_stays_finished(
    settings: Settings, redis: aioredis.Redis
) -> None:
    job_id = await _stop_while_held(settings, "after_job_end")
    assert await redis.exists(result_key_prefix + job_id) == 1
    assert await redis.zscore(settings.acquire_queue, job_id) is None
    assert await redis.exists(in_progress_key_prefix + job_id) == 0
