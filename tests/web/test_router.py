"""The REST routes: submit, list, status, result; validation; tenant isolation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from starlette.requests import Request

from acquire.client import AcquireClient
from acquire.settings import Settings
from acquire.web import create_router
from tests.support.jobs import drain, sec_result
from tests.support.web import ACME, GLOBEX, sec_body

from .conftest import Web

MISSING = "A" * 22  # well-formed, never issued
MALFORMED = ["short", "x" * 23, "bad!id!with!symbols!!", "%2e%2e"]


async def submit(web: Web, body: object, headers: dict[str, str] = ACME) -> str:
    response = await web.http.post(f"{web.url}/jobs", json=body, headers=headers)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    return job_id


async def test_submit_returns_202_with_job_id_and_location(web: Web) -> None:
    response = await web.http.post(f"{web.url}/jobs", json=sec_body("NVDA"), headers=ACME)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert response.headers["location"] == f"/acquire/jobs/{body['job_id']}"
    status = await web.client.job("acme", body["job_id"]).status()
    assert status.request["companies"] == ["NVDA"]


async def test_idempotency_key_returns_the_same_job(web: Web) -> None:
    headers = {**ACME, "Idempotency-Key": "order-42"}
    first = await web.http.post(f"{web.url}/jobs", json=sec_body("NVDA"), headers=headers)
    again = await web.http.post(f"{web.url}/jobs", json=sec_body("NVDA"), headers=headers)
    assert first.json()["job_id"] == again.json()["job_id"]
    bad = await web.http.post(
        f"{web.url}/jobs", json=sec_body("NVDA"), headers={**ACME, "Idempotency-Key": "a b"}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_validation_errors_are_422_naming_each_field(web: Web) -> None:
    body = {"kind": "sec_filings", "companies": ["NVDA", "not a ticker"], "years": [1900]}
    response = await web.http.post(f"{web.url}/jobs", json=body, headers=ACME)
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(errors) == {"companies.1", "years.0"}
    assert "neither a ticker" in errors["companies.1"]
    assert errors["years.0"].startswith("year must be between 1993")

    unknown = await web.http.post(f"{web.url}/jobs", json={"kind": "nope"}, headers=ACME)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "kind"

    extra = await web.http.post(f"{web.url}/jobs", json={**sec_body("NVDA"), "colour": "red"}, headers=ACME)
    assert [e["field"] for e in extra.json()["errors"]] == ["colour"]

    array = await web.http.post(f"{web.url}/jobs", json=[1, 2], headers=ACME)
    assert array.status_code == 422
    assert array.json()["errors"] == [{"field": "body", "message": "must be a JSON object with a 'kind'"}]


async def test_malformed_json_is_400_and_oversized_body_is_413(web_factory: object) -> None:
    web: Web = await web_factory(max_body_bytes=1000)  # type: ignore[operator]
    headers = {**ACME, "Content-Type": "application/json"}
    malformed = await web.http.post(f"{web.url}/jobs", content=b'{"kind": "sec_filings",', headers=headers)
    assert malformed.status_code == 400
    assert malformed.json()["detail"] == "malformed JSON: EOF while parsing a value at line 1 column 23"

    big = json.dumps({**sec_body("NVDA"), "pad": "x" * 2000}).encode()
    too_big = await web.http.post(f"{web.url}/jobs", content=big, headers=headers)
    assert too_big.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit applies while streaming
        for _ in range(20):
            yield b" " * 100

    streamed = await web.http.post(f"{web.url}/jobs", content=chunks(), headers=headers)
    assert streamed.status_code == 413

    form = await web.http.post(
        f"{web.url}/jobs", content=b"kind=x", headers={**ACME, "Content-Type": "text/plain"}
    )
    assert form.status_code == 415


async def test_status_items_and_result_after_the_job_ran(web: Web, settings: Settings) -> None:
    job_id = await submit(web, sec_body("NVDA", "TSLA"))
    early = await web.http.get(f"{web.url}/jobs/{job_id}/result", headers=ACME)
    assert early.status_code == 409
    assert early.json() == {"detail": "job is queued", "state": "queued"}

    await drain(settings)
    status = (await web.http.get(f"{web.url}/jobs/{job_id}", headers=ACME)).json()
    assert status["state"] == "completed"
    assert status["job_id"] == job_id
    assert [i["key"] for i in status["items"]] == ["NVDA", "TSLA"]
    result = await web.http.get(f"{web.url}/jobs/{job_id}/result", headers=ACME)
    assert result.json() == {
        "job_id": job_id,
        "state": "completed",
        "result": sec_result("NVDA", "TSLA").model_dump(mode="json"),
    }


async def test_list_shows_only_the_callers_org(web: Web) -> None:
    mine = [await submit(web, sec_body("NVDA")) for _ in range(3)]
    theirs = await submit(web, sec_body("TSLA"), GLOBEX)
    listed = (await web.http.get(f"{web.url}/jobs", headers=ACME)).json()["jobs"]
    assert [j["job_id"] for j in listed] == list(reversed(mine))
    assert theirs not in {j["job_id"] for j in listed}
    limited = (await web.http.get(f"{web.url}/jobs", params={"limit": "2"}, headers=ACME)).json()["jobs"]
    assert len(limited) == 2
    bad = await web.http.get(f"{web.url}/jobs", params={"limit": "0"}, headers=ACME)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "limit"


@pytest.mark.parametrize("suffix", ["", "/result", "/events", "/token"])
async def test_another_orgs_job_is_indistinguishable_from_a_missing_one(web: Web, suffix: str) -> None:
    job_id = await submit(web, sec_body("NVDA"))
    method = "POST" if suffix == "/token" else "GET"
    # HEAD for the events route: GET would follow the (unfinished) job forever.
    own_method = "HEAD" if suffix == "/events" else method
    own = await web.http.request(own_method, f"{web.url}/jobs/{job_id}{suffix}", headers=ACME)
    assert own.status_code in (200, 409), own.text
    answers = []
    for candidate, headers in [(job_id, GLOBEX), (MISSING, ACME), *[(bad, ACME) for bad in MALFORMED]]:
        response = await web.http.request(method, f"{web.url}/jobs/{candidate}{suffix}", headers=headers)
        answers.append((response.status_code, response.content))
    assert set(answers) == {(404, b'{"detail":"job not found"}')}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/jobs"),
        ("GET", "/jobs"),
        ("GET", f"/jobs/{MISSING}"),
        ("GET", f"/jobs/{MISSING}/result"),
        ("GET", f"/jobs/{MISSING}/events"),
        ("POST", f"/jobs/{MISSING}/token"),
    ],
)
async def test_every_route_requires_authorisation(web: Web, method: str, path: str) -> None:
    missing = await web.http.request(method, web.url + path)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = await web.http.request(method, web.url + path, headers={"X-API-Key": "not-a-valid-key-at-all"})
    assert (wrong.status_code, wrong.json()) == (401, {"detail": "invalid API key"})
    bearer = await web.http.request(
        method, web.url + path, headers={"Authorization": "Bearer not-valid-either-0000"}
    )
    assert bearer.status_code == 401


async def test_async_authorize_and_its_refusals_are_honoured(
    web_factory: object, client: AcquireClient
) -> None:
    from starlette.exceptions import HTTPException

    from tests.support.web import serve

    async def authorize(request: Request) -> str:
        if request.headers.get("x-tenant") == "banned":
            raise HTTPException(403, "organisation suspended")
        return request.headers.get("x-tenant", "acme")

    router = create_router(client, authorize)
    async with serve(router) as base:
        import httpx

        async with httpx.AsyncClient() as http:
            ok = await http.post(f"{base}/jobs", json=sec_body("NVDA"), headers={"x-tenant": "initech"})
            assert ok.status_code == 202
            assert (await client.job("initech", ok.json()["job_id"]).status()).org == "initech"
            refused = await http.get(f"{base}/jobs", headers={"x-tenant": "banned"})
            assert (refused.status_code, refused.json()) == (403, {"detail": "organisation suspended"})
    await router.aclose()


def test_authorize_is_required(client: AcquireClient) -> None:
    with pytest.raises(TypeError, match="requires authorize"):
        create_router(client)
    with pytest.raises(TypeError, match="requires authorize"):
        create_router(client, "acme")  # type: ignore[arg-type]
