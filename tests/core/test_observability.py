"""Prometheus metrics on METRICS_PORT, and log lines that carry the job id and org."""

from __future__ import annotations

import json
import logging
import socket

import httpx
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from acquire import metrics
from acquire.client import AcquireClient
from acquire.logs import configure_logging, job_context
from acquire.models import SecFilingsRequest
from acquire.settings import Settings
from tests.support.jobs import drain


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sample(families: dict[str, dict[tuple[str, ...], float]], name: str, source: str) -> float:
    return families.get(name, {}).get((source,), 0.0)


async def _scrape(port: int) -> dict[str, dict[tuple[str, ...], float]]:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    out: dict[str, dict[tuple[str, ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = tuple(v for k, v in sorted(sample.labels.items()) if k == "source")
            out.setdefault(sample.name, {})[key] = sample.value
    return out


async def test_metrics_are_served_and_count_jobs(settings: Settings, redis: aioredis.Redis) -> None:
    port = _free_port()
    metrics.serve(port)
    before = await _scrape(port)
    async with await AcquireClient.connect(settings) as client:
        await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
        await client.submit("acme", SecFilingsRequest(companies=["BOOM"], years=[2024]))
        await client.submit("acme", SecFilingsRequest(companies=["FLAKY"], years=[2024]))
        await drain(settings)
    after = await _scrape(port)
    source = "sec_filings"
    assert _sample(after, "worker_jobs_total", source) - _sample(before, "worker_jobs_total", source) == 3
    assert (
        _sample(after, "worker_job_failures_total", source)
        - _sample(before, "worker_job_failures_total", source)
        == 1
    )
    assert (
        _sample(after, "worker_job_retries_total", source)
        - _sample(before, "worker_job_retries_total", source)
        == 2
    )
    assert _sample(after, "worker_job_duration_seconds_count", source) >= 3
    assert "worker_current_jobs" in after and after["worker_current_jobs"][()] == 0


def test_json_logs_carry_job_id_and_org(capsys: object) -> None:
    configure_logging("INFO", json_lines=True)
    token = job_context.set({"job_id": "J" * 22, "org": "acme"})
    try:
        logging.getLogger("acquire.jobs").info("fetched %d filings", 3)
    finally:
        job_context.reset(token)
        configure_logging("INFO")
    line = capsys.readouterr().err.strip().splitlines()[-1]  # type: ignore[attr-defined]
    entry = json.loads(line)
    assert entry["message"] == "fetched 3 filings"
    assert (entry["job_id"], entry["org"], entry["level"]) == ("J" * 22, "acme", "INFO")


def test_duration_buckets_are_cumulative_with_inclusive_bounds() -> None:
    # The histogram is acquire's own (lock-free) collector: its exposition must read the way
    # prometheus_client's Histogram writes it, or dashboards' quantiles go wrong.
    from prometheus_client import generate_latest

    kind = metrics.for_kind("bucket_test")
    for seconds in (0.004, 0.01, 0.0100001, 7.0, 601.0):
        kind.observe(seconds)
    kind.total += 5
    samples = {
        (s.name, s.labels.get("le")): s.value
        for family in text_string_to_metric_families(generate_latest(metrics.REGISTRY).decode())
        for s in family.samples
        if s.labels.get("source") == "bucket_test"
    }
    bucket = "worker_job_duration_seconds_bucket"
    assert samples[(bucket, "0.01")] == 2  # 0.01 itself is in the 0.01 bucket
    assert samples[(bucket, "0.05")] == 3
    assert samples[(bucket, "5.0")] == 3 and samples[(bucket, "10.0")] == 4
    assert samples[(bucket, "600.0")] == 4 and samples[(bucket, "+Inf")] == 5
    assert samples[("worker_job_duration_seconds_count", None)] == 5
    assert abs(samples[("worker_job_duration_seconds_sum", None)] - 608.0240001) < 1e-9
    assert samples[("worker_jobs_total", None)] == 5
