"""Leftover item jobs of failed jobs, run by real worker processes, change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from acquire.settings import Settings
from acquire.testing.reliability.hardening import run_post_final
from acquire.testing.replay import ReplayServer


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_item_jobs_of_final_jobs_are_skipped_by_worker_processes(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer, tmp_path: Path
) -> None:
    report = await run_post_final(settings, tmp_path / "logs", jobs=3)
    assert report == {
        "final_jobs": 3, "leftover_item_jobs": 6, "item_jobs_skipped": 6, "post_final_writes": 0,
        "good_jobs_completed": 3,
    }  # fmt: skip
    assert not upstream.requests_to("data.sec.gov", "/submissions/CIK0001318605")  # TSLA: only leftovers
