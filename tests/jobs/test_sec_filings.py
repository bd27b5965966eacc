from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.models import ItemState, JobState, SecFilingsRequest
from acquire.settings import Settings
from acquire.testing.replay import Fault, ReplayServer
from tests.support.jobs import run_real_worker
from tests.support.results import assert_round_trips

FIXTURES = Path(__file__).parent.parent / "fixtures"
ARCHIVES = FIXTURES / "sec/www.sec.gov/Archives/edgar/data"


def sha(path: str) -> str:
    return hashlib.sha256(gzip.decompress((ARCHIVES / path).read_bytes())).hexdigest()


async def test_nvidia_and_tesla_10ks_end_to_end(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer
) -> None:
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit(
            "acme", SecFilingsRequest(companies=["NVDA", "tsla", "9999999999"], years=[2023, 2024, 2025])
        )
        await run_real_worker(settings)
        status = await job.status()
        assert status.state == JobState.PARTIALLY_FAILED
        # 6 filings: TSLA's FY2025 10-K is listed but not in the recordings (SEC answers 403
        # AccessDenied), so it fails on its own while the rest complete.
        assert status.summary["filings"] == 6 and status.summary["filings_failed"] == 1
        assert status.summary["companies_completed"] == 2
        items = {i.key: i for i in await job.items()}
        assert items["9999999999"].state == ItemState.NOT_FOUND
        nvda = {f["fiscal_year"]: f for f in items["NVDA"].data["filings"]}
        assert sorted(nvda) == [2023, 2024, 2025]
        assert nvda[2025]["accession"] == "0001045810-25-000023"
        assert nvda[2025]["sha256"] == sha("1045810/000104581025000023/nvda-20250126.htm.gz")
        assert nvda[2024]["sha256"] == sha("1045810/000104581024000029/nvda-20240128.htm.gz")
        assert nvda[2025]["text_length"] > 100_000
        tsla = {f["fiscal_year"]: f for f in items["TSLA"].data["filings"]}
        assert sorted(tsla) == [2023, 2024, 2025]
        assert tsla[2025]["status"] == "failed" and tsla[2025]["error_type"] == "NotFoundError"
        assert tsla[2024]["sha256"] == sha("1318605/000162828025003063/tsla-20241231.htm.gz")
        # every filing went to the SEC topic with its org
        entries = await redis.xrange(settings.sec_topic)
        assert len(entries) == 6
        assert {e[1][b"org"] for e in entries} == {b"acme"}
        assert {json.loads(e[1][b"data"])["filing"]["accession"] for e in entries} >= {"0001045810-25-000023"}
        result = await job.result()
        assert [c.company for c in result.companies] == ["9999999999", "NVDA", "TSLA"]
        nvda_result = result.companies[1]
        assert nvda_result.cik == 1045810 and nvda_result.state == ItemState.COMPLETED
        assert [f.sha256 for f in nvda_result.filings] == [
            nvda[f.fiscal_year]["sha256"] for f in nvda_result.filings
        ]
        assert result.companies[0].state == ItemState.NOT_FOUND and result.companies[0].filings == []
        await assert_round_trips(client, result)
        archives = len(upstream.requests_to("www.sec.gov", "/Archives"))
        assert archives == 6

        # the documents again: they come from the cache, zero Archives requests
        again = await client.submit("acme", SecFilingsRequest(companies=["NVDA", "TSLA"], years=[2023, 2024]))
        await run_real_worker(settings)
        assert (await again.status()).state == JobState.COMPLETED
        assert len(upstream.requests_to("www.sec.gov", "/Archives")) == archives


NVDA_2024_DOC = r"/Archives/edgar/data/1045810/000104581024000029/nvda-20240128\.htm"


async def test_a_filing_that_fails_transiently_retries_its_company_not_records_a_failure(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer
) -> None:
    # three 500s exhaust the HTTP client's attempts for the document on the item's first try
    upstream.inject(NVDA_2024_DOC, Fault(status=500), Fault(status=500), Fault(status=500))
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2023, 2024]))
        await run_real_worker(settings)
        status = await job.status()
        items = await job.items()
    assert status.state == JobState.COMPLETED, [(i.key, i.error) for i in items]
    assert status.summary["filings"] == 2 and status.summary["filings_failed"] == 0
    assert len(upstream.requests_to("www.sec.gov", "/Archives/edgar/data/1045810/000104581024000029")) == 4
    # the retry published nothing twice
    entries = await redis.xrange(settings.sec_topic)
    assert sorted(json.loads(e[1][b"data"])["filing"]["fiscal_year"] for e in entries) == [2023, 2024]


async def test_on_the_last_attempt_a_transient_failure_is_recorded_on_its_filing(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer
) -> None:
    upstream.inject(NVDA_2024_DOC, Fault(status=500), Fault(status=500), Fault(status=500))
    once = settings.model_copy(update={"acquire_max_tries": 1})
    async with await AcquireClient.connect(once) as client:
        job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2023, 2024]))
        await run_real_worker(once)
        status = await job.status()
        (item,) = await job.items()
    assert status.state == JobState.COMPLETED
    assert status.summary["filings"] == 2 and status.summary["filings_failed"] == 1
    failed = [f for f in item.data["filings"] if f["status"] == "failed"]
    assert [(f["fiscal_year"], f["error_type"]) for f in failed] == [(2024, "TransientError")]
