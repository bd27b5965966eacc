"""The worker's background document sweep during a Redis outage (acquire.jobs.resources)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import redis.asyncio as aioredis

from acquire.jobs.resources import _sweep_forever
from acquire.store.blobs import DirectoryBlobs
from acquire.store.documents import DocumentStore
from acquire.testing.embedded import EmbeddedRedis
from tests.web.server_log import ServerLog


async def test_a_sweep_during_an_outage_logs_one_line_without_a_traceback(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis").start()
    redis = aioredis.Redis.from_url(server.url)  # no retries: the outage fails the sweep at once
    store = DocumentStore(redis, DirectoryBlobs(tmp_path / "blobs"))
    server.stop()
    records = ServerLog()
    logger = logging.getLogger("acquire.documents")
    logger.addHandler(records)
    sweeper = asyncio.create_task(_sweep_forever(store))
    try:
        async with asyncio.timeout(30):  # a failure guard; the first sweep runs at once
            await records.seen.wait()
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        logger.removeHandler(records)
        await redis.aclose()
    [record] = records.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("document sweep skipped, Redis unavailable")
    assert record.exc_info is None
