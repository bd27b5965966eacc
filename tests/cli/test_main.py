"""The `acquire` command: clear one-line errors, exit codes, and the submit/status/result flow."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import redis.asyncio as aioredis

from acquire.ids import ID_PATTERN, new_job_id
from acquire.settings import Settings
from acquire.testing.replay import ReplayServer
from tests.support.jobs import run_real_worker


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SEC_", "ACQUIRE_", "REDIS_URL"))}
    return subprocess.run(
        [sys.executable, "-m", "acquire", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["submit", "sec_filings", "--org", "acme", "--companies", "NV:DA", "--years", "2024"],
            "companies.0",
        ),
        (["submit", "sec_filings", "--org", "acme", "--companies", "NVDA", "--years", "1900"], "years.0"),
        (["submit", "sec_filings", "--org", "acme", "--companies", "NVDA"], "years"),
        (["submit", "risk_drift", "--org", "acme", "--ticker", "NVDA", "--years", "2023", "2024"], "years"),
        (["submit", "sec_filings", "--org", "acme", "--json", "[1]", "--years", "2024"], "JSON object"),
        (["submit", "xbrl_facts", "--org", "a:b", "--companies", "NVDA", "--years", "2024"], "organisation"),
    ],
)
def test_bad_arguments_are_one_clear_line(args: list[str], message: str, redis_url: str) -> None:
    result = run_cli(*args, env={"REDIS_URL": redis_url})
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bad_setting_is_one_clear_line() -> None:
    result = run_cli("status", "x" * 22, "--org", "acme", env={"WORKER_CONCURRENCY": "lots"})
    assert result.returncode == 1
    assert "WORKER_CONCURRENCY" in result.stderr and "Traceback" not in result.stderr


def test_unknown_job_is_reported(redis_url: str) -> None:
    result = run_cli("status", "A" * 22, "--org", "acme", env={"REDIS_URL": redis_url})
    assert result.returncode == 1
    assert "JobNotFoundError" in result.stderr and "Traceback" not in result.stderr


async def test_submit_status_result_flow(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer
) -> None:
    env = {"REDIS_URL": settings.redis_url}
    submitted = run_cli(
        "submit", "sec_filings", "--org", "acme", "--companies", "NVDA", "--years", "2024", env=env
    )
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    assert len(job_id) == 22
    early = run_cli("result", job_id, "--org", "acme", env=env)
    assert early.returncode == 1 and "JobNotFinishedError" in early.stderr
    await run_real_worker(settings)
    status = run_cli("status", job_id, "--org", "acme", env=env)
    assert json.loads(status.stdout)["state"] == "completed"
    result = run_cli("result", job_id, "--org", "acme", "--json", env=env)
    assert json.loads(result.stdout)["companies"][0]["filings"][0]["fiscal_year"] == 2024
    watched = run_cli("watch", job_id, "--org", "acme", env=env)
    assert watched.returncode == 0 and "100%" in watched.stdout
    other = run_cli("status", job_id, "--org", "globex", env=env)
    assert other.returncode == 1 and "JobNotFoundError" in other.stderr


def test_job_ids_never_read_as_options() -> None:
    # One url-safe character in 64 is "-": of 5,000 plain random ids about 80 would start with it.
    ids = [new_job_id() for _ in range(5000)]
    assert all(ID_PATTERN.match(job_id) and not job_id.startswith("-") for job_id in ids)
    assert len(set(ids)) == len(ids)
