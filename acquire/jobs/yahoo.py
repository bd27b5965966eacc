"""The Yahoo Finance job (``yahoo``): profile, key metrics and price history.

Each company is its own item job (spread across the fleet); the parts a caller asks for are
fetched independently, so a company without fundamentals (Yahoo's 404 "No fundamentals data
found") still gets its price history. Results go to the result store and ``YAHOO_TOPIC``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from acquire.errors import AcquireError, NotFoundError, TransientError
from acquire.jobs.per_company import per_company_spec
from acquire.models import ItemState, JobKind, YahooPart, YahooRequest
from acquire.results import YahooCompanyResult, YahooResult
from acquire.runtime.run import JobContext, JobSpec
from acquire.sources.yahoo.client import YahooClient

__all__ = ["SPEC"]


async def _parts(yahoo: YahooClient, key: str, symbol: str, request: YahooRequest) -> YahooCompanyResult:
    wanted = set(request.parts)
    parts: dict[str, BaseModel] = {}
    errors: dict[YahooPart, str] = {}
    if wanted & {"profile", "metrics"}:
        try:
            snapshot = await yahoo.snapshot(symbol)
            if "profile" in wanted:
                parts["profile"] = snapshot.profile
            if "metrics" in wanted:
                parts["metrics"] = snapshot.metrics
        except TransientError:
            raise  # the item job retries the whole company later
        except AcquireError as exc:
            for part in request.parts:
                if part != "history":
                    errors[part] = f"{type(exc).__name__}: {exc}"
    if "history" in wanted:
        try:
            parts["history"] = await yahoo.history(
                symbol, range=request.range, start=request.start, end=request.end, interval=request.interval
            )
        except TransientError:
            raise
        except AcquireError as exc:
            errors["history"] = f"{type(exc).__name__}: {exc}"
    if errors and not parts:
        first = next(iter(errors.values()))
        raise NotFoundError(first) if "NotFound" in first else AcquireError(first)
    return YahooCompanyResult.model_validate(
        {"company": key, "state": ItemState.COMPLETED, **parts, "errors": errors}
    )


#: What a topic message carries (the parts fetched, never the item's state).
_TOPIC_FIELDS = {"company", "profile", "metrics", "history", "errors"}


async def run_company(
    job: JobContext, request: YahooRequest, key: str, payload: dict[str, Any]
) -> YahooCompanyResult:
    yahoo: YahooClient = job.services.yahoo
    result = await _parts(yahoo, key, payload["company"], request)
    message = result.model_dump(mode="json", include=_TOPIC_FIELDS)
    await job.publish(job.settings.yahoo_topic, {k: v for k, v in message.items() if v is not None})
    return result


def _price_bars(company: YahooCompanyResult) -> int:
    return len(company.history.bars) if company.history is not None else 0


SPEC: JobSpec[YahooRequest, YahooResult] = per_company_spec(
    JobKind.YAHOO,
    run_company,
    YahooCompanyResult,
    lambda companies: YahooResult(companies=companies),
    totals={"parts_failed": lambda c: len(c.errors), "price_bars": _price_bars},
)
