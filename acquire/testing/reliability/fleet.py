"""A fleet of real ``arq acquire.WorkerSettings`` processes, and audits of what they produced.

Shared by the reliability tests and ``bench/reliability.py``: start and stop worker
processes pointed at a Redis and a replay server, submit a mix of SEC/XBRL jobs, await them
through their event streams, and check every job's result and event stream for loss and
duplication.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from acquire.client import AcquireClient, JobHandle
from acquire.errors import JobFailedError
from acquire.models import JobRequest, JobState, JobStatus, SecFilingsRequest, XbrlFactsRequest
from acquire.settings import Settings
from acquire.store import keys
from acquire.testing.replay import SEC_HOSTS, LoggedRequest

__all__ = [
    "Audit",
    "Fleet",
    "audit_jobs",
    "await_all",
    "fleet_env",
    "max_in_window",
    "mixed_requests",
    "submit_all",
]

#: Small limits so arq re-runs a killed worker's jobs soon (its in-progress key expires).
FAST_LIMITS = {
    "ACQUIRE_JOB_TIMEOUT": "5",
    "ACQUIRE_ANALYSIS_TIMEOUT": "5",
    "ACQUIRE_ANALYSIS_SOFT_TIMEOUT": "4",
    "ACQUIRE_RECONCILE_AFTER": "5",
    "ACQUIRE_RETRY_BASE": "0.2",
    "ACQUIRE_RETRY_MAX": "1",
    "ACQUIRE_POLL_DELAY": "0.05",
    # The scenarios run one org on up to 3 workers x 8 slots: a per-org share of the whole
    # fleet, as the README advises for a single busy org (the gate still runs every item).
    "ACQUIRE_ORG_MAX_INFLIGHT_ITEMS": "24",
}


def fleet_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment of a worker process talking to ``settings``' Redis and upstreams."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEC_", "ACQUIRE_", "WORKER_", "YAHOO_"))}
    env.update(
        REDIS_URL=settings.redis_url,
        SEC_USER_AGENT=settings.sec_user_agent,
        SEC_WWW_BASE_URL=settings.sec_www_base_url,
        SEC_DATA_BASE_URL=settings.sec_data_base_url,
        YAHOO_BASE_URL=settings.yahoo_base_url,
        YAHOO_COOKIE_URL=settings.yahoo_cookie_url,
        METRICS_PORT="0",
        WORKER_CONCURRENCY="8",
        LOGGING_LEVEL="WARNING",
        **FAST_LIMITS,
    )
    env.update(overrides)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Fleet:
    """Worker processes (``python -m arq acquire.WorkerSettings``), logs kept in ``log_dir``.

    With ``metrics=True`` each worker serves its Prometheus metrics on a port of its own, so a
    test can see what one worker is doing (:meth:`current_jobs`).
    """

    def __init__(self, env: Mapping[str, str], log_dir: Path, *, metrics: bool = False) -> None:
        self.env = dict(env)
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.metrics_ports: list[int] = []
        self._metrics = metrics
        self._logs: list[IO[bytes]] = []

    def start(self, count: int = 1) -> list[int]:
        """Start ``count`` more workers; returns their indexes."""
        started = []
        for _ in range(count):
            index = len(self.procs)
            log = (self.log_dir / f"worker-{index}.log").open("wb")
            port = _free_port() if self._metrics else 0
            proc = subprocess.Popen(
                [sys.executable, "-m", "arq", "acquire.WorkerSettings"],
                env={**self.env, "METRICS_PORT": str(port)},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            self.procs.append(proc)
            self.metrics_ports.append(port)
            self._logs.append(log)
            started.append(index)
        return started

    async def current_jobs(self, index: int) -> float | None:
        """Worker ``index``'s ``worker_current_jobs`` gauge; ``None`` before it serves metrics."""
        url = f"http://127.0.0.1:{self.metrics_ports[index]}/metrics"
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                text = (await http.get(url)).text
        except httpx.TransportError:
            return None
        for family in text_string_to_metric_families(text):
            if family.name == "worker_current_jobs":
                return float(family.samples[0].value)
        return None

    def signal(self, index: int, sig: signal.Signals) -> None:
        self.procs[index].send_signal(sig)

    def wait(self, index: int, timeout: float) -> int:
        """Wait for worker ``index`` to exit; its exit code (negative: killed by a signal)."""
        return self.procs[index].wait(timeout=timeout)

    def log(self, index: int) -> str:
        self._logs[index].flush()
        return (self.log_dir / f"worker-{index}.log").read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM every live worker, then SIGKILL any that does not exit."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self._logs:
            log.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def mixed_requests(count: int) -> list[JobRequest]:
    """The SEC/XBRL mix: filings of NVDA+TSLA (10-K, 2023-2024, downloaded), facts of AAPL+NVDA."""
    sec = SecFilingsRequest(companies=["NVDA", "TSLA"], form_types=["10-K"], years=[2023, 2024])
    xbrl = XbrlFactsRequest(companies=["AAPL", "NVDA"], years=[2023, 2024])
    return [sec if n % 2 == 0 else xbrl for n in range(count)]


