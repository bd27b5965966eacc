"""The worker as users run it: `arq acquire.WorkerSettings` in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.models import JobState, SecFilingsRequest
from acquire.settings import Settings
from acquire.testing.embedded import EmbeddedRedis
from acquire.testing.replay import ReplayServer
from tests.support.processes import Lines


def worker_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEC_", "ACQUIRE_", "WORKER_"))}
    env.update(
        REDIS_URL=settings.redis_url,
        SEC_USER_AGENT=settings.sec_user_agent,
        SEC_WWW_BASE_URL=settings.sec_www_base_url,
        SEC_DATA_BASE_URL=settings.sec_data_base_url,
        METRICS_PORT="0",
        WORKER_CONCURRENCY="4",
    )
    return env


async def test_arq_cli_worker_runs_jobs(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "arq", "acquire.WorkerSettings"],
        env=worker_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        async with await AcquireClient.connect(settings) as client:
            job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
            status = await job.wait(timeout=60)
            assert status.state == JobState.COMPLETED
            assert status.summary["filings"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()[-6000:]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SEC_USER_AGENT", "python-requests", b"SEC_USER_AGENT must declare who you are"),
        ("WORKER_CONCURENCY", "4", b"did you mean WORKER_CONCURRENCY"),
    ],
)
def test_worker_refuses_to_start_with_a_bad_setting(
    settings: Settings, name: str, value: str, message: bytes
) -> None:
    env = {**worker_env(settings), name: value}
    result = subprocess.run(
        [sys.executable, "-m", "arq", "acquire.WorkerSettings", "--burst"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr


async def test_a_worker_started_during_a_redis_outage_waits_for_redis(
    settings: Settings, upstream: ReplayServer, tmp_path: Path
) -> None:
    server = EmbeddedRedis(tmp_path / "redis")  # not started yet: the outage
    # no retries inside an attempt, so the attempts (1 s apart) show in the log quickly
    env = {
        **worker_env(settings),
        "REDIS_URL": server.url,
        "ACQUIRE_REDIS_RETRIES": "0",
        "ACQUIRE_STARTUP_WAIT": "30",
    }
    with subprocess.Popen(
        [sys.executable, "-m", "arq", "acquire.WorkerSettings"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stderr is not None
        lines = Lines(proc.stderr)
        try:
            assert lines.wait_for(", 30 retries remaining", timeout=60), str(lines)
            # arq's default 5 retries ended the worker after its 6th attempt; this is the 8th
            assert lines.wait_for(", 23 retries remaining", timeout=60), str(lines)
            assert proc.poll() is None, str(lines)
            server.start()
            up = settings.model_copy(update={"redis_url": server.url})
            async with await AcquireClient.connect(up) as client:
                job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
                status = await job.wait(timeout=60)
            assert status.state == JobState.COMPLETED, str(lines)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            lines.wait_ended(timeout=30)  # the reader thread is done before the pipe closes
            server.stop()
    assert proc.returncode == 0, str(lines)[-6000:]
