"""Scenario 3: an unfriendly upstream. ~20% of answers are 5xx, resets or truncated bodies,
SEC sends its rate-limit page, and SEC's fair-access throttle (10 req/s) is enforced."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.models import JobState, SecFilingsRequest
from acquire.settings import Settings
from acquire.testing.reliability.scenarios import run_chaos
from acquire.testing.replay import Fault, ReplayServer
from tests.conftest import FIXTURES
from tests.support.jobs import run_real_worker


@pytest.fixture(scope="module")
def throttled() -> Iterator[ReplayServer]:
    """An EDGAR stand-in that blocks (rate-limit page, 2 s) any client going over 10 req/s."""
    # Arrival times are stamped by this server's thread inside the busy test process; on 2 cores
    # that stamp has lagged the socket by more than the limiter's 30 ms margin, bunching requests
    # sent further apart. A 0.9 s window absorbs that jitter; bench/sec_rate.py, whose process
    # does nothing but serve, measures the fleet against SEC's full 1 s window.
    server = ReplayServer(FIXTURES, sec_max_rps=10, sec_block_seconds=2, sec_window=0.9).start()
    yield server
    server.stop()


def _pointed_at(settings: Settings, server: ReplayServer) -> Settings:
    return settings.model_copy(update=server.settings_overrides())


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_every_job_ends_right_under_upstream_chaos(
    settings: Settings, redis: aioredis.Redis, throttled: ReplayServer, tmp_path: Path
) -> None:
    report = await run_chaos(_pointed_at(settings, throttled), throttled, tmp_path, jobs=40)
    assert report["final"] == report["jobs"] == 40, report
    assert report["faulted_answers"] > 0.1 * report["requests"], report  # the chaos really happened
    assert report["wrong_outcomes"] == 0, report["problems"]  # transient retried, permanent per item
    assert report["duplicates"] == 0, report["problems"]
    # One budget for the whole fleet: per-process limits would send 3x SEC's 10 req/s and have
    # two thirds of the requests blocked. The stand-in stamps arrivals in a thread of this test process, so
    # on a loaded 2-core machine requests granted 100 ms apart can arrive bunched and trip its
    # 10 req/s window now and then; bench/sec_rate.py, in a process that does nothing else,
    # measures the strict figure (no 403 at all, at most 10 requests in any second).
    assert report["throttle_blocks"] <= 0.1 * report["sec_requests"], report


async def test_invalid_json_answer_is_retried_not_cached(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer
) -> None:
    upstream.inject(
        r"/data\.sec\.gov/submissions/CIK0001045810\.json",
        Fault(
            status=200, body=b'{"cik": "1045810", "filings": ', headers={"content-type": "application/json"}
        ),
    )
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
        await run_real_worker(settings)
        status = await job.wait(timeout=60)
        items = await job.items()
    assert status.state == JobState.COMPLETED, [(i.key, i.error) for i in items]
