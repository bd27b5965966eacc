"""The worker's background tasks (acquire.runtime.periodic): the reconciler, one pass per period
for the whole fleet under a lease rather than an arq cron job, and the queue-depth gauge.

Periods are set short (0.5 s) and the tests count per period, awaiting the tasks' own ticks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from arq.worker import Worker

import acquire
from acquire import metrics, serialization
from acquire.client import AcquireClient
from acquire.connection import redis_settings
from acquire.models import JobState, YahooRequest
from acquire.runtime import arq_patches
from acquire.runtime.periodic import Periodic
from acquire.settings import Settings
from acquire.worker import PERIODIC_CTX, create_worker
from tests.support.jobs import TEST_SPEC

PERIOD = 0.5
#: A hang guard, not a speed limit.
GUARD = 30.0


def _fast(settings: Settings, **update: Any) -> Settings:
    return settings.model_copy(
        update={"acquire_reconcile_interval": PERIOD, "acquire_queue_depth_interval": PERIOD / 2, **update}
    )


async def _started(worker: Worker, stack: AsyncExitStack) -> dict[str, Periodic]:
    """Run ``worker`` on its own task until ``stack`` closes; its background tasks once idle."""
    wake = worker.ctx.setdefault(arq_patches.WAKE_CTX, arq_patches.WakeUp.for_queue(worker.queue_name, 10))
    task = asyncio.create_task(worker.async_run())

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()

    stack.push_async_callback(stop)
    await asyncio.wait_for(wake.idle.wait(), GUARD)
    background: dict[str, Periodic] = worker.ctx[PERIODIC_CTX]
    return background


@asynccontextmanager
async def workers(settings: Settings, count: int, **kwargs: Any) -> AsyncIterator[list[dict[str, Periodic]]]:
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(count):
            wake = arq_patches.WakeUp.for_queue(settings.acquire_queue, settings.acquire_idle_poll)
            worker = create_worker(settings, ctx={arq_patches.WAKE_CTX: wake}, **kwargs)
            started.append(await _started(worker, stack))
        yield started


async def _calls(redis: aioredis.Redis) -> dict[str, int]:
    stats = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def test_an_idle_worker_sends_a_few_commands_per_reconcile_period(
    settings: Settings, redis: aioredis.Redis
) -> None:
    # acquire's real worker settings (every job kind and resource); only the periods are short.
    periods = 4
    async with workers(_fast(settings), 1) as [background]:
        reconciler = background["reconciler"]
        start = reconciler.runs + 1
        await reconciler.wait_runs(start)  # a tick just ended; startup's commands are behind us
        before = await _calls(redis)
        await reconciler.wait_runs(start + periods)
        after = await _calls(redis)
        # Periods of wall clock the window spanned (more than it ran if a late tick was skipped).
        spanned = reconciler.history[-1][0] - reconciler.history[-1 - periods][0]
    sent = {name: n - before.get(name, 0) for name, n in after.items() if name != "info"}
    sent = {name: n for name, n in sent.items() if n}
    # Each pass: one lease (SET NX) and the pass's two reads (ZRANGEBYSCORE acquire:active,
    # SMEMBERS of the backlogged orgs); each period two queue-depth ZCARDs; the idle poll (every
    # 10 s), arq's health record (30 s) and the document sweep may each fall into the window
    # once. As an arq cron job a pass cost ~30 commands (arq's enqueue, pickup and finish, the
    # extra loop turns; MONITOR of the old worker): far over this bound, and none of them here.
    assert sent.get("set") == periods, sent
    assert not {"watch", "multi", "exec", "zadd", "zrem", "pexpire"} & sent.keys(), sent
    assert sum(sent.values()) <= 3 * periods + 2 * spanned + 8, (sent, spanned)


async def test_two_workers_run_one_pass_per_period_and_it_finishes_an_abandoned_job(
    settings: Settings,
) -> None:
    fast = _fast(settings, acquire_reconcile_after=1)
    async with (
        workers(fast, 2, specs=[TEST_SPEC], resources=[], extra_functions=[]) as fleet,
        await AcquireClient.connect(fast) as client,
    ):
        # No worker runs yahoo: arq fails the job itself and only a reconcile pass finishes it.
        job = await client.submit("acme", YahooRequest(companies=["AAPL"]))
        status = await job.wait(GUARD)
        assert status.state == JobState.FAILED and status.error_type == "JobEnded"
        first, second = (background["reconciler"] for background in fleet)
        await first.wait_runs(first.runs + 3)
        await second.wait_runs(second.runs + 3)
        ticks = {period for task in (first, second) for period, _ in task.history}
        won = [period for task in (first, second) for period, summary in task.history if summary]
    # The periods both workers ticked in, bar the first and last (one may not have seen them yet).
    both = sorted({p for p, _ in first.history} & {p for p, _ in second.history})[1:-1]
    assert len(both) >= 1 and len(ticks) >= 3
    assert all(won.count(period) == 1 for period in both), (won, both)
    assert len(won) == len(set(won))  # never two passes for one period
    assert any(summary and summary["failed"] for task in (first, second) for _, summary in task.history)


async def test_the_queue_depth_gauge_follows_the_queue_within_one_interval(
    settings: Settings, redis: aioredis.Redis
) -> None:
    def gauge() -> float | None:
        return metrics.REGISTRY.get_sample_value("worker_queue_depth", {"queue": settings.acquire_queue})

    async with workers(_fast(settings), 1, specs=[TEST_SPEC], resources=[], extra_functions=[]) as [bg]:
        depth = bg["queue_depth"]
        # Deferred far ahead, so the worker leaves them queued.
        await redis.zadd(settings.acquire_queue, {f"deferred-{n}": 2**50 for n in range(3)})
        await depth.wait_runs(depth.runs + 2)  # one refresh that began after the ZADD
        assert gauge() == 3
        await redis.zrem(settings.acquire_queue, "deferred-0")
        await depth.wait_runs(depth.runs + 2)
        assert gauge() == 2


async def test_a_host_worker_gets_the_reconciler_through_on_startup(settings: Settings) -> None:
    fast = _fast(settings)
    hooks = acquire.worker_hooks(fast, serve_metrics=False)
    assert hooks.cron_jobs == []  # kept (empty) for hosts that spread it into their own list
    assert not acquire.build_worker_settings(fast, serve_metrics=False).cron_jobs
    worker = Worker(
        functions=acquire.task_functions(fast),
        cron_jobs=[*hooks.cron_jobs],
        on_startup=hooks.on_startup,
        on_shutdown=hooks.on_shutdown,
        queue_name=fast.acquire_queue,
        redis_settings=redis_settings(fast),
        job_serializer=serialization.serialize,
        job_deserializer=serialization.deserialize,
        handle_signals=False,
    )
    async with AsyncExitStack() as stack:
        reconciler = (await _started(worker, stack))["reconciler"]
        await reconciler.wait_runs(2)
        assert [summary for _, summary in reconciler.history if summary]  # the only worker: it won
    assert PERIODIC_CTX not in worker.ctx  # on_shutdown stopped them


async def test_a_failing_or_stuck_run_does_not_end_the_task() -> None:
    calls: list[int] = []

    async def action(period: int) -> None:
        calls.append(period)
        if len(calls) == 1:
            raise RuntimeError("boom")
        await asyncio.Event().wait()  # stuck: only the timeout ends it

    task = Periodic("test", 0.01, action, timeout=0.01)
    task.start()
    try:
        await asyncio.wait_for(task.wait_runs(3), GUARD)
    finally:
        await task.stop()
    assert len(calls) >= 3 and [result for _, result in task.history] == [None] * len(task.history)


async def test_aligned_ticks_are_numbered_by_the_wall_clock_and_never_repeat() -> None:
    seen: list[int] = []

    async def action(period: int) -> int:
        seen.append(period)
        return period

    task = Periodic("test", 0.05, action, aligned=True)
    task.start()
    try:
        await asyncio.wait_for(task.wait_runs(4), GUARD)
    finally:
        await task.stop()
    assert seen == sorted(set(seen)) and len(seen) >= 4
    assert [period for period, _ in task.history] == seen
