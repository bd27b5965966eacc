"""The worker as users run it: `arq acquire.WorkerSettings` in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.models import JobState, SecFilingsRequest
from acquire.settings import Settings
from acquire.testing.replay import ReplayServer


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
