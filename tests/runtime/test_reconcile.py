"""The reconciler gives a final status to jobs that arq ended without acquire's runtime."""

from __future__ import annotations

import redis.asyncio as aioredis
from arq.jobs import serialize_result

from acquire import serialization
from acquire.client import AcquireClient
from acquire.models import ItemState, JobKind, JobState, SecFilingsRequest, YahooRequest
from acquire.runtime.reconcile import reconcile
from acquire.runtime.run import Services
from acquire.settings import Settings
from acquire.store import keys
from acquire.store.jobs import JobStore
from tests.support.jobs import TEST_SPEC, drain

SPECS = {JobKind.SEC_FILINGS: TEST_SPEC}


def services(client: AcquireClient) -> Services:
    return Services(settings=client.settings, redis=client.redis, store=JobStore(client.redis))


async def test_job_of_a_kind_no_worker_runs_gets_arqs_reason(
    settings: Settings, redis: aioredis.Redis
) -> None:
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit("acme", YahooRequest(companies=["AAPL"]))
        await drain(settings)  # a worker without the yahoo function: arq fails the job itself
        assert (await job.status()).state == JobState.QUEUED
        report = await reconcile(services(client), SPECS, older_than=0)
        status = await job.status()
        assert report.failed == [job.job_id]
        assert status.state == JobState.FAILED and status.error_type == "JobEnded"
        assert "function 'yahoo' not found" in (status.error or "")
        assert (await client.events.read("acme", job.job_id))[-1].event.value == "job_failed"
        assert await redis.zcard(keys.active()) == 0


async def test_queued_job_is_left_alone_and_lost_job_fails(settings: Settings, redis: aioredis.Redis) -> None:
    async with await AcquireClient.connect(settings) as client:
        waiting = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
        lost = await client.submit("acme", SecFilingsRequest(companies=["TSLA"], years=[2024]))
        await redis.delete(f"arq:job:{lost.job_id}")
        await redis.zrem("acquire:queue:acquisition", lost.job_id)
        report = await reconcile(services(client), SPECS, older_than=0)
        assert report.alive == 1 and report.failed == [lost.job_id]
        assert (await waiting.status()).state == JobState.QUEUED
        lost_status = await lost.status()
        assert lost_status.state == JobState.FAILED and lost_status.error_type == "LostJob"
        assert await redis.zcard(keys.active()) == 1  # the waiting one is still watched
        # young jobs are not looked at
        assert (await reconcile(services(client), SPECS, older_than=3600)).checked == 0


async def test_job_that_ran_but_lost_its_final_write_says_so(
    settings: Settings, redis: aioredis.Redis
) -> None:
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
        # arq finished it (result stored, job key gone) but acquire's status never became final.
        await redis.delete(f"arq:job:{job.job_id}")
        await redis.zrem("acquire:queue:acquisition", job.job_id)
        result = serialize_result(
            "sec_filings", (), {}, 1, 1, True, {"state": "completed"}, 2, 3, "ref", "q",
            job_id=job.job_id, serializer=serialization.serialize,
        )  # fmt: skip
        assert result is not None
        await redis.set(f"arq:result:{job.job_id}", result)
        report = await reconcile(services(client), SPECS, older_than=0)
        status = await job.status()
        assert report.failed == [job.job_id]
        assert status.state == JobState.FAILED and status.error_type == "LostResult"
        assert "ran to the end (completed)" in (status.error or "")


async def test_corrupt_status_record_does_not_stop_the_pass(
    settings: Settings, redis: aioredis.Redis
) -> None:
    async with await AcquireClient.connect(settings) as client:
        broken = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
        lost = await client.submit("acme", SecFilingsRequest(companies=["TSLA"], years=[2024]))
        await redis.delete(f"acquire:acme:job:{broken.job_id}")
        await redis.set(f"acquire:acme:job:{broken.job_id}", "not a hash")
        for job in (broken, lost):
            await redis.delete(f"arq:job:{job.job_id}")
        report = await reconcile(services(client), SPECS, older_than=0)
        assert report.failed == [lost.job_id] and report.forgotten == 1
        assert (await lost.status()).state == JobState.FAILED
        assert await redis.zcard(keys.active()) == 0


async def test_spread_job_with_vanished_item_job_is_finished(
    settings: Settings, redis: aioredis.Redis
) -> None:
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit(
            "acme", SecFilingsRequest(companies=["SPREAD", "NVDA", "TSLA"], years=[2024])
        )
        # run only the parent: it enqueues two item jobs; then one item job vanishes
        from tests.support.jobs import make_worker

        worker = make_worker(settings, max_burst_jobs=1)
        await worker.async_run()
        await worker.close()
        await redis.delete(f"arq:job:{job.job_id}.1")
        await redis.zrem("acquire:queue:acquisition", f"{job.job_id}.1")
        await drain(settings)  # runs the surviving item job
        assert (await job.status()).state == JobState.RUNNING
        report = await reconcile(services(client), SPECS, older_than=0)
        assert report.finished == [job.job_id]
        status = await job.status()
        assert status.state == JobState.PARTIALLY_FAILED
        items = {i.key: i for i in await job.items()}
        assert items["NVDA"].state == ItemState.COMPLETED
        assert items["lost-item-0"].error_type == "LostItem"


async def test_finished_jobs_leave_the_active_set(settings: Settings, redis: aioredis.Redis) -> None:
    async with await AcquireClient.connect(settings) as client:
        await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
        assert await redis.zcard(keys.active()) == 1
        await drain(settings)
        assert await redis.zcard(keys.active()) == 0
