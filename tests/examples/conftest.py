"""Fixtures for the example tests: an ASGI app under uvicorn (lifespan on) and a live worker."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
import uvicorn
from arq.worker import Worker
from starlette.types import ASGIApp

from acquire.settings import Settings
from acquire.worker import build_worker_settings

KEY_ACME = "acme-key-0123456789abcdef"
KEY_GLOBEX = "globex-key-0123456789abcdef"
API_KEYS = {KEY_ACME: "acme", KEY_GLOBEX: "globex"}
SECRET = "example-tests-secret-0123456789abcdef"


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on a loopback port, lifespan included; yields the base URL.

    The socket listens before uvicorn starts, so clients may connect at once: the kernel
    queues them until startup (the app's lifespan) has finished.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(app, lifespan="on", log_level="warning", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def live_worker(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[Worker]:
    """A long-running arq worker with acquire's real job kinds, in this event loop."""
    cls = build_worker_settings(settings, extra_functions=[], serve_metrics=False)
    kwargs = {k: v for k, v in vars(cls).items() if not k.startswith("__")}
    worker = Worker(**{**kwargs, "burst": False, "handle_signals": False})
    task = asyncio.create_task(worker.async_run())
    yield worker
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await worker.close()