async def submit_all(client: AcquireClient, org: str, requests: Sequence[JobRequest]) -> list[JobHandle[Any]]:
    return [await client.submit(org, request) for request in requests]


async def await_all(handles: Sequence[JobHandle[Any]], timeout: float) -> list[JobStatus]:  # noqa: ASYNC109
    """Every job's final status, following event streams (bounded concurrency)."""
    gate = asyncio.Semaphore(50)

    async def one(handle: JobHandle[Any]) -> JobStatus:
        async with gate:
            return await handle.wait(timeout=timeout)

    async with asyncio.timeout(timeout):
        return list(await asyncio.gather(*(one(h) for h in handles)))


@dataclass
class Audit:
    """What the stored records of a batch of jobs say."""

    jobs: int = 0
    final: int = 0
    states: Counter[str] = field(default_factory=Counter)
    duplicates: list[str] = field(default_factory=list)
    reruns: int = 0  # jobs whose run started more than once (re-delivered after a crash/stop)
    retries: int = 0  # job_retrying events
    item_errors: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "jobs": self.jobs,
            "final": self.final,
            "states": dict(self.states),
            "duplicates": len(self.duplicates),
            "reruns": self.reruns,
            "retries": self.retries,
        }


async def _events(client: AcquireClient, handle: JobHandle[Any]) -> list[tuple[str, dict[str, Any]]]:
    entries = await client.redis.xrange(keys.job_events(handle.org, handle.job_id), "-", "+")
    out = []
    for _, fields in entries:
        event = fields[b"event"].decode()
        out.append((event, json.loads(fields[b"data"]) if fields.get(b"data") else {}))
    return out


def _result_duplicates(job_id: str, result: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    companies = result.get("companies", [])
    seen = Counter(c.get("company") for c in companies)
    found += [f"{job_id}: company {name} listed {n} times" for name, n in seen.items() if n > 1]
    for company in companies:
        accessions = Counter(f.get("accession") for f in company.get("filings", []))
        found += [f"{job_id}: filing {a} listed {n} times" for a, n in accessions.items() if n > 1]
    return found


async def audit_jobs(client: AcquireClient, handles: Sequence[JobHandle[Any]]) -> Audit:
    """Check every job: final status, one terminal event, no step or item reported twice."""
    audit = Audit(jobs=len(handles))
    for handle in handles:
        status = await handle.status()
        audit.states[status.state.value] += 1
        if not status.state.final:
            continue
        audit.final += 1
        events = await _events(client, handle)
        names = Counter(name for name, _ in events)
        terminal = names["job_completed"] + names["job_failed"]
        if terminal != 1:
            audit.duplicates.append(f"{handle.job_id}: {terminal} terminal events")
        steps = Counter(data.get("step") for name, data in events if name == "step_complete")
        audit.duplicates += [
            f"{handle.job_id}: step {s} reported {n} times" for s, n in steps.items() if n > 1
        ]
        items = Counter(
            data.get("item") for name, data in events if name in ("item_completed", "item_failed")
        )
        audit.duplicates += [
            f"{handle.job_id}: item {i} reported {n} times" for i, n in items.items() if n > 1
        ]
        audit.reruns += names["job_started"] > 1
        audit.retries += names["job_retrying"]
        with contextlib.suppress(JobFailedError):  # a failed job has no result to check
            result = (await handle.result()).model_dump(mode="json")
            audit.duplicates += _result_duplicates(handle.job_id, result)
        for item in await handle.items():
            if item.error_type:
                audit.item_errors[item.error_type] += 1
    return audit


def max_in_window(log: Sequence[LoggedRequest], window: float = 1.0) -> int:
    """The most requests to SEC hosts that arrived within any ``window`` seconds."""
    times = sorted(r.at for r in log if r.host in SEC_HOSTS)
    best = start = 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def final_states() -> frozenset[str]:
    return frozenset(s.value for s in JobState if s.final)


def now() -> float:
    return time.monotonic()
