"""Stored results load as their kind's model, old untyped ones too; a mismatch names the writer."""

from __future__ import annotations

import pytest

from acquire.client import AcquireClient
from acquire.errors import JobFailedError, ResultFormatError
from acquire.models import ItemState, JobKind, JobState
from acquire.results import SecFilingsResult, XbrlFactsResult
from acquire.settings import Settings
from tests.support.results import ORG, store_final

# What 0.1.0 stored for an sec_filings job: a dict of the same shape, no kind, no version.
UNTYPED_SEC = {
    "companies": [
        {
            "company": "NVDA",
            "state": "completed",
            "error": None,
            "cik": 1045810,
            "name": "NVIDIA CORP",
            "filings": [
                {
                    "cik": 1045810,
                    "company": "NVIDIA CORP",
                    "form": "10-K",
                    "accession": "0001045810-25-000023",
                    "filing_date": "2025-02-26",
                    "fiscal_year": 2025,
                    "primary_document": "nvda-20250126.htm",
                    "status": "completed",
                    "size": 2_370_000,
                    "sha256": "ab" * 32,
                    "text_length": 312_000,
                    "stored_in": "redis cache",
                    "source": "network",
                }
            ],
            "filings_found": 1,
            "filings_failed": 0,
        },
        {"company": "9999999999", "state": "not_found", "error": "9999999999 is not on EDGAR"},
    ]
}

# 0.1.0's xbrl_facts results left each metric's name out (it was the key).
UNTYPED_XBRL = {
    "companies": [
        {
            "company": "AAPL",
            "state": "completed",
            "error": None,
            "cik": 320193,
            "name": "Apple Inc.",
            "metrics": {
                "revenue": {"period": "annual", "status": "not_reported", "values": [], "missing": ["FY2024"]}
            },
            "metrics_reported": 0,
            "metrics_not_reported": 1,
        }
    ]
}


async def test_untyped_results_of_0_1_0_load_as_models(settings: Settings) -> None:
    async with await AcquireClient.connect(settings) as client:
        sec = await client.job(ORG, await store_final(client, JobKind.SEC_FILINGS, UNTYPED_SEC)).result()
        assert isinstance(sec, SecFilingsResult)
        assert (
            sec.companies[0].filings[0].sha256 == "ab" * 32
            and sec.companies[0].filings[0].status == "completed"
        )
        assert sec.companies[1].state == ItemState.NOT_FOUND and sec.companies[1].filings == []
        xbrl = await client.job(ORG, await store_final(client, JobKind.XBRL_FACTS, UNTYPED_XBRL)).result()
        assert isinstance(xbrl, XbrlFactsResult)
        assert xbrl.companies[0].metrics["revenue"].metric == "revenue"


async def test_a_result_that_does_not_load_names_the_version_that_wrote_it(settings: Settings) -> None:
    broken = {"companies": [{"company": "NVDA", "state": "completed", "filings": "not a list"}]}
    async with await AcquireClient.connect(settings) as client:
        old = client.job(ORG, await store_final(client, JobKind.SEC_FILINGS, broken))
        with pytest.raises(
            ResultFormatError, match=r"written by acquire 0\.1\.0 or earlier .* companies\.0\.filings"
        ):
            await old.result()
        newer = client.job(
            ORG, await store_final(client, JobKind.SEC_FILINGS, {**broken, "acquire_version": "9.1.0"})
        )
        with pytest.raises(
            ResultFormatError, match=r"written by acquire 9\.1\.0 and does not load as SecFilingsResult"
        ):
            await newer.result()
        # a field this version does not know is a mismatch too, not silently dropped
        extra = {"acquire_version": "9.2.0", "companies": [], "new_field": 1}
        with pytest.raises(ResultFormatError, match=r"acquire 9\.2\.0 .* new_field"):
            await client.job(ORG, await store_final(client, JobKind.SEC_FILINGS, extra)).result()


async def test_failed_job_without_result_raises_its_error(settings: Settings) -> None:
    async with await AcquireClient.connect(settings) as client:
        job = client.job(ORG, await store_final(client, JobKind.RISK_DRIFT, None, state=JobState.FAILED))
        with pytest.raises(JobFailedError, match="PermanentError: upstream refused") as caught:
            await job.result()
        assert caught.value.error_type == "PermanentError"
