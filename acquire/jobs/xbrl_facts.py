"""The XBRL facts job (``xbrl_facts``): standardised metrics for companies and years.

Each company is its own arq item job (spread across the fleet). One ``companyfacts``
download per company carries every concept, so all requested metrics are extracted from it
(through the same fleet-wide rate limiter and cache as the SEC job) instead of one request
per concept. A metric the company does not report is recorded as ``not_reported`` on the
company's item; it does not fail the job.
"""

from __future__ import annotations

from typing import Any

from acquire.jobs.per_company import per_company_spec
from acquire.models import ItemState, JobKind, XbrlFactsRequest
from acquire.results import XbrlCompanyResult, XbrlFactsResult
from acquire.runtime.run import JobContext, JobSpec
from acquire.sources.sec.xbrl import XbrlClient

__all__ = ["SPEC"]


async def run_company(
    job: JobContext, request: XbrlFactsRequest, key: str, payload: dict[str, Any]
) -> XbrlCompanyResult:
    xbrl = XbrlClient(job.services.edgar)
    facts = await xbrl.company_facts(payload["company"])
    metrics = {metric: facts.metric(metric, request.years, request.period) for metric in request.metrics}
    reported = sum(1 for m in metrics.values() if m.status != "not_reported")
    return XbrlCompanyResult(
        company=key,
        state=ItemState.COMPLETED,
        cik=facts.cik,
        name=facts.entity_name,
        metrics=metrics,
        metrics_reported=reported,
        metrics_not_reported=len(metrics) - reported,
    )


SPEC: JobSpec[XbrlFactsRequest, XbrlFactsResult] = per_company_spec(
    JobKind.XBRL_FACTS,
    run_company,
    XbrlCompanyResult,
    lambda companies: XbrlFactsResult(companies=companies),
    totals={
        "metrics_reported": lambda c: c.metrics_reported,
        "metrics_not_reported": lambda c: c.metrics_not_reported,
    },
)
