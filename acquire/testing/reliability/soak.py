"""Scenario: the soak. Many small jobs, each followed over SSE, with worker and web RSS read
before and after so that memory kept per job shows as growth."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from acquire.client import AcquireClient, JobHandle
from acquire.models import SecFilingsRequest
from acquire.settings import Settings
from acquire.store import keys
from acquire.testing.reliability.fleet import Fleet, final_states, fleet_env, now, submit_all
from acquire.testing.reliability.scenarios import ORG
from acquire.testing.reliability.web import (
    TERMINAL_EVENTS,
    Followers,
    WebProcess,
    rss_mb,
    stream_mismatches,
)

__all__ = ["light_audit", "run_soak", "soak_request"]


def soak_request() -> SecFilingsRequest:
    """A cheap job: one company's 10-K list for one year from cached JSON, nothing downloaded."""
    return SecFilingsRequest(companies=["NVDA"], form_types=["10-K"], years=[2024], download=False)


async def light_audit(client: AcquireClient, handles: Sequence[JobHandle[Any]]) -> dict[str, Any]:
    """States and terminal-event counts of many jobs, read in pipelined chunks."""
    states: Counter[str] = Counter()
    bad_terminal = 0
    for start in range(0, len(handles), 500):
        chunk = handles[start : start + 500]
        async with client.redis.pipeline(transaction=False) as pipe:
            for h in chunk:
                pipe.hget(keys.job_status(h.org, h.job_id), "state")
                pipe.xrange(keys.job_events(h.org, h.job_id), "-", "+")
            replies = await pipe.execute()
        for state, entries in zip(replies[::2], replies[1::2], strict=True):
            states[state.decode() if state else "missing"] += 1
            terminal = sum(1 for _, f in entries if f[b"event"].decode() in TERMINAL_EVENTS)
            bad_terminal += terminal != 1
    final = sum(n for s, n in states.items() if s in final_states())
    return {"jobs": len(handles), "final": final, "states": dict(states), "bad_terminal": bad_terminal}


def _rss(fleet: Fleet, web: WebProcess) -> dict[str, Any]:
    return {"workers_mb": [rss_mb(p.pid) for p in fleet.procs], "web_mb": rss_mb(web.proc.pid)}


async def _pass(
    client: AcquireClient, web: WebProcess, count: int, clients: int
) -> tuple[list[JobHandle[Any]], Followers]:
    handles = await submit_all(client, ORG, [soak_request()] * count)
    sse = Followers(web.url)
    await sse.follow_all([h.job_id for h in handles], clients)
    return handles, sse


async def run_soak(
    settings: Settings, work: Path, *, jobs: int = 10_000, clients: int = 100
) -> dict[str, Any]:
    """``jobs`` small jobs through 2 workers, every one followed over SSE by one of ``clients``.

    A warm-up pass (5%, at least 200 jobs) loads code and caches first; RSS is then read from
    ``/proc`` before and after the measured pass, so growth means memory kept per job.
    """
    env = fleet_env(
        settings, WORKER_CONCURRENCY="20", RELIABILITY_ORG=ORG, ACQUIRE_JOBS_INDEX_MAX=str(max(jobs, 1000))
    )
    async with await AcquireClient.connect(settings) as client:
        with Fleet(env, work / "workers") as fleet, WebProcess(env, work / "web.log") as web:
            fleet.start(2)
            await _pass(client, web, max(200, jobs // 20), clients)
            start_rss = _rss(fleet, web)
            started = now()
            handles, sse = await _pass(client, web, jobs, clients)
            elapsed = now() - started
            end_rss = _rss(fleet, web)
            alive = sum(p.poll() is None for p in fleet.procs) + (web.proc.poll() is None)
        audit = await light_audit(client, handles)
        mismatches = await stream_mismatches(client, handles, sse.received)
    growth = [end - start for start, end in zip(start_rss["workers_mb"], end_rss["workers_mb"], strict=True)]
    return {
        **audit,
        "lost": audit["jobs"] - audit["final"],
        "sse_clients": clients,
        "sse_connects": sse.connects,
        "sse_errors": sse.errors,
        "sse_mismatched_jobs": len(mismatches),
        "rss_start": start_rss,
        "rss_end": end_rss,
        "worker_growth_mb": [round(g, 1) for g in growth],
        "web_growth_mb": round(end_rss["web_mb"] - start_rss["web_mb"], 1),
        "processes_alive": alive,
        "elapsed_s": round(elapsed, 2),
        "jobs_per_s": round(jobs / elapsed, 1),
        "problems": mismatches[:10],
    }
