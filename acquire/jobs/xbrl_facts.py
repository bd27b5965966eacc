"""The XBRL facts job (``process_xbrl_job``): standardised metrics for companies and years.

Each company is its own arq item job (spread across the fleet). One ``companyfacts``
download per company carries every concept, so all requested metrics are extracted from it
(through the same fleet-wide rate limiter and cache as the SEC job) instead of one request
per concept. A metric the company does not report is recorded as ``not_reported`` on the
company's item; it does not fail the job.
"""

from __future__ import annotations

from typing import Any

from acquire.models import ItemState, ItemStatus, JobKind, JobRequest, XbrlFactsRequest
from acquire.runtime.run import JobContext, JobSpec, Outcome, Spread
from acquire.sources.sec.xbrl import XbrlClient

__all__ = ["SPEC"]


async def run(job: JobContext, request: XbrlFactsRequest) -> Spread:
    await job.step("plan", 2)
    return await job.spread([(company, {"company": company}) for company in request.companies])


async def run_company(
    job: JobContext, request: XbrlFactsRequest, key: str, payload: dict[str, Any]
) -> dict[str, Any]:
    xbrl = XbrlClient(job.services.get("edgar"))
    facts = await xbrl.company_facts(payload["company"])
    metrics = {
        metric: facts.metric(metric, request.years, request.period).model_dump(
            mode="json", exclude={"metric"}
        )
        for metric in request.metrics
    }
    reported = sum(1 for m in metrics.values() if m["status"] != "not_reported")
    return {
        "company": key,
        "cik": facts.cik,
        "name": facts.entity_name,
        "metrics": metrics,
        "metrics_reported": reported,
        "metrics_not_reported": len(metrics) - reported,
    }


def assemble(request: JobRequest, items: list[ItemStatus]) -> Outcome:
    companies = [{"company": i.key, "state": i.state.value, "error": i.error, **i.data} for i in items]
    return Outcome(
        result={"companies": companies},
        summary={
            "companies": len(items),
            "companies_completed": sum(1 for i in items if i.state == ItemState.COMPLETED),
            "metrics_reported": sum(int(i.data.get("metrics_reported", 0)) for i in items),
            "metrics_not_reported": sum(int(i.data.get("metrics_not_reported", 0)) for i in items),
        },
    )


SPEC = JobSpec(kind=JobKind.XBRL_FACTS, run=run, run_item=run_company, assemble=assemble)
