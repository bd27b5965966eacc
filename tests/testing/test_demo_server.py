"""The demo's web server runs with the limits on slow and idle clients (what the examples use)."""

from __future__ import annotations

from starlette.applications import Starlette

from acquire.testing.demo import server_config
from acquire.web.serving import uvicorn_limits


def test_the_demo_server_caps_connections_request_heads_and_idle_time() -> None:
    config = server_config(Starlette(), 8765)
    limits = uvicorn_limits()
    assert (config.host, config.port) == ("127.0.0.1", 8765)
    assert config.http == limits["http"] == "h11"
    assert config.limit_concurrency == limits["limit_concurrency"]
    assert config.h11_max_incomplete_event_size == limits["h11_max_incomplete_event_size"]
    assert config.timeout_keep_alive == limits["timeout_keep_alive"]
