from __future__ import annotations

import json

import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.models import ItemState, JobState, YahooRequest
from acquire.results import YahooResult
from acquire.settings import Settings
from acquire.testing.replay import ReplayServer
from tests.support.jobs import run_real_worker
from tests.support.results import assert_round_trips


async def test_yahoo_job_profile_metrics_history_and_isolated_errors(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer
) -> None:
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit(
            "acme",
            YahooRequest(companies=["AAPL", "ADH"], parts=["profile", "metrics"]),
        )
        history = await client.submit(
            "acme",
            {
                "kind": "yahoo",
                "companies": ["MSFT"],
                "parts": ["history"],
                "start": "2021-02-01T00:00:00Z",
                "end": "2022-01-31T00:00:00Z",
            },
        )
        await run_real_worker(settings)
        status = await job.status()
        assert status.state == JobState.PARTIALLY_FAILED
        items = {i.key: i for i in await job.items()}
        assert items["ADH"].state == ItemState.NOT_FOUND
        assert "No fundamentals data found" in (items["ADH"].error or "")
        apple = items["AAPL"].data
        assert apple["profile"]["name"] and apple["profile"]["sector"] == "Technology"
        assert apple["metrics"]["market_cap"] > 1e12
        done = await history.status()
        assert done.state == JobState.COMPLETED
        result = await history.result()
        assert isinstance(result, YahooResult)  # a mapping request's handle holds any kind's result
        msft = result.companies[0].history
        assert msft is not None and len(msft.dividends) == 4 and msft.bars
        await assert_round_trips(client, await history.result())
        quotes = await job.result()
        aapl = quotes.companies[0]
        assert aapl.profile is not None and aapl.profile.sector == "Technology" and aapl.history is None
        assert quotes.companies[1].state == ItemState.NOT_FOUND
        await assert_round_trips(client, quotes)
        topic = await redis.xrange(settings.yahoo_topic)
        assert {json.loads(e[1][b"data"])["company"] for e in topic} == {"AAPL", "MSFT"}
