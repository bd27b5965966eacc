"""Inputs an attack run answered with 500: each is a 4xx with a clear message, and the server
logs no traceback (a real uvicorn on loopback, its log captured)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from acquire.client import AcquireClient
from acquire.web import COOKIE_NAME
from tests.support.web import ACME, sec_body

from .conftest import Web
from .server_log import ServerLog

MISSING = "A" * 22  # well-formed, never issued
ABOVE_U64 = str(2**64)


async def _queued_job(web: Web) -> str:
    handle = await web.client.submit("acme", sec_body("NVDA"))
    return handle.job_id


async def test_a_non_ascii_query_token_is_a_401(web: Web, server_log: ServerLog) -> None:
    for token in ["v1.a.%C3%A9", "v1.%C3%A9.abc", "%C3%A9"]:
        response = await web.http.get(f"{web.url}/jobs/{MISSING}/events?token={token}")
        assert (response.status_code, response.json()) == (401, {"detail": "malformed token"}), token
    assert server_log.tracebacks == []


async def test_a_non_ascii_cookie_falls_back_to_authorize(web: Web, server_log: ServerLog) -> None:
    cookie = f"{COOKIE_NAME}=v1.a.".encode() + "é".encode()
    anonymous = await web.http.get(f"{web.url}/jobs/{MISSING}/events", headers={b"Cookie": cookie})
    assert anonymous.status_code == 401
    assert anonymous.json()["detail"].startswith("missing API key")
    acme = {name.encode(): value.encode() for name, value in ACME.items()}  # bytes, as the cookie is
    with_key = await web.http.get(f"{web.url}/jobs/{MISSING}/events", headers={**acme, b"Cookie": cookie})
    assert (with_key.status_code, with_key.json()) == (404, {"detail": "job not found"})
    assert server_log.tracebacks == []


@pytest.mark.parametrize(
    "last_id",
    [f"{ABOVE_U64}-0", f"0-{ABOVE_U64}", "99999999999999999999-0", f"{2**64 - 1}-{2**64}"],
)
async def test_a_stream_id_beyond_64_bits_is_a_400(web: Web, server_log: ServerLog, last_id: str) -> None:
    job_id = await _queued_job(web)
    url = f"{web.url}/jobs/{job_id}/events"
    header = await web.http.head(url, headers={**ACME, "Last-Event-ID": last_id})
    query = await web.http.head(url, params={"last_event_id": last_id}, headers=ACME)
    assert (header.status_code, query.status_code) == (400, 400)
    body = await web.http.get(url, params={"last_event_id": last_id}, headers=ACME)
    assert "Last-Event-ID must be an event id" in body.json()["detail"]
    assert server_log.tracebacks == []


async def test_the_largest_stream_id_is_accepted(web: Web, server_log: ServerLog) -> None:
    job_id = await _queued_job(web)
    largest = f"{2**64 - 1}-{2**64 - 1}"  # nothing can follow it, but it is a valid id
    headers = {**ACME, "Last-Event-ID": largest}
    response = await web.http.head(f"{web.url}/jobs/{job_id}/events", headers=headers)
    assert response.status_code == 200
    assert server_log.tracebacks == []


async def test_deeply_nested_json_and_huge_integers_are_400(web: Web, server_log: ServerLog) -> None:
    headers = {**ACME, "Content-Type": "application/json"}
    nested = await web.http.post(f"{web.url}/jobs", content=b"[" * 3000, headers=headers)
    assert nested.status_code == 400
    assert nested.json()["detail"] == "malformed JSON: nested too deeply"
    in_object = b'{"kind": "sec_filings", "companies": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    assert (await web.http.post(f"{web.url}/jobs", content=in_object, headers=headers)).status_code == 400
    huge = b'{"kind": "sec_filings", "companies": ["NVDA"], "years": [' + b"9" * 5000 + b"]}"
    number = await web.http.post(f"{web.url}/jobs", content=huge, headers=headers)
    assert number.status_code == 400
    assert number.json()["detail"] == "malformed JSON: a number has too many digits"
    assert server_log.tracebacks == []


async def test_nesting_is_refused_whatever_the_recursion_limit(web: Web, server_log: ServerLog) -> None:
    # json.loads nests as deep as the recursion limit, which a host (or mypy) may raise.
    headers = {**ACME, "Content-Type": "application/json"}
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        nested = await web.http.post(f"{web.url}/jobs", content=b"[" * 300 + b"]" * 300, headers=headers)
    finally:
        sys.setrecursionlimit(limit)
    assert (nested.status_code, nested.json()["detail"]) == (400, "malformed JSON: nested too deeply")
    body = '{"kind": "é"}'.encode("latin-1")
    latin1 = await web.http.post(f"{web.url}/jobs", content=body, headers=headers)
    assert (latin1.status_code, latin1.json()["detail"]) == (400, "malformed JSON: the body is not UTF-8")
    assert server_log.tracebacks == []


def _yahoo(start: str, end: str) -> dict[str, object]:
    return {"kind": "yahoo", "companies": ["NVDA"], "parts": ["history"], "start": start, "end": end}


async def test_mixing_naive_and_aware_yahoo_times_is_a_422(web: Web, server_log: ServerLog) -> None:
    mixed = [("2024-01-01T00:00:00", "2024-06-01T00:00:00Z"), ("2024-01-01T00:00:00+02:00", "2024-06-01")]
    for start, end in mixed:
        response = await web.http.post(f"{web.url}/jobs", json=_yahoo(start, end), headers=ACME)
        assert response.status_code == 422, (start, end, response.text)
        assert response.json()["errors"] == [
            {"field": "body", "message": "start and end must both have a timezone or both have none"}
        ]
    accepted = await web.http.post(
        f"{web.url}/jobs", json=_yahoo("2024-01-01T00:00:00Z", "2024-06-01T00:00:00+02:00"), headers=ACME
    )
    assert accepted.status_code == 202
    assert server_log.tracebacks == []


async def test_mixing_naive_and_aware_yahoo_times_is_a_validation_error_in_submit(
    client: AcquireClient,
) -> None:
    body = {**_yahoo("x", "y"), "start": datetime(2024, 1, 1), "end": datetime(2024, 6, 1, tzinfo=UTC)}
    with pytest.raises(ValidationError, match="both have a timezone"):
        await client.submit("acme", body)


@pytest.mark.parametrize("limit", ["%C2%B2", "%D9%A3", "%EF%BC%95", "1%C2%B2"])
async def test_a_non_ascii_digit_limit_is_a_422(web: Web, server_log: ServerLog, limit: str) -> None:
    response = await web.http.get(f"{web.url}/jobs?limit={limit}", headers=ACME)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "limit", "message": "must be an integer from 1 to 1000"}]
    assert server_log.tracebacks == []
