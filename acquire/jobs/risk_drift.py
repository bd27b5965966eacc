"""The risk-drift job (``risk_drift``).

Fetches the company's two 10-Ks through the EDGAR client (its fleet-wide rate limit and
document cache included), then runs the deterministic analysis of :mod:`acquire.analysis`
in a thread, so the worker's event loop keeps serving other jobs. Each stage (fetch,
extract, segment, score, match, summarise, save) is a ``step_complete`` event. No network
beyond SEC, no model: an optional :class:`~acquire.analysis.SummaryRewriter` registered as
the worker resource ``"summary_rewriter"`` may rephrase the summary.
"""

from __future__ import annotations

import asyncio

from acquire.analysis import Item1ANotFoundError, analyze_sections, extract_item1a
from acquire.errors import NotFoundError, PermanentError
from acquire.models import JobKind, RiskDriftRequest
from acquire.results import DriftFilings, DriftYears, RiskDriftResult
from acquire.runtime.run import JobContext, JobSpec, Outcome
from acquire.sources.sec.edgar import Filing

__all__ = ["SPEC"]

_STAGE_PROGRESS = {"segment": 55, "score": 65, "match": 80, "summarise": 90}


def _pick(filings: list[Filing], year: int, ticker: str) -> Filing:
    # The original 10-K of the fiscal year, the latest one if several were filed.
    candidates = [f for f in filings if f.fiscal_year == year and not f.is_amendment]
    if not candidates:
        raise NotFoundError(f"{ticker} has no 10-K for fiscal year {year} on EDGAR")
    return max(candidates, key=lambda f: (f.filing_date, f.accession))


async def run(job: JobContext, request: RiskDriftRequest) -> Outcome[RiskDriftResult]:
    edgar = job.services.edgar
    current_year, previous_year = request.years
    filings = await edgar.filings(request.ticker, forms=["10-K"], years=[current_year, previous_year])
    current, previous = (
        _pick(filings, current_year, request.ticker),
        _pick(filings, previous_year, request.ticker),
    )
    documents = await asyncio.gather(edgar.download(previous), edgar.download(current))
    await job.step("fetch", 30)
    try:
        sections = await asyncio.to_thread(lambda: [extract_item1a(d.content) for d in documents])
    except Item1ANotFoundError as exc:
        raise PermanentError(f"no Item 1A found: {exc}") from exc
    await job.step("extract", 45)

    loop = asyncio.get_running_loop()
    stages: asyncio.Queue[str | None] = asyncio.Queue()

    def progress(stage: str) -> None:  # called from the analysis thread
        loop.call_soon_threadsafe(stages.put_nowait, stage)

    async def report_stages() -> None:
        while (stage := await stages.get()) is not None:
            await job.step(stage, _STAGE_PROGRESS.get(stage, 50))

    reporter = asyncio.create_task(report_stages())
    try:
        report = await asyncio.to_thread(
            analyze_sections,
            sections[0],
            sections[1],
            rewriter=job.services.summary_rewriter,
            progress=progress,
        )
    finally:
        stages.put_nowait(None)
        await reporter
    result = RiskDriftResult.of(
        report,
        ticker=request.ticker,
        years=DriftYears(current=current_year, previous=previous_year),
        filings=DriftFilings(current=current, previous=previous),
    )
    await job.step("save", 95)
    return Outcome(
        result=result,
        summary={
            "ticker": request.ticker,
            "factors": {"previous": report.previous.factors, "current": report.current.factors},
            "counts": report.counts,
            "section_cosine": report.section_similarity.cosine,
            # Users compare many filers: a doubtful split must show in the summary too.
            "segmentation_warnings": {
                "previous": report.previous.segmentation.warnings,
                "current": report.current.segmentation.warnings,
            },
        },
    )


SPEC: JobSpec[RiskDriftRequest, RiskDriftResult] = JobSpec(kind=JobKind.RISK_DRIFT, run=run)
