"""The shape the SEC, XBRL and Yahoo kinds share: one item job per company, one result listing them.

``run`` plans the job and spreads it (one arq item job per company, across the fleet); each
item job runs the kind's ``run_company``; when the last item is final, ``assemble`` lists every
company with its state and adds the kind's totals to the summary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from acquire.models import ItemState, ItemStatus, JobKind, JobRequest
from acquire.runtime.run import JobContext, JobSpec, Outcome, Spread
from acquire.runtime.spec import RunItemFn

__all__ = ["ItemTotal", "field_total", "per_company_spec"]

#: One number of the summary, from one company's item data.
ItemTotal = Callable[[Mapping[str, Any]], int]


class _CompaniesRequest(Protocol):
    @property
    def companies(self) -> list[str]: ...


def field_total(name: str) -> ItemTotal:
    """The total of an integer field of the companies' item data (absent counts 0)."""
    return lambda data: int(data.get(name, 0))


def per_company_spec(kind: JobKind, run_company: RunItemFn, totals: Mapping[str, ItemTotal]) -> JobSpec:
    """The :class:`JobSpec` of a kind that runs ``run_company`` once per requested company.

    The summary holds ``companies``, ``companies_completed`` and then one entry per ``totals``
    name, summed over the companies.
    """

    async def run(job: JobContext, request: _CompaniesRequest) -> Spread:
        await job.step("plan", 2)
        return await job.spread([(company, {"company": company}) for company in request.companies])

    def assemble(request: JobRequest, items: list[ItemStatus]) -> Outcome:
        companies = [{"company": i.key, "state": i.state.value, "error": i.error, **i.data} for i in items]
        summary: dict[str, Any] = {
            "companies": len(items),
            "companies_completed": sum(1 for i in items if i.state == ItemState.COMPLETED),
        }
        summary.update({name: sum(total(i.data) for i in items) for name, total in totals.items()})
        return Outcome(result={"companies": companies}, summary=summary)

    return JobSpec(kind=kind, run=run, run_item=run_company, assemble=assemble)
