"""The example host apps (Starlette and FastAPI) run under uvicorn against real Redis."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from starlette.routing import Mount

from acquire.settings import Settings
from examples import _config, fastapi_app, starlette_app
from tests.support.jobs import run_real_worker

from .conftest import API_KEYS, KEY_ACME, KEY_GLOBEX, SECRET, serve

FACTORIES: dict[str, Callable[..., Any]] = {
    "starlette": starlette_app.create_app,
    "fastapi": fastapi_app.create_app,
}
ACME = {"X-API-Key": KEY_ACME}


def _sse_events(body: str) -> list[dict[str, Any]]:
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in lines:
            events.append({"event": lines.get("event"), **json.loads(lines["data"])})
    return events


@pytest.mark.parametrize("name", FACTORIES)
async def test_example_app_serves_dashboard_api_and_live_events(
    name: str, settings: Settings, redis: aioredis.Redis
) -> None:
    app = FACTORIES[name](settings, api_keys=API_KEYS, token_secret=SECRET)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        page = await http.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["referrer-policy"] == "no-referrer"
        assert 'data-api="/acquire"' in page.text
        assert 'src="/_dashboard/dashboard.js"' in page.text
        script = await http.get("/_dashboard/dashboard.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        assert "EventSource" in script.text
        assert (await http.get("/_dashboard/other.js")).status_code == 404
        assert (await http.get("/healthz")).json() == {"status": "ok"}

        request = {"kind": "sec_filings", "companies": ["NVDA"], "years": [2024]}
        assert (await http.post("/acquire/jobs", json=request)).status_code == 401
        accepted = await http.post("/acquire/jobs", json=request, headers=ACME)
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        # Tenancy comes from the key: the other organisation neither lists nor reads the job.
        assert (await http.get("/acquire/jobs", headers={"X-API-Key": KEY_GLOBEX})).json() == {"jobs": []}
        assert (
            await http.get(f"/acquire/jobs/{job_id}", headers={"X-API-Key": KEY_GLOBEX})
        ).status_code == 404

        await run_real_worker(settings)

        result = (await http.get(f"/acquire/jobs/{job_id}/result", headers=ACME)).json()
        assert result["state"] == "completed"
        filings = result["result"]["companies"][0]["filings"]
        assert [(f["form"], f["fiscal_year"]) for f in filings] == [("10-K", 2024)]
        token = (await http.post(f"/acquire/jobs/{job_id}/token", headers=ACME)).json()["token"]
        events = await http.get(f"/acquire/jobs/{job_id}/events", params={"token": token})
        names = [e["event"] for e in _sse_events(events.text)]
        assert names[0] == "job_queued" and names[-1] == "job_completed"
        assert "item_completed" in names
    # The lifespan ran its shutdown: the router (and its client) are gone from the app.
    assert not any(isinstance(route, Mount) for route in app.router.routes)


@pytest.mark.parametrize("name", FACTORIES)
async def test_example_apps_never_redirect_to_the_host_a_client_names(
    name: str, settings: Settings, redis: aioredis.Redis
) -> None:
    app = FACTORIES[name](settings, api_keys=API_KEYS, token_secret=SECRET)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        for path in ("/acquire", "/healthz/", "/acquire/jobs/"):
            response = await http.get(path, headers={**ACME, "Host": "attacker.example"})
            # Starlette and FastAPI build trailing-slash redirects from the Host header.
            assert not response.is_redirect, (path, response.status_code, response.headers.get("location"))
            assert response.status_code == 404, (path, response.status_code)


async def test_fastapi_app_keeps_its_own_openapi_routes(settings: Settings, redis: aioredis.Redis) -> None:
    app = fastapi_app.create_app(settings, api_keys=API_KEYS, token_secret=SECRET)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        schema = (await http.get("/openapi.json")).json()
        assert "/healthz" in schema["paths"]
        assert (await http.get("/acquire/jobs", headers=ACME)).json() == {"jobs": []}


def test_api_keys_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_API_KEYS", f" {KEY_ACME}:acme , {KEY_GLOBEX}:globex ")
    assert _config.api_keys_from_env() == {KEY_ACME: "acme", KEY_GLOBEX: "globex"}
    monkeypatch.delenv("EXAMPLE_API_KEYS")
    assert _config.api_keys_from_env() == {_config.DEFAULT_API_KEY: "demo"}
    monkeypatch.setenv("EXAMPLE_TOKEN_SECRET", SECRET)
    assert _config.token_secret_from_env() == SECRET


@pytest.mark.parametrize("value", ["no-colon-here", ":acme", "key-without-org:", " , "])
def test_malformed_api_keys_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="EXAMPLE_API_KEYS"):
        _config.parse_api_keys(value)


def test_short_api_keys_are_refused_at_app_creation() -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        starlette_app.create_app(api_keys={"short": "acme"}, token_secret=SECRET)
