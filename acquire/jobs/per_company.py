"""The shape the SEC, XBRL and Yahoo kinds share: one item job per company, one result listing them.

``run`` plans the job and spreads it (one arq item job per company, across the fleet); each
item job runs the kind's ``run_company``, which returns the company's result model; when the
last item is final, ``assemble`` builds the kind's result model listing every company with its
state, and adds the kind's totals to the summary.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from acquire.models import ItemState, ItemStatus, JobKind
from acquire.results import CompanyItem, ResultModel, company_results
from acquire.runtime.run import JobContext, JobSpec, Outcome, Spread

__all__ = ["per_company_spec"]


class _CompaniesRequest(Protocol):
    @property
    def companies(self) -> list[str]: ...


C = TypeVar("C", bound=CompanyItem)
Q = TypeVar("Q", bound=_CompaniesRequest)
R = TypeVar("R", bound=ResultModel)


def per_company_spec(
    kind: JobKind,
    run_company: Callable[[JobContext, Q, str, dict[str, Any]], Awaitable[C]],
    company: type[C],
    result: Callable[[list[C]], R],
    totals: Mapping[str, Callable[[C], int]],
) -> JobSpec[Q, R]:
    """The :class:`JobSpec` of a kind that runs ``run_company`` once per requested company.

    ``company`` is the per-company model (what ``run_company`` returns, and what a failed
    company becomes); ``result`` builds the kind's result from the companies. The summary holds
    ``companies``, ``companies_completed`` and then one entry per ``totals`` name, summed over
    the companies.
    """

    async def run(job: JobContext, request: Q) -> Spread:
        await job.step("plan", 2)
        return await job.spread([(name, {"company": name}) for name in request.companies])

    def assemble(request: Q, items: list[ItemStatus]) -> Outcome[R]:
        companies = company_results(company, items)
        summary: dict[str, Any] = {
            "companies": len(items),
            "companies_completed": sum(1 for c in companies if c.state == ItemState.COMPLETED),
        }
        summary.update({name: sum(total(c) for c in companies) for name, total in totals.items()})
        return Outcome(result=result(companies), summary=summary)

    return JobSpec(kind=kind, run=run, run_item=run_company, assemble=assemble)
