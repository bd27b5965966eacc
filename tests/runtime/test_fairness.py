"""Fairness across orgs (acquire.store.fairness): a flooding org cannot starve a light one.

Ordering and counting only: a worker with one slot runs jobs in queue order, so the position
of the light org's item among everything that ran says how much of the flood it waited for.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, cast

import httpx
import pytest
import redis.asyncio as aioredis
from arq.constants import job_key_prefix
from starlette.applications import Starlette
from starlette.routing import Mount

from acquire.client import AcquireClient
from acquire.errors import OrgQueueFullError
from acquire.models import JobKind, JobState, SecFilingsRequest
from acquire.runtime.run import JobContext, JobSpec, Outcome, Spread
from acquire.settings import Settings
from acquire.store import keys
from acquire.store.fairness import FairGate
from acquire.web import api_key_authorizer, create_router
from tests.support.jobs import make_worker

CAP = 2
RAN: list[tuple[str, str]] = []
#: The most item jobs of the flooding org seen on arq's queue (waiting or running) at once.
ON_QUEUE: dict[str, int] = {}


async def _spread(job: JobContext, request: Any) -> Outcome[dict[str, Any]] | Spread:
    return await job.spread([(c, {"company": c}) for c in request.companies])


async def _item(job: JobContext, request: Any, key: str, payload: dict[str, Any]) -> dict[str, Any]:
    RAN.append((job.org, key))
    queue = await job.services.redis.zrange(job.queue, 0, -1)
    mine = sum(1 for arq_id in queue if arq_id.decode().startswith(f"{job.job_id}."))
    ON_QUEUE[job.org] = max(ON_QUEUE.get(job.org, 0), mine)
    return {"company": key}


SPEC = JobSpec(kind=JobKind.SEC_FILINGS, run=_spread, run_item=_item)


def _companies(count: int) -> list[str]:
    return [f"C{n}" for n in range(1, count + 1)]


@pytest.fixture
def gated(settings: Settings) -> Settings:
    return settings.model_copy(update={"acquire_org_max_inflight_items": CAP})


async def _run_one_slot_worker(settings: Settings) -> None:
    worker = make_worker(settings, [SPEC], max_jobs=1)
    try:
        await worker.async_run()
    finally:
        await worker.close()


@pytest.mark.parametrize("cap", [CAP, 0], ids=["gated", "no-gate"])
async def test_a_light_orgs_item_waits_for_at_most_the_flooders_share(
    gated: Settings, redis: aioredis.Redis, cap: int
) -> None:
    settings = gated.model_copy(update={"acquire_org_max_inflight_items": cap})
    RAN.clear()
    ON_QUEUE.clear()
    async with await AcquireClient.connect(settings) as client:
        flood = await client.submit("globex", SecFilingsRequest(companies=_companies(20), years=[2024]))
        light = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
        # Two submits can share a millisecond, and Redis orders equal scores by member: put the
        # light job strictly after the flood, as its later submit means.
        flood_score = await redis.zscore(settings.acquire_queue, flood.job_id)
        assert flood_score is not None
        await redis.zadd(settings.acquire_queue, {light.job_id: flood_score + 1})
        await _run_one_slot_worker(settings)
        assert (await flood.status()).state == JobState.COMPLETED
        assert (await light.status()).state == JobState.COMPLETED
    position = RAN.index(("acme", "NVDA"))
    if cap:
        # Both top-level jobs ran first; the flood's first CAP items were on the queue ahead.
        assert position == CAP
        assert ON_QUEUE["globex"] <= CAP
    else:
        assert position == 20  # without the gate, behind the whole flood
        assert ON_QUEUE["globex"] == 20
    assert sorted(key for org, key in RAN if org == "globex") == sorted(_companies(20))


async def test_an_in_flight_entry_arq_is_done_with_frees_its_slot(
    gated: Settings, redis: aioredis.Redis
) -> None:
    gate = FairGate(redis, gated)
    queue = gated.acquire_queue
    jobs = [(f"job{n}.0", "sec_filings_item", {"n": n}) for n in range(4)]
    assert await gate.spread("globex", queue, jobs) == CAP
    assert await gate.queued("globex", queue) == 2
    # As if arq failed job0 on its own (max tries, bad entry): no release ever comes.
    await redis.delete(job_key_prefix + "job0.0")
    assert await gate.feed_all(queue) == 1
    on_queue = {m.decode() for m in await redis.zrange(queue, 0, -1)}
    assert on_queue == {"job0.0", "job1.0", "job2.0"}  # job0 is arq's to clean up
    assert await gate.release("globex", queue, "job1.0") == 1
    assert await gate.queued("globex", queue) == 0
    assert not await cast(Awaitable[int], redis.sismember(keys.backlogged_orgs(queue), "globex"))
    # A spread run again (its job re-delivered) does not enqueue the same item twice.
    assert await gate.spread("globex", queue, jobs[:1]) == 0


async def test_submit_beyond_the_orgs_queued_items_is_refused_with_429(
    gated: Settings, redis: aioredis.Redis
) -> None:
    settings = gated.model_copy(update={"acquire_org_max_queued_items": 5})
    gate = FairGate(redis, settings)
    await gate.spread("globex", settings.acquire_queue, [(f"j.{n}", "f", {}) for n in range(CAP + 4)])
    async with await AcquireClient.connect(settings) as client:
        request = SecFilingsRequest(companies=["NVDA", "TSLA"], years=[2024])
        with pytest.raises(OrgQueueFullError, match="ACQUIRE_ORG_MAX_QUEUED_ITEMS") as refused:
            await client.submit("globex", request)
        assert refused.value.retry_after > 0
        assert await client.list_jobs("globex") == []  # nothing was enqueued
        assert (await client.submit("acme", request)).org == "acme"  # other orgs are not affected
        router = create_router(client, api_key_authorizer({"k" * 32: "globex"}), token_secret="s" * 32)
        app = Starlette(routes=[Mount("/acquire", router)])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/acquire") as http:
            body = {"kind": "sec_filings", "companies": ["NVDA", "TSLA"], "years": [2024]}
            response = await http.post("/jobs", json=body, headers={"X-API-Key": "k" * 32})
        await router.aclose()
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "4 items waiting" in response.json()["detail"]


async def test_the_reconciler_does_not_take_backlogged_items_for_lost(
    gated: Settings, redis: aioredis.Redis
) -> None:
    # Before the backlog counted its entries per job, the reconciler saw item jobs arq did not
    # know yet, recorded each as LostItem and pushed the job's counts past its total.
    from acquire.runtime.reconcile import reconcile
    from acquire.runtime.services import Services
    from acquire.store.jobs import JobStore

    settings = gated.model_copy(update={"acquire_org_max_inflight_items": 1})
    RAN.clear()
    async with await AcquireClient.connect(settings) as client:
        first = await client.submit("globex", SecFilingsRequest(companies=["NVDA"], years=[2024]))
        second = await client.submit("globex", SecFilingsRequest(companies=["AAPL", "TSLA"], years=[2024]))
        worker = make_worker(settings, [SPEC], redis_pool=client.redis)
        worker.ctx["redis"] = client.redis
        assert worker.on_startup is not None and worker.on_shutdown is not None
        await worker.on_startup(worker.ctx)
        for handle in (first, second):  # the two spreads only: the first's item takes the share
            await worker.run_job(handle.job_id, 0)
        await worker.on_shutdown(worker.ctx)
        await worker.close()
        assert RAN == [] and await client.fair.queued("globex", settings.acquire_queue) == 2
        services = Services(
            settings=settings, redis=client.redis, store=JobStore.from_settings(client.redis, settings)
        )
        report = await reconcile(services, {JobKind.SEC_FILINGS: SPEC}, older_than=0)
        assert second.job_id not in report.finished
        assert await second.items() == []  # nothing recorded as lost
        await _run_one_slot_worker(settings)
        for handle in (first, second):
            status = await handle.status()
            assert status.state == JobState.COMPLETED and status.items_done == status.items_total
    assert sorted(key for _, key in RAN) == ["AAPL", "NVDA", "TSLA"]


async def test_skipped_items_of_a_final_job_let_the_next_ones_in(
    gated: Settings, redis: aioredis.Redis
) -> None:
    settings = gated.model_copy(update={"acquire_org_max_inflight_items": 1})
    RAN.clear()
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit("globex", SecFilingsRequest(companies=_companies(3), years=[2024]))
        worker = make_worker(settings, [SPEC], redis_pool=client.redis)
        worker.ctx["redis"] = client.redis
        assert worker.on_startup is not None and worker.on_shutdown is not None
        await worker.on_startup(worker.ctx)
        await worker.run_job(job.job_id, 0)  # the spread: one item on the queue, two backlogged
        await worker.on_shutdown(worker.ctx)
        await worker.close()
        status = keys.job_status("globex", job.job_id)
        await cast(Awaitable[int], redis.hset(status, "state", "failed"))  # it ended meanwhile
        await _run_one_slot_worker(settings)
        assert RAN == []  # every item was skipped...
        assert await client.fair.queued("globex", settings.acquire_queue) == 0  # ...and each let the next in
        assert await redis.zcard(keys.org_in_flight("globex", settings.acquire_queue)) == 0
