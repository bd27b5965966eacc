from __future__ import annotations

import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.models import ItemState, JobState, XbrlFactsRequest
from acquire.settings import Settings
from acquire.testing.replay import ReplayServer
from tests.support.jobs import run_real_worker
from tests.support.results import assert_round_trips


async def test_xbrl_job_known_values_and_not_reported(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer
) -> None:
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit(
            "acme",
            XbrlFactsRequest(
                companies=["AAPL", "NVDA", "TSLA"], metrics=["revenue", "net_income"], years=[2024, 2025]
            ),
        )
        await run_real_worker(settings)
        status = await job.status()
        # Tesla's companyfacts are not in the recordings: that company is "not found", the rest complete.
        assert status.state == JobState.PARTIALLY_FAILED
        items = {i.key: i for i in await job.items()}
        assert items["TSLA"].state == ItemState.NOT_FOUND
        apple = items["AAPL"].data["metrics"]
        fy2024 = [v for v in apple["revenue"]["values"] if v["fiscal_year"] == 2024]
        assert fy2024[0]["value"] == 391_035_000_000 and fy2024[0]["form"] == "10-K"
        assert [v["value"] for v in apple["net_income"]["values"] if v["fiscal_year"] == 2024] == [
            93_736_000_000
        ]
        nvda = items["NVDA"].data["metrics"]
        assert [v["value"] for v in nvda["revenue"]["values"] if v["fiscal_year"] == 2025] == [
            130_497_000_000
        ]
        result = await job.result()
        assert [c.company for c in result.companies] == ["AAPL", "NVDA", "TSLA"]
        assert result.companies[0].metrics["revenue"].metric == "revenue"
        assert result.companies[2].state == ItemState.NOT_FOUND and not result.companies[2].metrics
        await assert_round_trips(client, result)
        # one companyfacts download per company, not one per concept
        facts_requests = upstream.requests_to("data.sec.gov", "/api/xbrl/companyfacts")
        assert len(facts_requests) == 3
