"""Prometheus metrics. The names (``worker_jobs_total``, ...) are what existing dashboards scrape.

``source`` is the job kind (``sec_filings``, ``xbrl_facts``, ``yahoo``, ``risk_drift``,
``webhook``). Metrics live in a registry of their own so that importing acquire never adds
series to a host application's default registry.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Gauge, start_http_server
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "CURRENT_JOBS",
    "DURATION_BUCKETS",
    "QUEUE_DEPTH",
    "REGISTRY",
    "RUNNING",
    "KindMetrics",
    "for_kind",
    "serve",
]

REGISTRY = CollectorRegistry(auto_describe=True)

#: Upper bounds (seconds) of ``worker_job_duration_seconds``'s buckets.
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class KindMetrics:
    """One job kind's counters and durations, as plain numbers read when Prometheus scrapes.

    Jobs update them on the worker's event-loop thread only, so they need no lock;
    prometheus_client's metric objects take one per update, a measurable part of a
    millisecond job's cost. Exposed as ``worker_jobs_total``, ``worker_job_failures_total``,
    ``worker_job_retries_total`` and ``worker_job_duration_seconds`` with ``source`` = kind.
    """

    __slots__ = ("buckets", "duration_sum", "failures", "retries", "total")

    def __init__(self) -> None:
        self.total = 0  #: jobs that reached a final status
        self.failures = 0  #: of those, failed or partially failed
        self.retries = 0  #: attempts rescheduled after a transient error
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)  # per bucket (not cumulative), then +Inf
        self.duration_sum = 0.0

    def observe(self, seconds: float) -> None:
        """Record the wall time of one job attempt."""
        self.buckets[bisect_left(DURATION_BUCKETS, seconds)] += 1  # a bucket's bound is inclusive
        self.duration_sum += seconds


_KINDS: dict[str, KindMetrics] = {}
# The buckets' ``le`` labels, as prometheus_client writes them ("0.01", "1.0", "+Inf").
_LE = (*(repr(float(bound)) for bound in DURATION_BUCKETS), "+Inf")


def for_kind(source: str) -> KindMetrics:
    """The metrics of job kind ``source`` (created on first use)."""
    kind = _KINDS.get(source)
    if kind is None:
        kind = _KINDS.setdefault(source, KindMetrics())  # atomic: one object per kind
    return kind


class _KindCollector(Collector):
    """Exposes every :class:`KindMetrics` when scraped."""

    def collect(self) -> Iterable[Metric]:
        kinds = list(_KINDS.items())
        for name, documentation, attribute in _COUNTERS:
            counter = CounterMetricFamily(name, documentation, labels=["source"])
            for source, kind in kinds:
                counter.add_metric([source], getattr(kind, attribute))
            yield counter
        histogram = HistogramMetricFamily(
            "worker_job_duration_seconds", "Wall time of one job attempt.", labels=["source"]
        )
        for source, kind in kinds:
            cumulative, buckets = 0, []
            for bound, count in zip(_LE, kind.buckets, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            histogram.add_metric([source], buckets, kind.duration_sum)
        yield histogram


_COUNTERS = (
    ("worker_jobs", "Jobs that reached a final status, by source.", "total"),
    ("worker_job_failures", "Jobs that ended failed or partially failed.", "failures"),
    ("worker_job_retries", "Job attempts rescheduled after a transient error.", "retries"),
)
REGISTRY.register(_KindCollector())

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


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Expose the metrics on ``host``:``port`` (port 0 disables). Called once per worker process.

    Loopback by default: a scraper on another machine needs ``METRICS_HOST`` set to an
    address it can reach (and a firewall that lets only it in).
    """
    if port:
        start_http_server(port, addr=host, registry=REGISTRY)
