"""The Yahoo Finance job (``process_yahoo_job``): profile, key metrics and price history.

Each company is its own item job (spread across the fleet); the parts a caller asks for are
fetched independently, so a company without fundamentals (Yahoo's 404 "No fundamentals data
found") still gets its price history. Results go to the result store and ``YAHOO_TOPIC``.
"""

from __future__ import annotations

from typing import Any

from acquire.errors import AcquireError, NotFoundError, TransientError
from acquire.models import ItemState, ItemStatus, JobKind, JobRequest, YahooRequest
from acquire.runtime.run import JobContext, JobSpec, Outcome, Spread
from acquire.sources.yahoo.client import YahooClient

__all__ = ["SPEC"]


async def run(job: JobContext, request: YahooRequest) -> Spread:
    await job.step("plan", 2)
    return await job.spread([(company, {"company": company}) for company in request.companies])


async def _parts(yahoo: YahooClient, symbol: str, request: YahooRequest) -> dict[str, Any]:
    wanted = set(request.parts)
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if wanted & {"profile", "metrics"}:
        try:
            snapshot = await yahoo.snapshot(symbol)
            if "profile" in wanted:
                out["profile"] = snapshot.profile.model_dump(mode="json")
            if "metrics" in wanted:
                out["metrics"] = snapshot.metrics.model_dump(mode="json")
        except TransientError:
            raise  # the item job retries the whole company later
        except AcquireError as exc:
            for part in wanted & {"profile", "metrics"}:
                errors[part] = f"{type(exc).__name__}: {exc}"
    if "history" in wanted:
        try:
            history = await yahoo.history(
                symbol, range=request.range, start=request.start, end=request.end, interval=request.interval
            )
            out["history"] = history.model_dump(mode="json")
        except TransientError:
            raise
        except AcquireError as exc:
            errors["history"] = f"{type(exc).__name__}: {exc}"
    if errors and not out:
        first = next(iter(errors.values()))
        raise NotFoundError(first) if "NotFound" in first else AcquireError(first)
    out["errors"] = errors
    return out


async def run_company(
    job: JobContext, request: YahooRequest, key: str, payload: dict[str, Any]
) -> dict[str, Any]:
    yahoo: YahooClient = job.services.get("yahoo")
    data = {"company": key, **await _parts(yahoo, payload["company"], request)}
    await job.publish(job.settings.yahoo_topic, data)
    return data


def assemble(request: JobRequest, items: list[ItemStatus]) -> Outcome:
    companies = [{"company": i.key, "state": i.state.value, "error": i.error, **i.data} for i in items]
    bars = sum(len((c.get("history") or {}).get("bars", [])) for c in companies)
    return Outcome(
        result={"companies": companies},
        summary={
            "companies": len(items),
            "companies_completed": sum(1 for i in items if i.state == ItemState.COMPLETED),
            "parts_failed": sum(len(i.data.get("errors") or {}) for i in items),
            "price_bars": bars,
        },
    )


SPEC = JobSpec(kind=JobKind.YAHOO, run=run, run_item=run_company, assemble=assemble)
