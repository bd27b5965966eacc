"""Hardening scenarios shared by the tests and ``bench/reliability.py``: malformed arq job
hashes in the queue of real worker processes, and leftover item jobs of finished jobs."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from arq.jobs import Job, JobResult

from acquire import serialization
from acquire.client import AcquireClient, JobHandle
from acquire.models import EventType, JobState, SecFilingsRequest
from acquire.settings import Settings
from acquire.testing.reliability.fleet import Fleet, await_all, fleet_env

__all__ = [
    "POISON",
    "arq_result",
    "fail_with_items_queued",
    "post_final_writes",
    "run_poison",
    "run_post_final",
]

_ENVELOPE = {"job_id": "A" * 22, "org": "acme", "kind": "sec_filings", "request": {}}
_GOOD: dict[str, Any] = {"t": 1, "f": "sec_filings", "a": [_ENVELOPE], "k": {}, "et": 1_700_000_000_000}

#: Job hashes arq itself chokes on (each as the raw JSON text written to ``arq:job:<id>``).
POISON: dict[str, str] = {
    "et-text": json.dumps({**_GOOD, "et": "yesterday", "a": [{}]}),
    "et-huge": json.dumps({**_GOOD, "et": 10**15}),
    "et-float": '{"t":1,"f":"sec_filings","a":[{}],"k":{},"et":1e300}',
    "et-nan": '{"t":1,"f":"sec_filings","a":[{}],"k":{},"et":NaN}',
    "et-negative": json.dumps({**_GOOD, "et": -(10**18)}),
    "t-text": json.dumps({**_GOOD, "t": "1"}),
    "t-list": json.dumps({**_GOOD, "t": [1]}),
    "f-list": json.dumps({**_GOOD, "f": ["sec_filings"]}),
    "f-number": json.dumps({**_GOOD, "f": 5}),
    "a-number": json.dumps({**_GOOD, "a": 5}),
    "k-list": json.dumps({**_GOOD, "k": []}),
    "extra-key": json.dumps({**_GOOD, "x": 1}),
}

#: These scenarios need no short time limits (nothing is killed): a loaded machine must not
#: fail the good jobs that show the queue flowing.
_CALM = {"ACQUIRE_JOB_TIMEOUT": "120", "ACQUIRE_RECONCILE_AFTER": "300"}
_LIGHT = SecFilingsRequest(companies=["NVDA"], years=[2024], download=False)


async def arq_result(client: AcquireClient, job_id: str, timeout: float = 30) -> JobResult:  # noqa: ASYNC109
    """arq's stored result of ``job_id``, once a worker process has written it."""
    job = Job(job_id, client.redis, _deserializer=serialization.deserialize)
    async with asyncio.timeout(timeout):
        while (info := await job.result_info()) is None:  # noqa: ASYNC110 (another process writes it)
            await asyncio.sleep(0.05)
    return info


async def run_poison(settings: Settings, log_dir: Path, *, rounds: int = 5, jobs: int = 20) -> dict[str, Any]:
    """``rounds`` copies of every :data:`POISON` hash ahead of ``jobs`` good ones, on 2 workers.

    ``worker_exits`` must be 0 and every good job final: the queue keeps flowing.
    """
    entries = {f"{name}.{n}": text for n in range(rounds) for name, text in POISON.items()}
    async with await AcquireClient.connect(settings) as client:
        for job_id, text in entries.items():
            await client.redis.set(f"arq:job:{job_id}", text)
            await client.redis.zadd(settings.acquire_queue, {job_id: 1})  # ahead of every real job
        with Fleet(fleet_env(settings, **_CALM), log_dir) as fleet:
            fleet.start(2)
            handles = [await client.submit("acme", _LIGHT) for _ in range(jobs)]
            statuses = await await_all(handles, timeout=180)
            results = [await arq_result(client, job_id) for job_id in entries]
            exits = sum(proc.poll() is not None for proc in fleet.procs)
        queue = settings.acquire_queue
        left = sum([await client.redis.zscore(queue, job_id) is not None for job_id in entries])
    return {
        "poison_entries": len(entries),
        "poison_failed_by_arq": sum(r.success is False for r in results),
        "poison_left_in_queue": left,
        "jobs": jobs,
        "jobs_completed": sum(s.state == JobState.COMPLETED for s in statuses),
        "states": dict(Counter(s.state.value for s in statuses)),
        "worker_exits": exits,
    }


async def fail_with_items_queued(client: AcquireClient, companies: list[str]) -> JobHandle[Any]:
    """A spread job that failed while the item jobs it enqueued (one per company) still wait."""
    handle = await client.submit("acme", SecFilingsRequest(companies=companies, years=[2024], download=False))
    await client.redis.delete(f"arq:job:{handle.job_id}")  # the job's own run is not the point
    await client.redis.zrem(client.settings.acquire_queue, handle.job_id)
    store, status = client.store, await handle.status()
    await store.update_status(
        "acme", handle.job_id, {"state": JobState.RUNNING, "items_total": len(companies)}
    )
    failed = {"state": JobState.FAILED, "error_type": "PermanentError", "error": "upstream refused"}
    await store.update_status("acme", handle.job_id, failed, event=EventType.JOB_FAILED)
    for index, company in enumerate(companies):
        envelope = {"job_id": handle.job_id, "org": "acme", "kind": "sec_filings", "request": status.request,
                    "item": company, "item_payload": {"company": company}}  # fmt: skip
        await client.redis.enqueue_job("sec_filings_item", envelope, _job_id=f"{handle.job_id}.{index}")
    return handle


async def post_final_writes(client: AcquireClient, handle: JobHandle[Any]) -> int:
    """Item records, item counts and events a job gained after its final event."""
    status, items = await handle.status(), await handle.items()
    names = [e.event for e in await client.events.read("acme", handle.job_id)]
    after_final = len(names) - 1 - max(i for i, name in enumerate(names) if name.terminal)
    return len(items) + status.items_done + status.items_failed + after_final


async def run_post_final(settings: Settings, log_dir: Path, *, jobs: int = 20) -> dict[str, Any]:
    """``jobs`` failed jobs with 2 item jobs each still queued, run by 2 workers with good jobs.

    ``post_final_writes`` (items, counts and events added to a final job) must be 0.
    """
    async with await AcquireClient.connect(settings) as client:
        failed = [await fail_with_items_queued(client, ["NVDA", "TSLA"]) for _ in range(jobs)]
        with Fleet(fleet_env(settings, **_CALM), log_dir) as fleet:
            fleet.start(2)
            good = await await_all([await client.submit("acme", _LIGHT) for _ in range(jobs)], timeout=180)
            item_results = [await arq_result(client, f"{h.job_id}.{n}") for h in failed for n in range(2)]
        writes = sum([await post_final_writes(client, handle) for handle in failed])
    return {
        "final_jobs": jobs,
        "leftover_item_jobs": len(item_results),
        "item_jobs_skipped": sum(r.result == {"state": "skipped"} for r in item_results),
        "post_final_writes": writes,
        "good_jobs_completed": sum(s.state == JobState.COMPLETED for s in good),
    }
