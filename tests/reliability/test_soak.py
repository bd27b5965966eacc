"""Scenario 7: a soak of small jobs through 2 workers, every job streamed over SSE.

CI runs 2,000 jobs to 100 SSE clients; ``bench/reliability.py`` runs the full 10,000. Memory
is a leak check, not a speed threshold: after a warm-up pass, worker and web process RSS
must not grow by more than 50 MB over the measured pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from acquire.settings import Settings
from acquire.testing.reliability.soak import run_soak
from acquire.testing.replay import ReplayServer

_LEAK_BOUND_MB = 50


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_soak_loses_nothing_and_memory_stays_flat(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer, tmp_path: Path
) -> None:
    report = await run_soak(settings, tmp_path, jobs=2000, clients=100)
    assert report["lost"] == 0 and report["states"] == {"completed": 2000}, report
    assert report["bad_terminal"] == 0, report  # one job_completed per job, never two
    assert report["sse_mismatched_jobs"] == 0, report["problems"]  # every event once, in order
    assert report["processes_alive"] == 3, report
    assert all(growth < _LEAK_BOUND_MB for growth in report["worker_growth_mb"]), report
    assert report["web_growth_mb"] < _LEAK_BOUND_MB, report
