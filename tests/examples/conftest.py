"""Fixtures for the example tests: an ASGI app under uvicorn (lifespan on) and a live worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from arq.worker import Worker
from starlette.types import ASGIApp

from acquire.settings import Settings
from acquire.worker import create_worker
from tests.support.web import serve as serve_on_loopback

from .browser import binaries

KEY_ACME = "acme-key-0123456789abcdef"
KEY_GLOBEX = "globex-key-0123456789abcdef"
API_KEYS = {KEY_ACME: "acme", KEY_GLOBEX: "globex"}
SECRET = "example-tests-secret-0123456789abcdef"


def serve(app: ASGIApp) -> contextlib.AbstractAsyncContextManager[str]:
    """Run ``app`` under uvicorn on a loopback port with its lifespan; yields the base URL."""
    return serve_on_loopback(app, lifespan="on")


@pytest.fixture
async def live_worker(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[Worker]:
    """A long-running arq worker with acquire's real job kinds, in this event loop."""
    worker = create_worker(settings, extra_functions=[])
    task = asyncio.create_task(worker.async_run())
    yield worker
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await worker.close()


@pytest.fixture
def browser_binaries() -> tuple[str, str]:
    """Chromium and chromedriver; without them the test is reported as not run (failed in CI)."""
    return binaries()
