"""The embedded Redis of ``acquire worker`` outlives the graceful shutdown, never the process.

``acquire worker`` runs with no ``REDIS_URL`` (so it starts its embedded Redis in
``ACQUIRE_DATA_DIR``) and a 2 s grace period. A risk-drift job is stuck in an upstream request
(the replay server holds the ticker map for two minutes) when the worker is stopped:

- SIGTERM to the process, SIGINT to its process group (a terminal's Ctrl-C): Redis, in a
  process group of its own, is untouched by the signal; the worker cancels the job after the
  grace period, re-queues it into the still running Redis, exits 0, and then stops Redis.
- SIGKILL of the worker: nothing runs in it any more, yet Redis exits too (its guard sees
  the end of the pipe the dead process held).

Each time no ``redis-server`` is left, and the data directory (append-only file) is read
again afterwards to see where the job stands.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.models import EventType, JobState, RiskDriftRequest
from acquire.settings import Settings
from acquire.testing.embedded import EmbeddedRedis
from acquire.testing.replay import Fault, ReplayServer
from tests.support.processes import Lines, kill_if_running, redis_servers

GRACE = 2
USER_AGENT = "acquire tests tests@example.com"


def _env(upstream: ReplayServer, data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "REDIS_URL" and not k.startswith(("SEC_", "ACQUIRE_", "WORKER_", "YAHOO_"))
    }
    env.update({name.upper(): value for name, value in upstream.settings_overrides().items()})
    env.update(
        SEC_USER_AGENT=USER_AGENT,
        ACQUIRE_DATA_DIR=str(data_dir),
        ACQUIRE_SHUTDOWN_GRACE=str(GRACE),
        METRICS_PORT="0",
        WORKER_CONCURRENCY="2",
    )
    return env


@contextlib.contextmanager
def _worker(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], Lines]]:
    """``acquire worker`` as the leader of its own process group, once it is ready."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "acquire", "worker"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stderr is not None
    log = Lines(proc.stderr)
    try:
        assert log.wait_for("acquire worker ready", 60), str(log)[-3000:]
        yield proc, log
    finally:
        kill_if_running(proc)


async def _where_the_job_stands(redis_dir: Path, job_id: str, settings: Settings) -> dict[str, object]:
    with EmbeddedRedis(redis_dir, appendonly=True) as server:
        async with await AcquireClient.connect(
            settings.model_copy(update={"redis_url": server.url})
        ) as client:
            status = await client.job("acme", job_id).status()
        redis = aioredis.Redis.from_url(server.url)
        try:
            queues = {settings.acquire_queue, settings.acquire_analysis_queue}
            queued = [q for q in queues if await redis.zscore(q, job_id) is not None]
            in_progress = bool(await redis.exists(f"arq:in-progress:{job_id}"))
        finally:
            await redis.aclose()
    return {"state": status.state, "queued": bool(queued), "in_progress": in_progress}


@pytest.mark.timeout(240)  # a worker process started, a job run and stopped: slow on a busy machine
@pytest.mark.parametrize("how", ["sigterm", "sigint-to-group", "sigkill"])
async def test_embedded_redis_outlives_the_graceful_shutdown_and_never_the_process(
    how: str, upstream: ReplayServer, tmp_path: Path
) -> None:
    upstream.inject(r"^/www\.sec\.gov/files/company_tickers\.json", Fault(delay=120))
    redis_dir = tmp_path / "redis"
    settings = Settings(redis_url=f"unix://{redis_dir / 'redis.sock'}", sec_user_agent=USER_AGENT)
    with _worker(_env(upstream, tmp_path)) as (worker, log):
        async with await AcquireClient.connect(settings) as client:
            job = await client.submit("acme", RiskDriftRequest(ticker="NVDA", years=[2025, 2024]))
            async for event in job.events():
                if event.event == EventType.JOB_STARTED:
                    break
        (redis,) = redis_servers(redis_dir)
        # Redis runs under its guard, in the guard's process group, not the worker's.
        assert os.getpgid(redis.pid) == redis.ppid() != os.getpgid(worker.pid)
        if how == "sigterm":
            worker.send_signal(signal.SIGTERM)
        elif how == "sigint-to-group":
            os.killpg(worker.pid, signal.SIGINT)
        else:
            worker.kill()
        code = await asyncio.to_thread(worker.wait, GRACE + 30)
        await asyncio.to_thread(redis.wait, 30)
        assert not redis.is_running() or redis.status() == psutil.STATUS_ZOMBIE
    assert redis_servers(redis_dir) == []
    stands = await _where_the_job_stands(redis_dir, job.job_id, settings)
    if how == "sigkill":
        # Killed mid-job, the worker could not hand the job back: arq runs it again once its
        # in-progress marker expires. Redis still wrote everything down before it exited.
        assert code == -signal.SIGKILL
        assert stands == {"state": JobState.RUNNING, "queued": True, "in_progress": True}
    else:
        assert code == 0, str(log)[-3000:]
        assert stands == {"state": JobState.RETRYING, "queued": True, "in_progress": False}
        assert "1 ongoing to cancel" in str(log)  # the grace period ran out
