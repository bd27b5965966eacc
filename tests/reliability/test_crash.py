"""Scenario 1: a worker process is SIGKILLed mid-run; nothing is lost or done twice."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis
from arq.worker import Worker

from acquire.settings import Settings
from acquire.testing.reliability.scenarios import run_crash
from acquire.testing.replay import ReplayServer
from acquire.worker import create_worker


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_sigkilled_worker_loses_and_duplicates_nothing(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer, tmp_path: Path
) -> None:
    report = await run_crash(settings, tmp_path, jobs=120, workers=3)  # bench/reliability.py: 200
    assert report["killed_exit_code"] == -9
    assert report["in_flight_at_kill"] > 0
    assert report["final"] == report["jobs"] == 120, report
    assert report["states"] == {"completed": 120}, report
    assert report["duplicates"] == 0, report["problems"]
    assert report["summary_mismatches"] == 0, report["problems"]  # same filings and facts for all
    assert report["redelivered"] > 0, report  # the killed worker's jobs ran again on another worker


def _worker(settings: Settings) -> Worker:
    return create_worker(settings)


async def test_killed_workers_jobs_are_released_after_the_job_timeout(settings: Settings) -> None:
    # With risk drift on its own queue, fetch workers do not wait out its 600 s limit.
    quick = settings.model_copy(
        update={"acquire_job_timeout": 5, "acquire_analysis_queue": "acquire:queue:analysis"}
    )
    worker = _worker(quick)
    assert worker.in_progress_timeout_s == quick.acquire_job_timeout + 10
