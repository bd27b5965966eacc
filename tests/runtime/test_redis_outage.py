"""A Redis outage longer than a command's retries does not stop the worker (arq_patches).

Each test runs its own Redis and stops it for longer than the worker's retry budget
(``ACQUIRE_REDIS_RETRIES=1``, a fraction of a second), so arq's own commands and the job's
code really see ``ConnectionError``. Redis comes back once the worker has logged where it met
the outage: an event, not a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from arq.worker import Worker

from acquire.client import AcquireClient
from acquire.models import JobKind, JobState, SecFilingsRequest
from acquire.runtime import arq_patches
from acquire.runtime.run import JobContext, JobSpec, Outcome
from acquire.settings import Settings
from acquire.testing.embedded import EmbeddedRedis
from acquire.worker import create_worker
from tests.support.jobs import make_worker

ATTEMPTS: dict[str, list[int]] = {}


class _Outage:
    """Our own Redis, and an event set when the worker logs that it waits for Redis."""

    def __init__(self, path: Path) -> None:
        self.server = EmbeddedRedis(path, appendonly=True).start()
        self.logged = asyncio.Event()
        self.records: list[str] = []
        self._loop = asyncio.get_running_loop()

    def handler(self) -> logging.Handler:
        outage = self

        class _Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                outage.records.append(record.getMessage())
                outage._loop.call_soon_threadsafe(outage.logged.set)

        return _Handler(logging.WARNING)

    async def back_once_logged(self, text: str) -> None:
        """Start Redis again once the worker has logged ``text`` (it met the outage there)."""
        async with asyncio.timeout(60):
            while not any(text in r for r in self.records):
                self.logged.clear()
                await self.logged.wait()
        self.server.start()


@pytest.fixture
async def outage(tmp_path: Path) -> AsyncIterator[_Outage]:
    found = _Outage(tmp_path / "redis")
    handler = found.handler()
    logger = logging.getLogger("acquire.jobs")
    logger.addHandler(handler)
    try:
        yield found
    finally:
        logger.removeHandler(handler)
        found.server.stop()


@pytest.fixture
def short_budget(settings: Settings, outage: _Outage) -> Settings:
    return settings.model_copy(update={"redis_url": outage.server.url, "acquire_redis_retries": 1})


def _request(mode: str) -> SecFilingsRequest:
    return SecFilingsRequest(companies=[mode], years=[2024])


def _spec(server: EmbeddedRedis) -> JobSpec[Any, dict[str, Any]]:
    async def run(job: JobContext, request: Any) -> Outcome[dict[str, Any]]:
        mode = request.companies[0]
        ATTEMPTS.setdefault(job.job_id, []).append(job.attempt)
        if job.attempt == 1 and mode == "MID":
            server.stop()  # the job's next write meets the outage
        await job.step("fetch", 50)
        if job.attempt == 1 and mode == "END":
            server.stop()  # the final write (one script with arq's finish) meets it
        return Outcome(result={"mode": mode}, summary={"mode": mode})

    return JobSpec(kind=JobKind.SEC_FILINGS, run=run)


@pytest.fixture
def worker_in_loop(short_budget: Settings, outage: _Outage) -> Iterator[Worker]:
    yield create_worker(short_budget, specs=[_spec(outage.server)], resources=[], extra_functions=[])


async def _stop(worker: Worker, main: asyncio.Task[None]) -> None:
    main.cancel()
    with pytest.raises(asyncio.CancelledError):
        await main
    await worker.close()


@pytest.mark.parametrize("mode", ["MID", "END"])
async def test_worker_rides_out_an_outage_longer_than_the_retry_budget(
    short_budget: Settings, outage: _Outage, worker_in_loop: Worker, mode: str
) -> None:
    # Before the patches the first command past the budget raised ConnectionError out of arq's
    # poll loop (directly, or through the job task's result) and the worker process ended.
    async with await AcquireClient.connect(short_budget) as client:
        job = await client.submit("acme", _request(mode))
        main = asyncio.create_task(worker_in_loop.main())
        worker_in_loop.main_task = main  # as arq's run() does: its stop then finds the job tasks
        try:
            met = f"job {job.job_id} lost Redis" if mode == "MID" else f"finishing job {job.job_id}"
            await outage.back_once_logged(met)
            status = await job.wait(timeout=60)
            assert not main.done()  # the poll loop is still running
            assert status.state == JobState.COMPLETED and status.summary == {"mode": mode}
            # MID: the attempt that met the outage is run again; END: its finish is
            # written once Redis is back, the code does not run twice.
            assert ATTEMPTS[job.job_id] == ([1, 2] if mode == "MID" else [1])
            later = await client.submit("acme", _request("AFTER"))
            assert (await later.wait(timeout=60)).state == JobState.COMPLETED
            if mode == "END":  # its finish waited for Redis; MID's retry may find Redis back already
                assert any(r.startswith("Redis is back after") for r in outage.records)
            # Slots kept: every slot taken belongs to a job task still running (none leaked).
            running = sum(not task.done() for task in worker_in_loop.tasks.values())
            assert worker_in_loop.job_counter == running
        finally:
            await _stop(worker_in_loop, main)


@contextlib.asynccontextmanager
async def _started_worker(
    settings: Settings, outage: _Outage, client: AcquireClient
) -> AsyncIterator[Worker]:
    """A worker with acquire's startup run, whose poll loop the test drives itself."""
    worker = make_worker(settings, [_spec(outage.server)], redis_pool=client.redis)
    worker.ctx["redis"] = client.redis
    assert worker.on_startup is not None and worker.on_shutdown is not None
    await worker.on_startup(worker.ctx)
    try:
        yield worker
    finally:
        await worker.on_shutdown(worker.ctx)
        await worker.close()


async def test_a_job_whose_start_pipeline_fails_starts_once_redis_is_back(
    short_budget: Settings, outage: _Outage
) -> None:
    # The defect seen under load: arq's run_job pipeline (read the job, count the try) raised
    # ConnectionError, which t.result() in the poll loop re-raised. An acquire worker runs that
    # pipeline inside its pickup script (see the next test); arq's own start path, as any other
    # worker of the process takes it, keeps the fix.
    async with await AcquireClient.connect(short_budget) as client:
        job = await client.submit("acme", _request("PLAIN"))
        async with _started_worker(short_budget, outage, client) as worker:
            del worker.ctx[arq_patches.WAKE_CTX]
            await worker.start_jobs([job.job_id.encode()])
            task = worker.tasks[job.job_id]
            outage.server.stop()  # before the task's first step: its start pipeline meets it
            await outage.back_once_logged(f"starting job {job.job_id}")
            async with asyncio.timeout(60):
                await task
            assert task.exception() is None
            assert (await job.status()).state == JobState.COMPLETED


async def test_a_job_whose_pickup_meets_an_outage_starts_once_redis_is_back(
    short_budget: Settings, outage: _Outage
) -> None:
    async with await AcquireClient.connect(short_budget) as client:
        job = await client.submit("acme", _request("PLAIN"))
        async with _started_worker(short_budget, outage, client) as worker:
            outage.server.stop()
            await worker.start_jobs([job.job_id.encode()])  # the pickup script meets the outage
            assert any("while picking up a job" in r for r in outage.records)
            assert worker.job_counter == 0 and not worker.tasks  # its slot is back
            outage.server.start()
            await worker.start_jobs([job.job_id.encode()])  # as the next poll does
            async with asyncio.timeout(60):
                await worker.tasks[job.job_id]
            assert (await job.status()).state == JobState.COMPLETED
            assert ATTEMPTS[job.job_id] == [1]
