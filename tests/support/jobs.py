"""Test job kinds and an in-process arq worker, for exercising the runtime on real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from arq.worker import Worker
from redis.asyncio.client import Monitor

from acquire.errors import NotFoundError, PermanentError, TransientError
from acquire.models import ItemState, ItemStatus, JobKind
from acquire.results import SecCompanyResult, SecFilingsResult
from acquire.runtime.run import JobContext, JobSpec, Outcome, Spread
from acquire.settings import Settings
from acquire.worker import create_worker

#: The command :func:`echo_marker` sends first: where a job's own code starts in MONITOR.
MARKER = "job-code-starts"


async def echo_marker(job: JobContext, request: Any) -> Outcome[dict[str, Any]]:
    """A job whose first Redis command is ``ECHO`` :data:`MARKER`."""
    await job.services.redis.echo(MARKER)
    return Outcome(result={"ok": True})


async def commands_until_marker(monitor: Monitor) -> list[str]:
    """The commands ``monitor`` sees before :func:`echo_marker`'s (the marker not included)."""
    seen: list[str] = []
    while MARKER not in (command := (await monitor.next_command())["command"]):
        seen.append(command)
    return seen


#: What the test jobs do is steered by the first company of the request.
FLAKY_ATTEMPTS: dict[str, int] = {}


async def _run(job: JobContext, request: Any) -> Outcome[SecFilingsResult] | Spread:
    mode = request.companies[0]
    if mode == "HANG":
        await asyncio.Event().wait()  # never set: only the soft time limit ends this
    if mode == "BOOM":
        raise PermanentError("upstream refused the request")
    if mode == "CRASH":
        raise KeyError("missing field 'cik'")
    if mode == "FLAKY":
        FLAKY_ATTEMPTS[job.job_id] = job.attempt
        if job.attempt < 3:
            raise TransientError("HTTP 503 from upstream")
    if mode == "DEAD":
        raise TransientError("HTTP 503 forever")
    if mode == "SPREAD":
        return await job.spread([(c, {"company": c}) for c in request.companies[1:]])
    await job.step("fetch", 40)
    for company in request.companies:
        if company == "MISS":
            await job.item(company, ItemState.NOT_FOUND, error=NotFoundError("no such company"))
        else:
            await job.item(company, ItemState.COMPLETED, data={"n": len(company)})
    await job.publish(job.settings.sec_topic, {"companies": request.companies})
    await job.step("save", 90)
    return Outcome(result=sec_result(*request.companies), summary={"count": len(request.companies)})


def sec_result(*companies: str) -> SecFilingsResult:
    """An ``sec_filings`` result listing ``companies`` (``MISS`` not found, the rest completed)."""
    states = {"MISS": ItemState.NOT_FOUND}
    return SecFilingsResult(
        companies=[SecCompanyResult(company=c, state=states.get(c, ItemState.COMPLETED)) for c in companies]
    )


def _assemble(request: Any, items: list[ItemStatus]) -> Outcome[SecFilingsResult]:
    companies = [
        SecCompanyResult(company=i.key, state=i.state, error=i.error, error_type=i.error_type) for i in items
    ]
    return Outcome(result=SecFilingsResult(companies=companies), summary={"items": len(items)})


async def _run_item(job: JobContext, request: Any, key: str, payload: dict[str, Any]) -> dict[str, Any]:
    if key == "MISS":
        raise NotFoundError(f"{key} is not on EDGAR")
    if key == "BAD":
        raise ValueError("unparseable submissions JSON")
    if key == "HANG":
        await asyncio.Event().wait()  # never set: only the soft time limit ends this item
    return {"company": payload["company"], "worker_item": True}


TEST_SPEC = JobSpec(kind=JobKind.SEC_FILINGS, run=_run, run_item=_run_item, assemble=_assemble)


def make_worker(
    settings: Settings,
    specs: Sequence[JobSpec[Any, Any]] = (TEST_SPEC,),
    extra_functions: Sequence[Any] = (),
    **overrides: Any,
) -> Worker:
    return create_worker(
        settings, specs=specs, resources=[], extra_functions=list(extra_functions), burst=True, **overrides
    )


async def drain(settings: Settings, specs: Sequence[JobSpec[Any, Any]] = (TEST_SPEC,)) -> Worker:
    """Run a burst worker until the queue is empty (deferred retries included)."""
    return await drain_with(settings, [], specs)


async def drain_with(
    settings: Settings, extra: Sequence[Any], specs: Sequence[JobSpec[Any, Any]] = (TEST_SPEC,)
) -> Worker:
    """:func:`drain` with extra arq functions (e.g. the webhook job).

    arq's burst mode checks the queue, then waits for the running jobs and stops: a job that one
    of them enqueued at its end (a completion webhook) would be left behind, so another burst
    runs while the queue holds jobs. Returns the first burst's worker (its counters).
    """
    first: Worker | None = None
    while True:
        worker = make_worker(settings, specs, extra_functions=list(extra))
        first = first or worker
        try:
            await worker.async_run()
            left = await worker.pool.zcard(worker.queue_name)
        finally:
            await worker.close()
        if not left:
            return first


async def run_real_worker(settings: Settings, *, analysis: bool = False) -> None:
    """A burst worker with acquire's built-in job kinds and resources (real HTTP clients)."""
    worker = create_worker(settings, analysis=analysis, extra_functions=[], burst=True)
    try:
        await worker.async_run()
    finally:
        await worker.close()
