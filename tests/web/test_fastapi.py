"""The router mounted in a FastAPI application, with its shutdown in the app's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from acquire.client import AcquireClient
from acquire.settings import Settings
from tests.support.jobs import drain
from tests.support.web import ACME, GLOBEX, sec_body, serve, sse

from .conftest import make_router


async def test_mounted_in_fastapi(client: AcquireClient, settings: Settings) -> None:
    router = make_router(client)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await router.aclose()

    app = FastAPI(lifespan=lifespan)
    app.mount("/api/acquire", router)

    @app.get("/health")
    async def health() -> dict[str, int]:
        return {"sse_clients": router.fanout.stats().subscribers}

    async with serve(app) as base, httpx.AsyncClient(timeout=30) as http:
        url = f"{base}/api/acquire"
        submitted = await http.post(f"{url}/jobs", json=sec_body("NVDA"), headers=ACME)
        assert submitted.status_code == 202
        job_id = submitted.json()["job_id"]
        assert submitted.headers["location"] == f"/api/acquire/jobs/{job_id}"
        await drain(settings)
        stream = await sse(http, f"{url}/jobs/{job_id}/events", headers=ACME)
        assert stream.names[0] == "job_queued" and stream.names[-1] == "job_completed"
        token = (await http.post(f"{url}/jobs/{job_id}/token", headers=ACME)).json()
        assert token["events_url"] == f"/api/acquire/jobs/{job_id}/events"
        assert (await http.get(f"{url}/jobs/{job_id}", headers=GLOBEX)).status_code == 404
        assert (await http.get(f"{base}/health")).json() == {"sse_clients": 0}
        assert [j["job_id"] for j in (await http.get(f"{url}/jobs", headers=ACME)).json()["jobs"]] == [job_id]
