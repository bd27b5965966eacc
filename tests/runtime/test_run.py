from __future__ import annotations

import json
import pickle
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from arq.jobs import Job

from acquire import serialization
from acquire.client import AcquireClient
from acquire.errors import JobNotFinishedError, JobNotFoundError
from acquire.models import EventType, ItemState, JobState, SecFilingsRequest
from acquire.settings import Settings
from acquire.store import keys
from tests.support.jobs import FLAKY_ATTEMPTS, drain, sec_result


def sec(*companies: str, callback: str | None = None) -> SecFilingsRequest:
    return SecFilingsRequest(companies=list(companies), years=[2024], callback_url=callback)


@pytest.fixture
async def client(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[AcquireClient]:
    c = await AcquireClient.connect(settings)
    yield c
    await c.close()


async def event_names(client: AcquireClient, org: str, job_id: str) -> list[str]:
    return [e.event.value for e in await client.events.read(org, job_id)]


async def test_job_runs_to_completion_with_events_result_and_items(
    client: AcquireClient, settings: Settings
) -> None:
    job = await client.submit("acme", sec("NVDA", "TSLA"))
    assert (await job.status()).state == JobState.QUEUED
    with pytest.raises(JobNotFinishedError):
        await job.result()
    await drain(settings)
    status = await job.status()
    assert status.state == JobState.COMPLETED
    assert status.progress == 100
    assert status.summary == {"count": 2}
    assert (status.items_done, status.items_failed) == (2, 0)
    assert await job.result() == sec_result("NVDA", "TSLA")
    assert await event_names(client, "acme", job.job_id) == [
        "job_queued",
        "job_started",
        "step_complete",
        "item_completed",
        "item_completed",
        "step_complete",
        "job_completed",
    ]
    assert [i.key for i in await job.items()] == ["NVDA", "TSLA"]


async def test_not_found_item_makes_job_partially_failed_keeping_good_results(
    client: AcquireClient, settings: Settings
) -> None:
    job = await client.submit("acme", sec("NVDA", "MISS"))
    await drain(settings)
    status = await job.status()
    assert status.state == JobState.PARTIALLY_FAILED
    items = {i.key: i for i in await job.items()}
    assert items["MISS"].state == ItemState.NOT_FOUND
    assert items["MISS"].error_type == "NotFoundError"
    assert items["NVDA"].data == {"n": 4}
    assert await job.result() == sec_result("NVDA", "MISS")


async def test_permanent_failure_keeps_error_type_and_message(
    client: AcquireClient, settings: Settings
) -> None:
    job = await client.submit("acme", sec("BOOM"))
    crash = await client.submit("acme", sec("CRASH"))
    await drain(settings)
    status = await job.status()
    assert status.state == JobState.FAILED
    assert (status.error_type, status.error) == ("PermanentError", "upstream refused the request")
    crashed = await crash.status()
    assert crashed.error_type == "KeyError" and "missing field" in (crashed.error or "")
    events = await client.events.read("acme", job.job_id)
    assert events[-1].event == EventType.JOB_FAILED
    assert events[-1].data.error == "upstream refused the request"


async def test_transient_errors_retry_with_events_then_succeed(
    client: AcquireClient, settings: Settings
) -> None:
    job = await client.submit("acme", sec("FLAKY"))
    await drain(settings)
    status = await job.status()
    assert status.state == JobState.COMPLETED
    assert FLAKY_ATTEMPTS[job.job_id] == 3
    assert status.attempts == 3
    names = await event_names(client, "acme", job.job_id)
    assert names.count("job_retrying") == 2
    assert names.count("job_started") == 3
    assert names[-1] == "job_completed"


async def test_transient_errors_give_up_after_max_tries(client: AcquireClient, settings: Settings) -> None:
    tight = settings.model_copy(update={"acquire_max_tries": 2})
    job = await client.submit("acme", sec("DEAD"))
    await drain(tight)
    status = await job.status()
    assert status.state == JobState.FAILED
    assert status.error_type == "TransientError"
    assert (await event_names(client, "acme", job.job_id)).count("job_retrying") == 1


async def test_soft_time_limit_fails_job_with_clear_reason(client: AcquireClient, settings: Settings) -> None:
    quick = settings.model_copy(update={"acquire_job_timeout": 1})
    job = await client.submit("acme", sec("HANG"))
    await drain(quick)
    status = await job.status()
    assert status.state == JobState.FAILED
    assert status.error == "exceeded the soft time limit of 0.5 s"
    assert (await event_names(client, "acme", job.job_id))[-1] == "job_failed"


async def test_item_past_the_soft_limit_fails_alone_with_a_clear_reason(
    client: AcquireClient, settings: Settings
) -> None:
    quick = settings.model_copy(update={"acquire_job_timeout": 1})
    job = await client.submit("acme", sec("SPREAD", "NVDA", "HANG"))
    await drain(quick)
    status = await job.status()
    assert status.state == JobState.PARTIALLY_FAILED
    items = {i.key: i for i in await job.items()}
    assert items["NVDA"].state == ItemState.COMPLETED
    assert items["HANG"].state == ItemState.FAILED
    assert (items["HANG"].error_type, items["HANG"].error) == (
        "TimeoutError",
        "exceeded the soft time limit of 0.5 s",
    )


async def test_spread_job_runs_items_as_separate_arq_jobs(
    client: AcquireClient, settings: Settings, redis: aioredis.Redis
) -> None:
    job = await client.submit("acme", sec("SPREAD", "NVDA", "MISS", "BAD", "TSLA"))
    await drain(settings)
    status = await job.status()
    assert status.state == JobState.PARTIALLY_FAILED
    assert (status.items_total, status.items_done, status.items_failed) == (4, 2, 2)
    items = {i.key: i for i in await job.items()}
    assert items["BAD"].state == ItemState.FAILED and items["BAD"].error_type == "ValueError"
    assert items["TSLA"].data == {"company": "TSLA", "worker_item": True}
    result = await job.result()
    assert [c.company for c in result.companies] == ["BAD", "MISS", "NVDA", "TSLA"]
    assert [c.state for c in result.companies][:2] == [ItemState.FAILED, ItemState.NOT_FOUND]
    # each item was its own arq job
    assert await redis.exists(f"arq:result:{job.job_id}.0")
    names = await event_names(client, "acme", job.job_id)
    assert names.count("item_completed") == 2 and names.count("item_failed") == 2
    assert names[-1] == "job_completed"


async def test_a_failed_job_keeps_its_real_error_in_its_status_alone(
    client: AcquireClient, settings: Settings
) -> None:
    job = await client.submit("acme", sec("BOOM"))
    await drain(settings)
    status = await job.status()
    assert (status.state, status.error_type) == (JobState.FAILED, "PermanentError")
    assert status.error == "upstream refused the request"
    # arq keeps no second copy of a run whose final status applied in the same script.
    arq_job = Job(job.job_id, client.redis, _deserializer=serialization.deserialize)
    assert await arq_job.result_info() is None


async def test_idempotency_key_returns_existing_job(client: AcquireClient, redis: aioredis.Redis) -> None:
    first = await client.submit("acme", sec("NVDA"), idempotency_key="order-42")
    again = await client.submit("acme", sec("NVDA"), idempotency_key="order-42")
    other_org = await client.submit("globex", sec("NVDA"), idempotency_key="order-42")
    assert again.job_id == first.job_id
    assert other_org.job_id != first.job_id
    assert await redis.zcard("acquire:queue:acquisition") == 2


async def test_other_org_cannot_read_a_job(client: AcquireClient, settings: Settings) -> None:
    job = await client.submit("acme", sec("NVDA"))
    await drain(settings)
    intruder = client.job("globex", job.job_id)
    with pytest.raises(JobNotFoundError):
        await intruder.status()
    with pytest.raises(JobNotFoundError):
        await intruder.result()
    assert await intruder.items() == []
    assert await client.events.read("globex", job.job_id) == []
    assert [j.job_id for j in await client.list_jobs("acme")] == [job.job_id]
    assert await client.list_jobs("globex") == []


async def test_late_reader_gets_every_event_and_can_resume(client: AcquireClient, settings: Settings) -> None:
    job = await client.submit("acme", sec("NVDA"))
    await drain(settings)
    seen = [e async for e in job.events()]
    assert seen[0].event == EventType.JOB_QUEUED and seen[-1].event == EventType.JOB_COMPLETED
    ids = [e.id for e in seen]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    resumed = [e async for e in job.events(after=seen[2].id)]
    assert [e.id for e in resumed] == ids[3:]


async def test_results_are_published_to_topic_with_org(
    client: AcquireClient, settings: Settings, redis: aioredis.Redis
) -> None:
    job = await client.submit("acme", sec("NVDA"))
    await drain(settings)
    entries = await redis.xrange(settings.sec_topic)
    assert len(entries) == 1
    fields = {k.decode(): v.decode() for k, v in entries[0][1].items()}
    assert fields["org"] == "acme" and fields["job_id"] == job.job_id
    assert json.loads(fields["data"]) == {"companies": ["NVDA"]}


async def test_all_job_keys_expire_with_result_ttl(
    client: AcquireClient, settings: Settings, redis: aioredis.Redis
) -> None:
    job = await client.submit("acme", sec("NVDA", "MISS"))
    await drain(settings)
    for key in (
        keys.job_status("acme", job.job_id),
        keys.job_text("acme", job.job_id),
        keys.job_items("acme", job.job_id),
        keys.job_result("acme", job.job_id),
        keys.job_events("acme", job.job_id),
    ):
        ttl = await redis.ttl(key)
        assert 0 < ttl <= settings.acquire_result_ttl, key


async def test_pickle_and_garbage_payloads_are_never_executed(
    client: AcquireClient, settings: Settings, redis: aioredis.Redis, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[Callable[..., object], tuple[str, str]]:
            return (open, (str(marker), "w"))

    payload = pickle.dumps({"t": 1, "f": "sec_filings", "a": [Exploit()], "k": {}, "et": 1})
    await redis.set("arq:job:evil", payload)
    await redis.zadd("acquire:queue:acquisition", {"evil": 1})
    await redis.set("arq:job:junk", b"\x00\xffnot json")
    await redis.zadd("acquire:queue:acquisition", {"junk": 1})
    good = await client.submit("acme", sec("NVDA"))
    worker = await drain(settings)
    assert not marker.exists()
    assert (await good.status()).state == JobState.COMPLETED  # the worker kept going
    assert worker.jobs_failed == 2
    for job_id in ("evil", "junk"):
        info = await Job(job_id, client.redis, _deserializer=serialization.deserialize).result_info()
        assert info is not None and info.success is False
        assert "unable to deserialize" in str(info.result)


async def test_hand_written_json_payload_with_bad_request_is_validated_by_worker(
    client: AcquireClient, settings: Settings, redis: aioredis.Redis
) -> None:
    job = await client.submit("acme", sec("NVDA"))
    # Overwrite the queued payload by hand with a request that bypassed validation.
    bad = {
        "job_id": job.job_id,
        "org": "acme",
        "kind": "sec_filings",
        "request": {"kind": "sec_filings", "companies": ["A:B*"], "years": [2024]},
    }
    await redis.set(
        f"arq:job:{job.job_id}",
        serialization.serialize({"t": 1, "f": "sec_filings", "a": [bad], "k": {}, "et": 1}),
    )
    await drain(settings)
    status = await job.status()
    assert status.state == JobState.FAILED
    assert status.error_type == "ValidationError" and "companies.0" in (status.error or "")


async def test_duplicate_delivery_of_finished_job_changes_nothing(
    client: AcquireClient, settings: Settings, redis: aioredis.Redis
) -> None:
    job = await client.submit("acme", sec("NVDA"))
    await drain(settings)
    before = await event_names(client, "acme", job.job_id)
    # Simulate arq delivering the same job again (e.g. after a worker crash).
    await redis.delete(f"arq:result:{job.job_id}")
    await client.redis.enqueue_job(
        "sec_filings",
        {"job_id": job.job_id, "org": "acme", "kind": "sec_filings", "request": (await job.status()).request},
        _job_id=job.job_id,
    )
    await drain(settings)
    assert await event_names(client, "acme", job.job_id) == before
    assert (await job.status()).state == JobState.COMPLETED
