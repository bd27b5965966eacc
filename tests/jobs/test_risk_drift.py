from __future__ import annotations

import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.events import StepComplete
from acquire.models import JobState, RiskDriftRequest
from acquire.settings import Settings
from acquire.testing.replay import ReplayServer
from tests.support.jobs import run_real_worker
from tests.support.results import assert_round_trips


async def test_nvidia_fiscal_2025_vs_2024(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer
) -> None:
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit("acme", RiskDriftRequest(ticker="NVDA", years=[2025, 2024]))
        await run_real_worker(settings)
        status = await job.status()
        assert status.state == JobState.COMPLETED, status.error
        assert status.summary["factors"] == {"previous": 24, "current": 23}
        result = await job.result()
        assert result.ticker == "NVDA" and (result.years.current, result.years.previous) == (2025, 2024)
        assert result.filings.current.accession == "0001045810-25-000023"
        assert result.filings.previous.accession == "0001045810-24-000029"
        assert result.heatmap and result.executive_summary
        assert sum(result.counts.values()) == len(result.changes)
        await assert_round_trips(client, result)
        # Both years split cleanly: the segmentation record says so in the result and summary.
        assert status.summary["segmentation_warnings"] == {"previous": [], "current": []}
        for side in ("previous", "current"):
            record = getattr(result, side).segmentation
            assert record.method == "html-styles" and record.warnings == []
            assert record.coverage >= 0.97
        events = await client.events.read("acme", job.job_id)
        step_events = [e for e in events if isinstance(e, StepComplete)]
        steps = [e.data.step for e in step_events]
        assert steps == ["fetch", "extract", "segment", "score", "match", "summarise", "save"]
        progress = [e.data.progress for e in step_events if e.data.progress is not None]
        assert len(progress) == len(step_events) and progress == sorted(progress)


async def test_missing_fiscal_year_fails_with_a_clear_reason(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer
) -> None:
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit("acme", RiskDriftRequest(ticker="NVDA", years=[2027, 2026]))
        await run_real_worker(settings)
        status = await job.status()
        assert status.state == JobState.FAILED
        assert status.error_type == "NotFoundError"
        assert "no 10-K for fiscal year" in (status.error or "")


async def test_risk_drift_runs_on_the_analysis_queue_when_split(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer
) -> None:
    split = settings.model_copy(update={"acquire_analysis_queue": "acquire:queue:analysis"})
    async with await AcquireClient.connect(split) as client:
        job = await client.submit("acme", RiskDriftRequest(ticker="NVDA", years=[2025, 2024]))
        assert await redis.zcard("acquire:queue:analysis") == 1
        assert await redis.zcard("acquire:queue:acquisition") == 0
        await run_real_worker(split)  # the acquisition worker leaves it alone
        assert (await job.status()).state == JobState.QUEUED
        await run_real_worker(split, analysis=True)
        assert (await job.status()).state == JobState.COMPLETED
