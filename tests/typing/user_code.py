"""User code as a host application writes it, checked by ``mypy --strict`` in test_typing.py.

Each ``assert_type`` pins a type acquire promises; each ``# type: ignore[code]`` marks a line
that must stay rejected (with ``warn_unused_ignores``, a line mypy stops rejecting fails too).
Never run, only type-checked.
"""

from __future__ import annotations

from typing import assert_type

from arq.typing import WorkerCoroutine
from arq.worker import Function

import acquire
from acquire import (
    AcquireClient,
    AcquireWorkerSettings,
    ItemCompleted,
    ItemFailed,
    JobCompleted,
    JobFailed,
    JobHandle,
    JobQueued,
    JobRetrying,
    JobStarted,
    JobStatus,
    RiskDriftRequest,
    RiskDriftResult,
    SecFilingsRequest,
    SecFilingsResult,
    StepComplete,
    XbrlFactsRequest,
    XbrlFactsResult,
    YahooRequest,
    YahooResult,
)
from acquire.jobs import sec_filings, yahoo
from acquire.models import ItemState, JobKind
from acquire.results import FilingRecord, SecCompanyResult
from acquire.runtime.run import JobContext, JobSpec, Outcome, Spread
from acquire.sources.sec.edgar import EdgarClient
from acquire.sources.sec.xbrl_metrics import MetricResult
from acquire.sources.yahoo.client import YahooClient
from acquire.sources.yahoo.models import PriceHistory

AnyResult = SecFilingsResult | XbrlFactsResult | YahooResult | RiskDriftResult
AnyEvent = (
    JobQueued
    | JobStarted
    | StepComplete
    | ItemCompleted
    | ItemFailed
    | JobRetrying
    | JobCompleted
    | JobFailed
)


async def submit_and_read(client: AcquireClient) -> None:
    sec = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
    assert_type(sec, JobHandle[SecFilingsResult])
    result = await sec.result()
    assert_type(result, SecFilingsResult)
    assert_type(result.companies[0], SecCompanyResult)
    assert_type(result.companies[0].filings, list[FilingRecord])
    assert_type(result.companies[0].filings[0].sha256, str | None)
    assert_type(result.companies[0].state, ItemState)

    xbrl = await client.submit("acme", XbrlFactsRequest(companies=["AAPL"], years=[2024]))
    facts = await xbrl.result()
    assert_type(facts, XbrlFactsResult)
    assert_type(facts.companies[0].metrics["revenue"], MetricResult)

    quotes = await (await client.submit("acme", YahooRequest(companies=["AAPL"]))).result()
    assert_type(quotes, YahooResult)
    assert_type(quotes.companies[0].history, PriceHistory | None)

    drift = await (await client.submit("acme", RiskDriftRequest(ticker="NVDA", years=[2025, 2024]))).result()
    assert_type(drift, RiskDriftResult)
    assert_type(drift.filings.current.accession, str)
    assert_type(drift.executive_summary, str)

    # a mapping request or an existing job: the union, told apart by its kind
    loose = await client.submit("acme", {"kind": "yahoo", "companies": ["AAPL"]})
    assert_type(loose, JobHandle[AnyResult])
    stored = await client.job("acme", sec.job_id).result()
    assert_type(stored, AnyResult)
    if isinstance(stored, RiskDriftResult):
        assert_type(stored.ticker, str)

    assert_type(await sec.wait(), JobStatus)
    assert_type(await sec.status(), JobStatus)

    # rejected: a misspelled result field, a result of another kind, a request that is no request
    _ = result.companies[0].filingz  # type: ignore[attr-defined]
    _ = facts.companies[0].filings  # type: ignore[attr-defined]
    wrong: JobHandle[YahooResult] = sec  # type: ignore[assignment]
    await client.submit("acme", "sec_filings")  # type: ignore[call-overload]
    del wrong


async def follow(job: JobHandle[SecFilingsResult]) -> None:
    async for event in job.events():
        assert_type(event, AnyEvent)
        if isinstance(event, StepComplete):
            assert_type(event.data.step, str)
            assert_type(event.data.progress, int | None)
        elif isinstance(event, ItemCompleted | ItemFailed):
            assert_type(event.data.item, str)
            assert_type(event.data.state, ItemState)
        elif isinstance(event, JobCompleted):
            _ = event.data.step  # type: ignore[attr-defined]


def worker_settings() -> None:
    assert_type(acquire.WorkerSettings, type[AcquireWorkerSettings])
    assert_type(acquire.WorkerSettings.queue_name, str)
    assert_type(acquire.task_functions(), list[WorkerCoroutine | Function])


async def services(job: JobContext) -> None:
    assert_type(job.services.edgar, EdgarClient)
    assert_type(job.services.yahoo, YahooClient)


async def run_filings(job: JobContext, request: SecFilingsRequest) -> Outcome[SecFilingsResult] | Spread:
    return Outcome(result=SecFilingsResult(companies=[]))


def specs() -> None:
    ok: JobSpec[SecFilingsRequest, SecFilingsResult] = sec_filings.SPEC
    mine = JobSpec[SecFilingsRequest, SecFilingsResult](kind=JobKind.SEC_FILINGS, run=run_filings)
    # rejected: a spec whose item step is another kind's, a spec taken for another kind
    mixed = JobSpec[SecFilingsRequest, SecFilingsResult](
        kind=JobKind.SEC_FILINGS,
        run=run_filings,
        run_item=yahoo.run_company,  # type: ignore[arg-type]
    )
    other: JobSpec[YahooRequest, YahooResult] = sec_filings.SPEC  # type: ignore[assignment]
    del ok, mine, mixed, other
