"""acquire inside a host's own arq worker, and a host's function on acquire's worker: one real
``arq`` worker process runs a host job and an acquire job, sharing startup, shutdown and ``ctx``."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.ids import new_job_id
from acquire.models import ItemState, JobState, SecFilingsRequest
from acquire.results import SecFilingsResult
from acquire.settings import Settings
from acquire.testing.replay import ReplayServer

ROOT = Path(__file__).resolve().parents[2]


def _worker_env(settings: Settings, upstream: ReplayServer, run: str) -> dict[str, str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("SEC_", "ACQUIRE_", "REDIS_URL", "WORKER_"))
    }
    overrides = {name.upper(): value for name, value in upstream.settings_overrides().items()}
    return {
        **base,
        **overrides,
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": settings.redis_url,
        "SEC_USER_AGENT": settings.sec_user_agent or "",
        "ACQUIRE_POLL_DELAY": "0.01",
        "METRICS_PORT": "0",
        "HOST_RUN": run,
    }


@pytest.mark.parametrize(
    ("worker_class", "at_host_shutdown"),
    [
        ("HostWorkerSettings", b"acquire closed"),  # the host composed acquire's shutdown first
        ("AcquireWithHost", b"acquire still open"),  # a host's shutdown runs before acquire's
    ],
)
async def test_host_function_and_acquire_job_in_one_worker_process(
    worker_class: str,
    at_host_shutdown: bytes,
    settings: Settings,
    redis: aioredis.Redis,
    upstream: ReplayServer,
) -> None:
    run = new_job_id()
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024], download=False))
        await client.redis.enqueue_job("host_echo", {"run": run}, _queue_name=settings.acquire_queue)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "arq",
            f"tests.support.host_worker.{worker_class}",
            "--burst",
            cwd=ROOT,
            env=_worker_env(settings, upstream, run),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode == 0, output.decode()[-3000:]
        assert (await job.status()).state == JobState.COMPLETED, output.decode()[-3000:]
        result = await job.result()
        assert isinstance(result, SecFilingsResult)
        assert result.companies[0].state == ItemState.COMPLETED and result.companies[0].filings
        assert {f.status for f in result.companies[0].filings} == {"listed"}
        # the host's job ran in the same process: its startup ran and acquire's services were there
        assert await redis.get(f"host:{run}:echo") == b"hello from the host, acquire ready"
        # both shutdown hooks ran, in the composed order
        assert await redis.get(f"host:{run}:shutdown") == at_host_shutdown
