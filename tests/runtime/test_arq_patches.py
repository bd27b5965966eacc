"""A job's final write and arq's completion of the job are one script (acquire.runtime.arq_patches)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix, retry_key_prefix

from acquire import serialization
from acquire.client import AcquireClient
from acquire.models import EventType, JobKind, JobState, SecFilingsRequest
from acquire.results import SecFilingsResult
from acquire.runtime import arq_patches
from acquire.runtime.arq_patches import Completion
from acquire.runtime.run import JobContext, JobSpec, Outcome
from acquire.settings import Settings
from acquire.store.jobs import JobStore
from acquire.store.transition import Transition
from tests.support.jobs import TEST_SPEC, commands_until_marker, drain, echo_marker, make_worker, sec_result


async def plain(ctx: dict[str, Any], payload: Any) -> dict[str, Any]:
    """A raw arq function: arq's own ``finish_job`` path."""
    return {"state": "plain"}


async def footprint(redis: aioredis.Redis, arq_id: str, queue: str, ttl: int) -> dict[str, Any]:
    """What arq leaves in Redis for a job once it has finished."""
    result = await redis.get(result_key_prefix + arq_id)
    return {
        "job": await redis.exists(job_key_prefix + arq_id),
        "in_progress": await redis.exists(in_progress_key_prefix + arq_id),
        "retry": await redis.exists(retry_key_prefix + arq_id),
        "queued": await redis.zscore(queue, arq_id) is not None,
        "result_ttl_ok": ttl - 60 < await redis.ttl(result_key_prefix + arq_id) <= ttl,
        "success": serialization.deserialize(result)["s"] if result else None,
    }


def sec(company: str = "NVDA") -> SecFilingsRequest:
    return SecFilingsRequest(companies=[company], years=[2024])


async def test_arq_bookkeeping_is_the_same_on_both_paths(settings: Settings, redis: aioredis.Redis) -> None:
    # If an arq upgrade changes what finishing a job means, this comparison fails. The one
    # difference is arq's result record: a job whose final status applied has none (its
    # status and result say all it would).
    client = await AcquireClient.connect(settings)
    job = await client.submit("acme", sec())
    raw = await client.redis.enqueue_job("plain", {"x": 1}, _queue_name=settings.acquire_queue)
    assert raw is not None
    worker = make_worker(settings, [TEST_SPEC], extra_functions=[plain])
    try:
        await worker.async_run()
    finally:
        await worker.close()
    ttl, queue = settings.acquire_result_ttl, settings.acquire_queue
    ours = await footprint(redis, job.job_id, queue, ttl)
    theirs = await footprint(redis, raw.job_id, queue, ttl)
    done = {"job": 0, "in_progress": 0, "retry": 0, "queued": False}
    assert ours == {**done, "result_ttl_ok": False, "success": None}
    assert theirs == {**done, "result_ttl_ok": True, "success": True}
    assert (await job.status()).state == JobState.COMPLETED
    assert await job.result() == sec_result("NVDA")
    assert arq_patches.installed()
    await client.close()


async def test_a_final_status_refused_keeps_arqs_result(settings: Settings, redis: aioredis.Redis) -> None:
    # A second run of a job that is final already (a redelivery): acquire's status does not
    # change, so arq's record of this run stays, as arq's own finish would leave it.
    client, job_id = await _queued_job(settings)
    assert await client.store.update_status("acme", job_id, {"state": JobState.FAILED}) == 1
    worker = make_worker(settings, redis_pool=client.redis)
    answers: list[int] = []
    arq_patches.defer(job_id, _final(client.store, job_id, answers))
    result = serialization.serialize({"t": 2, "s": True, "r": {"state": "completed"}})
    await worker.finish_job(job_id, True, result, ttl := 60, False, None, None)
    assert answers == [0]
    assert (await client.store.get_status("acme", job_id)).state == JobState.FAILED
    assert await redis.get(result_key_prefix + job_id) == result
    assert ttl - 5 < await redis.ttl(result_key_prefix + job_id) <= ttl
    assert not await redis.exists(job_key_prefix + job_id)
    await worker.close()
    await client.close()


async def test_final_status_and_arq_finish_are_one_script(settings: Settings, redis: aioredis.Redis) -> None:
    client = await AcquireClient.connect(settings)
    job = await client.submit("acme", sec())
    watcher = aioredis.Redis.from_url(settings.redis_url)
    marker = "end-of-test-commands"
    seen: list[dict[str, Any]] = []
    async with watcher.monitor() as monitor:
        await drain(settings)
        await redis.echo(marker)
        while marker not in (entry := await monitor.next_command())["command"]:
            seen.append(entry)
    await watcher.aclose()
    # One EVALSHA carries the job's final transition and arq's completion of the job (its
    # job key deleted by the same script); nothing else writes either.
    job_key = job_key_prefix + job.job_id
    sent = [e["command"] for e in seen if e["client_type"] != "lua"]
    finishing = [c for c in sent if "job_completed" in c]
    assert len(finishing) == 1, finishing
    assert finishing[0].startswith("EVALSHA ")
    assert f"acquire:acme:job:{job.job_id}" in finishing[0]
    by_script = [e["command"] for e in seen if e["client_type"] == "lua"]
    assert any(c.startswith("DEL") and job_key in c for c in by_script)
    assert any(c.startswith("XADD") and "job_completed" in c for c in by_script)
    assert not any(c.startswith("DEL") and job_key in c for c in sent)
    assert (await job.status()).state == JobState.COMPLETED
    await client.close()


