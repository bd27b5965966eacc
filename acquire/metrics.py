"""Prometheus metrics, with the names of the original worker design.

``source`` is the job kind (``sec_filings``, ``xbrl_facts``, ``yahoo``, ``risk_drift``,
``webhook``). Metrics live in a registry of their own so that importing acquire never adds
series to a host application's default registry.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = [
    "CURRENT_JOBS",
    "JOBS_TOTAL",
    "JOB_DURATION",
    "JOB_FAILURES",
    "JOB_RETRIES",
    "QUEUE_DEPTH",
    "REGISTRY",
    "RUNNING",
    "KindMetrics",
    "for_kind",
    "serve",
]

REGISTRY = CollectorRegistry(auto_describe=True)

JOBS_TOTAL = Counter(
    "worker_jobs_total", "Jobs that reached a final status, by source.", ["source"], registry=REGISTRY
)
JOB_FAILURES = Counter(
    "worker_job_failures", "Jobs that ended failed or partially failed.", ["source"], registry=REGISTRY
)
JOB_RETRIES = Counter(
    "worker_job_retries", "Job attempts rescheduled after a transient error.", ["source"], registry=REGISTRY
)
JOB_DURATION = Histogram(
    "worker_job_duration_seconds",
    "Wall time of one job attempt.",
    ["source"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
    registry=REGISTRY,
)
CURRENT_JOBS = Gauge("worker_current_jobs", "Jobs running in this process.", registry=REGISTRY)


class _Running:
    """Jobs running in this process. A plain integer the gauge reads when scraped: a job
    changes it twice, and Gauge.inc/dec take a lock each time."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


RUNNING = _Running()
CURRENT_JOBS.set_function(lambda: RUNNING.count)
QUEUE_DEPTH = Gauge("worker_queue_depth", "Jobs waiting in an arq queue.", ["queue"], registry=REGISTRY)


class KindMetrics(NamedTuple):
    """The labelled series of one job kind, bound once (``labels()`` costs a lock per call)."""

    total: Counter
    failures: Counter
    retries: Counter
    duration: Histogram


@lru_cache(maxsize=64)
def for_kind(source: str) -> KindMetrics:
    """The series of job kind ``source``."""
    return KindMetrics(
        JOBS_TOTAL.labels(source), JOB_FAILURES.labels(source), JOB_RETRIES.labels(source),
        JOB_DURATION.labels(source),
    )  # fmt: skip


def serve(port: int) -> None:
    """Expose the metrics on ``port`` (0 disables). Called once per worker process."""
    if port:
        start_http_server(port, registry=REGISTRY)
