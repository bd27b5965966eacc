"""The Yahoo Finance job (``process_yahoo_job``): profile, key metrics and price history.

Each company is its own item job (spread across the fleet); the parts a caller asks for are
fetched independently, so a company without fundamentals (Yahoo's 404 "No fundamentals data
found") still gets its price history. Results go to the result store and ``YAHOO_TOPIC``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acquire.errors import AcquireError, NotFoundError, TransientError
from acquire.jobs.per_company import per_company_spec
from acquire.models import JobKind, YahooRequest
from acquire.runtime.run import JobContext
from acquire.sources.yahoo.client import YahooClient

__all__ = ["SPEC"]


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


def _price_bars(data: Mapping[str, Any]) -> int:
    return len((data.get("history") or {}).get("bars", []))


def _parts_failed(data: Mapping[str, Any]) -> int:
    return len(data.get("errors") or {})


SPEC = per_company_spec(
    JobKind.YAHOO, run_company, totals={"parts_failed": _parts_failed, "price_bars": _price_bars}
)
