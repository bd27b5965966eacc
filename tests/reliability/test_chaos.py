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
    # A budget of 9 req/s against the stand-in's 10: its arrival times are stamped in a thread of
    # this busy test process, and on a loaded 2-core machine that lag has bunched requests sent
    # at exactly 10/s into a block. bench/sec_rate.py measures the fleet at SEC's full 10 req/s.
    report = await run_chaos(_pointed_at(settings, throttled), throttled, tmp_path, jobs=40, sec_max_rps=9)
    assert report["final"] == report["jobs"] == 40, report
    assert report["faulted_answers"] > 0.1 * report["requests"], report  # the chaos really happened
    assert report["wrong_outcomes"] == 0, report["problems"]  # transient retried, permanent per item
    assert report["duplicates"] == 0, report["problems"]
    # The stand-in's SEC throttle (10 req/s sliding window, as SEC's) never blocked the fleet.
    # The raw log's densest second (report["max_rps_window"]) is not asserted: its times are
    # taken after each answer is built, in a thread of this busy process, and on 2 cores it
    # has shown 11 requests in 0.976 s while the server's own arrival-time window saw <= 10.
    assert report["throttle_blocks"] == 0, report


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
