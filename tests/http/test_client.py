from __future__ import annotations

import httpx
import pytest

from acquire.errors import NotFoundError, RateLimitedError, TransientError
from acquire.http.client import create_client, fetch, retry_after_seconds
from acquire.testing.replay import Fault, ReplayServer


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0", 0.0), ("-3", 0.0), ("soon", None), ("", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_parsing_never_crashes(header: str, expected: float | None) -> None:
    response = httpx.Response(429, headers={"retry-after": header} if header else {})
    assert retry_after_seconds(response) == expected


async def test_fetch_retries_transient_then_succeeds(upstream: ReplayServer) -> None:
    upstream.inject(r"company_tickers", Fault(503), Fault(reset=True))
    async with create_client(user_agent="acquire tests tests@example.com") as client:
        response = await fetch(
            client,
            f"{upstream.url}/www.sec.gov/files/company_tickers.json",
            backoff_base=0.01,
            backoff_cap=0.02,
        )
    assert response.status_code == 200
    assert len(upstream.requests_to("www.sec.gov")) == 3


async def test_fetch_gives_up_with_the_last_transient_error(upstream: ReplayServer) -> None:
    upstream.inject(r"company_tickers", *[Fault(502)] * 3)
    async with create_client(user_agent="acquire tests tests@example.com") as client:
        with pytest.raises(TransientError, match="HTTP 502"):
            await fetch(
                client,
                f"{upstream.url}/www.sec.gov/files/company_tickers.json",
                backoff_base=0.01,
                backoff_cap=0.02,
            )


async def test_long_retry_after_is_left_to_the_job_runtime(upstream: ReplayServer) -> None:
    upstream.inject(r"company_tickers", Fault(429, headers={"retry-after": "600"}))
    async with create_client(user_agent="acquire tests tests@example.com") as client:
        with pytest.raises(RateLimitedError) as info:
            await fetch(client, f"{upstream.url}/www.sec.gov/files/company_tickers.json")
    assert info.value.retry_after == 600.0
    assert len(upstream.requests_to("www.sec.gov")) == 1  # no sleeping for ten minutes in-request


async def test_classifier_errors_are_raised_at_once(upstream: ReplayServer) -> None:
    def classify(response: httpx.Response) -> Exception | None:
        return NotFoundError("gone") if response.status_code == 404 else None

    async with create_client(user_agent="acquire tests tests@example.com") as client:
        with pytest.raises(NotFoundError):
            await fetch(
                client, f"{upstream.url}/data.sec.gov/submissions/CIK0000000001.json", classify=classify
            )
    assert len(upstream.requests_to("data.sec.gov")) == 1
