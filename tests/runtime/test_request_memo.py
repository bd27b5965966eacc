"""Item jobs of one job validate the job's request once per worker (Services.validated)."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError

from acquire.models import SecFilingsRequest, compact_request, parse_request
from acquire.runtime.services import Services
from acquire.settings import Settings
from acquire.store.jobs import JobStore

JOB = "AAAAAAAAAAAAAAAAAAAAAA"
OTHER = "BBBBBBBBBBBBBBBBBBBBBB"


def _services(settings: Settings, redis: aioredis.Redis) -> Services:
    return Services(settings=settings, redis=redis, store=JobStore(redis))  # type: ignore[arg-type]


async def test_the_same_payload_of_one_job_is_validated_once(
    settings: Settings, redis: aioredis.Redis
) -> None:
    services = _services(settings, redis)
    request = compact_request(SecFilingsRequest(companies=["NVDA", "AAPL"], years=[2024]))
    first = services.validated(JOB, dict(request))
    assert first == parse_request(request)
    assert services.validated(JOB, dict(request)) is first  # not validated again
    assert services.validated(OTHER, dict(request)) is not first  # another job's: validated


async def test_a_payload_that_differs_in_any_byte_is_validated(
    settings: Settings, redis: aioredis.Redis
) -> None:
    services = _services(settings, redis)
    request = compact_request(SecFilingsRequest(companies=["NVDA"], years=[2024]))
    services.validated(JOB, request)
    with pytest.raises(ValidationError, match="neither a ticker"):
        services.validated(JOB, {**request, "companies": ["NVDA", "not a ticker!"]})
    with pytest.raises(ValidationError):
        services.validated(JOB, {**request, "years": [1800]})
    changed = services.validated(JOB, {**request, "companies": ["nvda"]})  # normalised, not the memo's
    assert isinstance(changed, SecFilingsRequest) and changed.companies == ["NVDA"]
    assert changed is not services.validated(JOB, request)


async def test_the_memo_keeps_the_latest_requests_only(settings: Settings, redis: aioredis.Redis) -> None:
    services = _services(settings, redis)

    def request(n: int) -> dict[str, object]:
        return {"kind": "sec_filings", "companies": [f"T{n}"], "years": [2024]}

    oldest = services.validated(JOB, request(0))
    for n in range(1, 65):
        services.validated(JOB, request(n))
    assert services.validated(JOB, request(64)) is services.validated(JOB, request(64))
    assert services.validated(JOB, request(0)) is not oldest
