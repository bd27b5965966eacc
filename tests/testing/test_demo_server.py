"""The demo's web server runs with the limits on slow and idle clients (what the examples use)."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, Router

from acquire.testing.demo import demo_app, server_config
from acquire.web.serving import uvicorn_limits


def test_the_demo_server_caps_connections_request_heads_and_idle_time() -> None:
    config = server_config(Starlette(), 8765)
    limits = uvicorn_limits()
    assert (config.host, config.port) == ("127.0.0.1", 8765)
    assert config.http == limits["http"] == "h11"
    assert config.limit_concurrency == limits["limit_concurrency"]
    assert config.h11_max_incomplete_event_size == limits["h11_max_incomplete_event_size"]
    assert config.timeout_keep_alive == limits["timeout_keep_alive"]


async def test_the_demo_app_never_redirects_to_the_host_a_client_names() -> None:
    app = demo_app(Router(routes=[Route("/jobs", PlainTextResponse("jobs"))]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as http:
        assert (await http.get("/acquire/jobs")).text == "jobs"
        # Starlette would answer 307 to http://attacker.example/acquire/ (its Host header).
        response = await http.get("/acquire", headers={"Host": "attacker.example"})
        assert not response.is_redirect and response.status_code == 404, response.headers
