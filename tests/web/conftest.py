"""Fixtures for the web tests: a client, and the router mounted in a Starlette app on uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.routing import Mount

from acquire.client import AcquireClient
from acquire.settings import Settings
from acquire.web import AcquireRouter, api_key_authorizer, create_router
from tests.support.web import GATES, KEY_ACME, KEY_GLOBEX, SECRET, WRITTEN, serve

from .server_log import server_log  # noqa: F401 (a fixture for the tests here)


@dataclass
class Web:
    """A running server: ``url`` is the router's base (the mount point)."""

    url: str
    router: AcquireRouter
    http: httpx.AsyncClient
    client: AcquireClient


@pytest.fixture
async def client(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[AcquireClient]:
    c = await AcquireClient.connect(settings)
    yield c
    await c.close()


@pytest.fixture(autouse=True)
def _gates() -> None:
    GATES.clear()
    WRITTEN.clear()


def make_router(client: AcquireClient, **options: Any) -> AcquireRouter:
    authorize = api_key_authorizer({KEY_ACME: "acme", KEY_GLOBEX: "globex"})
    options.setdefault("token_secret", SECRET)
    options.setdefault("cookie_secure", False)  # the tests speak plain http on loopback
    return create_router(client, authorize, **options)


@pytest.fixture
async def web_factory(client: AcquireClient) -> AsyncIterator[Any]:
    """Start servers with custom router options; all are stopped at the end of the test."""
    stack: list[Any] = []

    async def start(**options: Any) -> Web:
        router = make_router(client, **options)
        app = Starlette(routes=[Mount("/acquire", router)])
        cm = serve(app)
        base = await cm.__aenter__()
        http = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=500))
        stack.append((cm, router, http))
        return Web(f"{base}/acquire", router, http, client)

    yield start
    for cm, router, http in reversed(stack):
        await http.aclose()
        await router.aclose()
        await cm.__aexit__(None, None, None)


@pytest.fixture
async def web(web_factory: Any) -> Web:
    server: Web = await web_factory()
    return server
