"""Bad requests get a clear error naming the field and never reach Redis."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError

from acquire.client import AcquireClient
from acquire.models import RiskDriftRequest, SecFilingsRequest, parse_request
from acquire.settings import Settings

GOOD: dict[str, Any] = {"kind": "sec_filings", "companies": ["NVDA"], "years": [2024]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "bitcoin"}, "kind"),
        ({"companies": []}, "companies"),
        ({"companies": ["NV:DA"]}, "companies.0"),
        ({"companies": ["NVDA*"]}, "companies.0"),
        ({"companies": ["NV\nDA"]}, "companies.0"),
        ({"companies": [".."]}, "companies.0"),
        ({"companies": ["0"]}, "companies.0"),
        ({"companies": [f"T{i}" for i in range(10_000)]}, "companies"),
        ({"companies": ["NVDA", "nvda"]}, "companies"),
        ({"years": []}, "years"),
        ({"years": [1992]}, "years.0"),
        ({"years": [2999]}, "years.0"),
        ({"form_types": ["10-Z"]}, "form_types.0"),
        ({"callback_url": "not a url"}, "callback_url"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_requests_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_request({**GOOD, **change})
    locs = {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}
    assert any(loc == field or loc.endswith("." + field) for loc in locs), locs


def test_risk_drift_years_must_be_current_then_previous() -> None:
    with pytest.raises(ValidationError, match="current > previous"):
        parse_request({"kind": "risk_drift", "ticker": "NVDA", "years": [2023, 2024]})
    drift = parse_request({"kind": "risk_drift", "ticker": "nvda", "years": [2025, 2024]})
    assert isinstance(drift, RiskDriftRequest) and drift.ticker == "NVDA"


def test_companies_are_normalised() -> None:
    req = parse_request({**GOOD, "companies": [" nvda ", "0001045810", "brk-b"]})
    assert isinstance(req, SecFilingsRequest)
    assert req.companies == ["NVDA", "1045810", "BRK-B"]


@pytest.mark.parametrize("org", ["", "a:b", "a*", "a\nb", "..", "a/b", "x" * 65, "-lead"])
async def test_bad_org_never_reaches_redis(org: str, settings: Settings, redis: aioredis.Redis) -> None:
    async with await AcquireClient.connect(settings) as client:
        with pytest.raises(ValueError, match="organisation id"):
            await client.submit(org, GOOD)
        with pytest.raises(ValueError, match="organisation id"):
            client.job(org, "x" * 22)
    assert await redis.dbsize() == 0


async def test_invalid_request_never_reaches_redis(settings: Settings, redis: aioredis.Redis) -> None:
    async with await AcquireClient.connect(settings) as client:
        with pytest.raises(ValidationError):
            await client.submit("acme", {**GOOD, "years": [1900]})
        with pytest.raises(ValueError, match="idempotency_key"):
            await client.submit("acme", GOOD, idempotency_key="a:b")
    assert await redis.dbsize() == 0


async def test_enqueue_refused_by_arq_leaves_nothing_behind(
    settings: Settings, redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from acquire import client as client_module
    from acquire.errors import TransientError

    fixed = "Z" * 22
    monkeypatch.setattr(client_module, "new_job_id", lambda: fixed)
    await redis.set(f"arq:result:{fixed}", b"{}")  # arq refuses an id it already has a result for
    async with await AcquireClient.connect(settings) as client:
        with pytest.raises(TransientError, match="submit it again"):
            await client.submit("acme", GOOD, idempotency_key="order-1")
    # no status record, event stream, index entry or idempotency key is left
    assert [k.decode() for k in await redis.keys("*")] == [f"arq:result:{fixed}"]