async def _flush_scripts_then_finish(job: JobContext, request: Any) -> Outcome[SecFilingsResult]:
    # As if Redis restarted during the job: it forgot the scripts the worker loaded.
    await job.services.redis.script_flush()
    return Outcome(result=sec_result("NVDA"), summary={"flushed": True})


async def test_final_write_survives_redis_forgetting_the_script(
    settings: Settings, redis: aioredis.Redis
) -> None:
    client = await AcquireClient.connect(settings)
    job = await client.submit("acme", sec())
    spec = JobSpec(kind=JobKind.SEC_FILINGS, run=_flush_scripts_then_finish)
    worker = await drain(settings, [spec])
    status = await job.status()
    assert status.state == JobState.COMPLETED and status.summary == {"flushed": True}
    assert await job.result() == sec_result("NVDA")
    assert worker.jobs_complete == 1
    events = [e.event.value for e in await client.events.read("acme", job.job_id)]
    assert events == ["job_queued", "job_started", "job_completed"]
    assert not await redis.exists(job_key_prefix + job.job_id)
    await client.close()


async def _queued_job(settings: Settings) -> tuple[AcquireClient, str]:
    client = await AcquireClient.connect(settings)
    job = await client.submit("acme", sec())
    return client, job.job_id


def _final(store: JobStore, job_id: str, answers: list[int]) -> Completion:
    async def after(applied: int) -> None:
        answers.append(applied)

    steps = [
        Transition(
            {"state": JobState.COMPLETED, "progress": 100}, EventType.JOB_COMPLETED, {"state": "completed"}
        )
    ]
    return Completion(store, "acme", job_id, steps, {"ok": True}, after)


async def test_job_arq_will_run_again_still_gets_its_final_status(settings: Settings) -> None:
    client, job_id = await _queued_job(settings)
    worker = make_worker(settings, redis_pool=client.redis)
    answers: list[int] = []
    arq_patches.defer(job_id, _final(client.store, job_id, answers))
    # finish=False: arq re-queues the job (e.g. cancelled as its code returned).
    await worker.finish_job(job_id, False, None, None, False, None, None)
    assert answers == [1]
    assert (await client.store.get_status("acme", job_id)).state == JobState.COMPLETED
    assert await client.redis.exists(job_key_prefix + job_id)  # arq still has it to run again
    await worker.close()
    await client.close()


async def test_corrupt_status_record_is_logged_and_arq_still_finishes(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    client, job_id = await _queued_job(settings)
    status_key = f"acquire:acme:job:{job_id}"
    await client.redis.delete(status_key)
    await client.redis.set(status_key, "not a hash")
    worker = make_worker(settings, redis_pool=client.redis)
    answers: list[int] = []
    arq_patches.defer(job_id, _final(client.store, job_id, answers))
    with caplog.at_level(logging.ERROR, logger="acquire.jobs"):
        await worker.finish_job(job_id, True, b"{}", 60, False, None, None)
    assert answers == []
    assert "final status of job" in caplog.text and "WRONGTYPE" in caplog.text
    redis: ArqRedis = client.redis
    assert not await redis.exists(job_key_prefix + job_id)
    assert await redis.zscore(settings.acquire_queue, job_id) is None
    await worker.close()
    await client.close()


async def test_arq_start_pipeline_is_all_it_sends_before_the_job_code(
    settings: Settings, redis: aioredis.Redis
) -> None:
    # arq_patches re-runs arq's run_job after a ConnectionError, which is safe only while
    # everything run_job sends before the job's code is the one start pipeline (read the job,
    # count the try), which the pickup script runs in its place: an arq upgrade that adds a
    # write there fails this test (and tests/runtime/test_pickup.py).
    client, job_id = await _queued_job(settings)
    watcher = aioredis.Redis.from_url(settings.redis_url)
    async with watcher.monitor() as monitor:
        task = asyncio.create_task(drain(settings, [JobSpec(kind=JobKind.SEC_FILINGS, run=echo_marker)]))
        seen = await commands_until_marker(monitor)
        await task
    await watcher.aclose()
    pickup = max(i for i, c in enumerate(seen) if c.startswith("PSETEX") and in_progress_key_prefix in c)
    touching_the_job = [c.split(" ")[:2] for c in seen[pickup + 1 :] if job_id in c]
    assert touching_the_job == [
        ["GET", job_key_prefix + job_id],
        ["INCRBY", retry_key_prefix + job_id],
        ["EXPIRE", retry_key_prefix + job_id],
    ], seen[pickup:]
    await client.close()
