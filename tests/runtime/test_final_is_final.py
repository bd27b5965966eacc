"""A job that reached a final status never changes again: item writes are refused by the
store's script, and a leftover item job of a final job does not run (nothing is fetched)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.models import EventType, ItemState, ItemStatus, JobKind, JobState, SecFilingsRequest
from acquire.runtime.run import JobContext, JobSpec, Outcome
from acquire.settings import Settings
from acquire.testing.reliability.hardening import fail_with_items_queued, post_final_writes
from tests.support.jobs import drain

#: Items the recording spec's ``run_item`` was asked to fetch.
FETCHED: list[str] = []


async def _run(job: JobContext, request: Any) -> Outcome[dict[str, Any]]:
    raise AssertionError("only item jobs run in these tests")


async def _run_item(job: JobContext, request: Any, key: str, payload: dict[str, Any]) -> dict[str, Any]:
    FETCHED.append(key)
    return {"company": key}


RECORDING_SPEC = JobSpec(kind=JobKind.SEC_FILINGS, run=_run, run_item=_run_item)


@pytest.fixture
async def client(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[AcquireClient]:
    FETCHED.clear()
    c = await AcquireClient.connect(settings)
    yield c
    await c.close()


def _item(key: str, state: ItemState) -> ItemStatus:
    return ItemStatus(key=key, state=state, updated_at=datetime.now(UTC))


async def _event_names(client: AcquireClient, job_id: str) -> list[str]:
    return [e.event.value for e in await client.events.read("acme", job_id)]


async def test_the_store_refuses_item_writes_once_the_job_is_final(client: AcquireClient) -> None:
    job = await fail_with_items_queued(client, ["NVDA", "TSLA"])
    events = await _event_names(client, job.job_id)
    for state in (ItemState.COMPLETED, ItemState.FAILED, ItemState.RUNNING):
        counts = await client.store.set_item("acme", job.job_id, _item("NVDA", state))
        assert counts.counted is False
    status = await job.status()
    assert (status.state, status.items_done, status.items_failed) == (JobState.FAILED, 0, 0)
    assert await job.items() == []
    assert await _event_names(client, job.job_id) == events
    assert events[-1] == "job_failed"


async def test_items_written_before_the_final_status_are_kept(client: AcquireClient) -> None:
    job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
    await client.store.update_status("acme", job.job_id, {"state": JobState.RUNNING, "items_total": 1})
    assert (await client.store.set_item("acme", job.job_id, _item("NVDA", ItemState.COMPLETED))).counted
    await client.store.update_status(
        "acme", job.job_id, {"state": JobState.COMPLETED}, event=EventType.JOB_COMPLETED
    )
    again = await client.store.set_item("acme", job.job_id, _item("NVDA", ItemState.FAILED))
    assert (again.counted, again.done, again.failed) == (False, 1, 0)
    assert [i.state for i in await job.items()] == [ItemState.COMPLETED]


async def test_an_item_job_of_a_final_job_does_not_run(client: AcquireClient, settings: Settings) -> None:
    job = await fail_with_items_queued(client, ["NVDA", "TSLA"])
    events = await _event_names(client, job.job_id)
    await drain(settings, [RECORDING_SPEC])
    assert FETCHED == []
    after = await job.status()
    assert (after.state, after.items_done, after.items_failed) == (JobState.FAILED, 0, 0)
    assert await _event_names(client, job.job_id) == events
    assert await post_final_writes(client, job) == 0
