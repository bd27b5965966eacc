"""Storing a result model through the real store and reading it back through the client."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from acquire.client import AcquireClient
from acquire.ids import new_job_id
from acquire.models import EventType, JobKind, JobState, JobStatus
from acquire.results import JobResult
from acquire.store import keys
from acquire.store.transition import Transition

ORG = "roundtrip"


async def store_final(
    client: AcquireClient, kind: JobKind, result: Any, *, state: JobState = JobState.COMPLETED
) -> str:
    """A new job of ``kind`` made final with ``result`` (a model, a mapping or None) by the store."""
    job_id = new_job_id()
    now = datetime.now(UTC)
    await client.store.create(
        JobStatus(job_id=job_id, org=ORG, kind=kind, state=JobState.QUEUED, created_at=now)
    )
    event = EventType.JOB_FAILED if state == JobState.FAILED else EventType.JOB_COMPLETED
    fields: dict[str, Any] = {"state": state, "finished_at": now}
    if state == JobState.FAILED:
        fields.update(error_type="PermanentError", error="upstream refused")
    final = Transition(fields, event, {"state": state.value})
    assert await client.store.apply_transitions(ORG, job_id, [final], result=result) == 1
    return job_id


async def assert_round_trips(client: AcquireClient, result: JobResult) -> None:
    """model -> Redis -> model: stored as the model's JSON, read back equal and of the same type."""
    job_id = await store_final(client, result.kind, result)
    assert await client.redis.get(keys.job_result(ORG, job_id)) == result.model_dump_json().encode()
    back = await client.job(ORG, job_id).result()
    assert type(back) is type(result)
    assert back == result
