"""Scenario 3: Redis restarts (same data directory and socket) under a running fleet.

What "no job lost" means. Redis runs with ``appendonly yes`` and writes each command to the
AOF (the kernel's page cache) before it replies, so a Redis process that dies, even by
SIGKILL, loses no acknowledged write: every submitted job must reach a final status and every
SSE client must receive every event of its job's stream exactly once. That is what these tests
assert, for a SIGKILL with ``appendfsync always`` and a SIGTERM with ``everysec`` (a SIGKILL
with ``everysec``, tried by hand, lost nothing too). What ``everysec`` does not cover is the
machine itself failing (power cut, kernel crash): up to ~1 s of acknowledged writes may then
vanish, including a job just submitted (its status record and queue entry both gone, so nothing
can know it existed) or events already streamed to browsers. Deployments that need the strict
guarantee across machine failures use ``always`` (or a replica with ``WAIT``). The reconciler
(``ACQUIRE_RECONCILE_AFTER``) finishes jobs whose arq entry was lost while their record survived.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis, create_pool
from arq.constants import in_progress_key_prefix
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError

from acquire.client import new_job_id
from acquire.connection import connect, redis_settings
from acquire.models import EventType
from acquire.settings import Settings
from acquire.store import keys
from acquire.store.events import encode_event
from acquire.testing.embedded import EmbeddedRedis
from acquire.testing.reliability.restart import run_redis_restart
from acquire.testing.replay import ReplayServer
from acquire.web.sse import EventFanout
from acquire.worker import create_worker


def test_redis_settings_retry_commands_on_connection_errors(settings: Settings) -> None:
    configured = redis_settings(settings)
    assert configured.retry is not None
    assert configured.retry_on_error is not None
    assert RedisConnectionError in configured.retry_on_error


async def test_a_command_issued_while_redis_is_down_succeeds_once_it_is_back(tmp_path: Path) -> None:
    # The worker's poll loop, the job code and the client all use pools built from
    # redis_settings(): a command during a restart must not raise ConnectionError, which
    # would end arq's main loop and so the worker process.
    server = EmbeddedRedis(tmp_path / "redis", appendonly=True).start()
    pool = await create_pool(redis_settings(Settings(redis_url=server.url)))
    # Started from another thread while the commands below are already failing and retrying.
    restarter = threading.Thread(target=server.start)
    try:
        await pool.set("k", "before")
        server.stop()
        restarter.start()
        # Several at once: the pool's one idle connection serves one, the others open new
        # connections while the socket file is gone (a stopped Redis removes it).
        values = await asyncio.gather(*(pool.get("k") for _ in range(5)))
        assert values == [b"before"] * 5  # persisted by the AOF, read after reconnecting
    finally:
        if restarter.is_alive():
            restarter.join()
        await pool.aclose()
        server.stop()


class _KillAfterWatch(Pipeline):
    """A pipeline whose connection the server kills right after its WATCH (a restart's timing)."""

    killer: aioredis.Redis

    async def watch(self, *names: Any) -> Any:  # type: ignore[override]
        reply = await super().watch(*names)
        assert self.connection is not None
        await self.connection.send_command("CLIENT", "ID")
        own_id = await self.connection.read_response()
        await self.killer.client_kill_filter(_id=own_id)
        return reply


async def test_worker_poll_survives_a_connection_lost_between_watch_and_exec(
    settings: Settings,
    redis: aioredis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Unpatched, arq's start_jobs lets redis-py's WatchError escape the poll loop: the worker
    # process exits and the concurrency slot it had taken is never released.
    pool: ArqRedis = await connect(settings)
    worker = create_worker(settings, redis_pool=pool)
    await pool.enqueue_job("sec_filings", {"job_id": "j"}, _job_id="pickup-job")

    def pipeline(transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        pipe = _KillAfterWatch(pool.connection_pool, pool.response_callbacks, transaction, shard_hint)
        pipe.killer = redis
        return pipe

    monkeypatch.setattr(pool, "pipeline", pipeline)
    try:
        with caplog.at_level(logging.WARNING, logger="acquire.worker"):
            await worker.start_jobs([b"pickup-job"])  # unpatched arq raises WatchError here
        assert "Redis connection lost while picking up a job" in caplog.text
        assert worker.job_counter == 0 and not worker.tasks  # the slot was given back
        assert not worker.sem.locked()
        assert not await redis.exists(in_progress_key_prefix + "pickup-job")  # free for the next poll
        assert await redis.zscore(settings.acquire_queue, "pickup-job") is not None
    finally:
        await pool.aclose()


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("kill", "fsync_always"),
    [(True, True), (False, False)],
    ids=["sigkill-fsync-always", "sigterm-fsync-everysec"],
)
async def test_fleet_router_and_sse_clients_ride_out_a_redis_restart(
    upstream: ReplayServer, tmp_path: Path, kill: bool, fsync_always: bool
) -> None:
    # SIGTERM: Redis flushes its AOF and removes its socket file; SIGKILL: the file stays.
    report = await run_redis_restart(
        tmp_path, upstream, jobs=30, followers=10, kill=kill, fsync_always=fsync_always
    )
    assert report["in_flight_at_restart"] > 0, report  # the restart really happened mid-run
    assert report["alive"] == {"workers": 2, "web": True}, report
    assert report["lost"] == 0 and report["states"] == {"completed": 30}, report
    assert report["duplicates"] == 0, report["problems"]
    # Every follower got every event of its job exactly once, in order, across reconnections.
    assert report["sse"]["mismatched_jobs"] == 0, report["problems"]
    assert report["sse"]["resumes"] > 0, report
    assert report["worker_tracebacks"] == 0, report


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_fleet_rides_out_an_outage_longer_than_the_retry_budget(
    upstream: ReplayServer, tmp_path: Path
) -> None:
    # Before arq_patches waited for Redis, the first of arq's commands past the budget (a
    # poll, a job's start pipeline or its finish) ended the worker process; jobs then waited
    # for a worker started by hand. 8 s down against a budget of a fraction of a second.
    report = await run_redis_restart(
        tmp_path, upstream, jobs=6, followers=3, kill=True, down_s=8, redis_retries=2
    )
    assert report["in_flight_at_restart"] > 0, report
    assert report["waits_for_redis"] > 0, report  # the outage outlasted the retry budget
    assert report["alive"] == {"workers": 2, "web": True}, report
    assert report["lost"] == 0 and report["states"] == {"completed": 6}, report
    assert report["duplicates"] == 0, report["problems"]
    assert report["sse"]["mismatched_jobs"] == 0, report["problems"]


async def test_fanout_still_wakes_for_new_jobs_after_a_wake_up_failed(tmp_path: Path) -> None:
    # A subscribe during a Redis outage fails to write its wake-up entry; the fan-out must not
    # believe a wake-up is pending forever, or the next new job's events would wait for the
    # reader's BLOCK to time out (here 10 minutes) instead of arriving at once.
    server = EmbeddedRedis(tmp_path / "redis", appendonly=True).start()
    client = aioredis.Redis.from_url(server.url)  # no retries: the outage fails the wake-up at once
    fanout = EventFanout(client, block_ms=600_000)
    try:
        server.stop()
        with pytest.raises(RedisConnectionError):
            await fanout.subscribe("acme", new_job_id())
        server.start()
        await _reader_blocked(client)  # the reader is back, blocked in XREAD without the new job
        job_id = new_job_id()
        async with await fanout.subscribe("acme", job_id) as sub:
            stream = keys.job_events("acme", job_id)
            await client.xadd(stream, encode_event(EventType.JOB_STARTED))
            async with asyncio.timeout(30):  # a failure guard, far below the 600 s BLOCK
                item = await sub.get()
        assert item is not None and item.event.event == EventType.JOB_STARTED
    finally:
        await fanout.aclose()
        await client.aclose()
        server.stop()


async def _reader_blocked(client: aioredis.Redis) -> None:
    """Until the fan-out's reader connection is blocked in XREAD (Redis has no event for it)."""
    async with asyncio.timeout(30):
        while not any(  # noqa: ASYNC110
            c.get("name") == "acquire-sse-fanout" and "b" in c.get("flags", "")
            for c in await client.client_list()
        ):
            await asyncio.sleep(0.02)
