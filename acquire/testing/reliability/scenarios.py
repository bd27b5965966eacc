"""The fleet scenarios (worker crash, graceful shutdown, upstream chaos), sized by the caller.

Each scenario starts its own worker processes against the given Redis and replay server,
runs to the end and returns a report (a plain dict) that the tests assert on and
``bench/reliability.py`` prints. Nothing here sleeps to synchronise: progress is awaited
through job event streams and process exits.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from arq.constants import in_progress_key_prefix, result_key_prefix

from acquire import serialization
from acquire.client import AcquireClient, JobHandle
from acquire.models import EventType, JobRequest, SecFilingsRequest, YahooRequest
from acquire.settings import Settings
from acquire.testing.reliability.fleet import (
    Fleet,
    audit_jobs,
    await_all,
    fleet_env,
    max_in_window,
    mixed_requests,
    now,
    submit_all,
)
from acquire.testing.replay import SEC_HOSTS, Fault, ReplayServer

__all__ = ["chaos_fault_maker", "run_chaos", "run_crash", "run_shutdown"]

ORG = "acme"


async def _in_flight(client: AcquireClient) -> int:
    """arq jobs being run right now (the reconciler is no arq job: every marker is one of ours)."""
    return len(await client.redis.keys(in_progress_key_prefix + "*"))


async def until_in_flight(client: AcquireClient, jobs: int, *, timeout: float) -> int:  # noqa: ASYNC109
    """Return the count once at least ``jobs`` arq jobs run at once, fleet-wide."""
    deadline = now() + timeout
    while now() < deadline:
        if (count := await _in_flight(client)) >= jobs:
            return count
        await asyncio.sleep(0.05)  # polling Redis's in-progress keys: there is no event for it
    raise AssertionError(f"the fleet never ran {jobs} jobs at once within {timeout:g} s")


async def _arq_redeliveries(client: AcquireClient) -> int:
    """arq jobs (item jobs, and jobs whose final status did not apply) that finished on a
    second or later delivery: arq's result records say so."""
    count = 0
    async for key in client.redis.scan_iter(match=result_key_prefix + "*", count=500):
        raw = await client.redis.get(key)
        if raw is None:
            continue
        data = serialization.deserialize(raw)
        count += int(data.get("t", 1)) > 1
    return count


async def _job_redeliveries(client: AcquireClient, handles: Sequence[JobHandle[Any]]) -> int:
    """Jobs whose final status applied on a second or later delivery: arq keeps no result
    record for them (:mod:`acquire.runtime.arq_patches`), their status counts the attempts."""
    count = 0
    for handle in handles:
        if not await client.redis.exists(result_key_prefix + handle.job_id):
            count += (await handle.status()).attempts > 1
    return count


async def _redelivered(client: AcquireClient, handles: Sequence[JobHandle[Any]]) -> int:
    """Jobs and item jobs that finished on a second or later delivery."""
    return await _arq_redeliveries(client) + await _job_redeliveries(client, handles)


def _reference_mismatches(statuses: Sequence[Any]) -> list[str]:
    """Jobs of a kind whose summary differs from the first job of that kind."""
    reference: dict[str, Any] = {}
    mismatches = []
    for status in statuses:
        ref = reference.setdefault(status.kind.value, status.summary)
        if status.summary != ref:
            mismatches.append(f"{status.job_id}: {status.summary} != {ref}")
    return mismatches


async def _until_busy(fleet: Fleet, index: int, *, jobs: int, timeout: float) -> None:  # noqa: ASYNC109
    """Return once worker ``index`` reports at least ``jobs`` jobs running (its metrics)."""
    deadline = now() + timeout
    while now() < deadline:
        current = await fleet.current_jobs(index)
        if current is not None and current >= jobs:
            return
        # Polling another process's metrics (there is no event to await); the pause keeps the
        # poll from taking the CPU the worker needs.
        await asyncio.sleep(0.05)
    raise AssertionError(f"worker {index} never ran {jobs} jobs at once within {timeout:g} s")


async def warm_up(client: AcquireClient) -> None:
    """One job of each kind first, so the fleet's cache holds the documents and JSON.

    With the small time limits these scenarios need, a cold start (every worker fetching the
    same ticker map and 10-Ks through the 10 req/s budget at once) would be the slowest part.
    """
    await await_all(await submit_all(client, "warmup", mixed_requests(2)), timeout=120)


async def run_crash(
    settings: Settings, log_dir: Path, *, jobs: int = 200, workers: int = 3
) -> dict[str, Any]:
    """SIGKILL one of ``workers`` processes while it runs jobs, then check every job ends once."""
    async with await AcquireClient.connect(settings) as client:
        # A job limit that a 2-core machine meets while it parses and stores every filing;
        # the killed worker's jobs come back once arq's in-progress key (limit + 10 s) expires.
        env = fleet_env(settings, ACQUIRE_JOB_TIMEOUT="20")
        with Fleet(env, log_dir, metrics=True) as fleet:
            fleet.start(workers)
            await warm_up(client)
            started = now()
            handles = await submit_all(client, ORG, mixed_requests(jobs))
            # Kill worker 0 while it is running jobs (a worker still starting, or between
            # jobs, would lose nothing and prove nothing). Early in the run: near its end the
            # org's share of the fleet's slots may leave worker 0 idle for good.
            await _until_busy(fleet, 0, jobs=2, timeout=120)
            in_flight = await _in_flight(client)
            fleet.signal(0, signal.SIGKILL)
            killed_at = now()
            statuses = await await_all(handles, timeout=300)
            all_final = now() - killed_at
            await _drained(client, settings.acquire_queue, timeout=240)
            recovery = now() - killed_at
            total = now() - started
            exit_code = fleet.wait(0, timeout=10)
        audit = await audit_jobs(client, handles)
        redelivered = await _redelivered(client, handles)
        mismatches = _reference_mismatches(statuses)
    return {
        **audit.as_dict(),
        "killed_exit_code": exit_code,
        "in_flight_at_kill": in_flight,
        "redelivered": redelivered,
        "summary_mismatches": len(mismatches),
        "item_errors": dict(audit.item_errors),
        "all_final_s": round(all_final, 2),
        "recovery_s": round(recovery, 2),
        "total_s": round(total, 2),
        "problems": (audit.duplicates + mismatches)[:10],
    }


async def _drained(client: AcquireClient, queue: str, timeout: float) -> None:  # noqa: ASYNC109
    """Until the queue holds no job (a killed worker's jobs stay there until run again).

    arq publishes nothing when a job's in-progress key expires, so this polls Redis.
    """
    async with asyncio.timeout(timeout):
        while await _queued(client, queue) or await _in_flight(client):  # noqa: ASYNC110
            await asyncio.sleep(0.2)


async def _queued(client: AcquireClient, queue: str) -> int:
    """Jobs waiting in ``queue``."""
    return int(await client.redis.zcard(queue))


async def run_shutdown(settings: Settings, log_dir: Path, *, jobs: int = 12) -> dict[str, Any]:
    """SIGTERM a worker mid-jobs twice: with a short grace (jobs re-queued) and a long one.

    Jobs are slowed by a low SEC rate budget and no cache, so several are in flight when the
    signal arrives. A replacement worker then completes whatever the stopped one left.
    """
    slow = {"SEC_CACHE": "none", "SEC_MAX_RPS": "5", "ACQUIRE_JOB_TIMEOUT": "120"}
    report: dict[str, Any] = {}
    arq_total = 0  # arq's redeliveries counted so far (its records outlive a phase)
    async with await AcquireClient.connect(settings) as client:
        for name, grace in (("short_grace", "1"), ("long_grace", "60")):
            # One fleet per phase, stopped before the next starts: a worker left over from the
            # first phase would otherwise take the second phase's jobs.
            env = fleet_env(settings, **slow, ACQUIRE_SHUTDOWN_GRACE=grace)
            with Fleet(env, log_dir / name, metrics=True) as fleet:
                fleet.start(1)
                handles = await submit_all(client, ORG, mixed_requests(jobs))
                # Signal the worker while it runs jobs: one still starting would die of the
                # signal's default action before arq installs its handlers.
                await _until_busy(fleet, 0, jobs=1, timeout=120)
                in_flight = await _in_flight(client)
                fleet.signal(0, signal.SIGTERM)
                signalled = now()
                exit_code = await asyncio.to_thread(fleet.wait, 0, 120)
                stop_s = now() - signalled
                fleet.start(1)  # the restarted worker
                await await_all(handles, timeout=240)
                # A job can be final while arq still holds a re-queued copy of it (stopped just
                # as its code returned); let it run (and find the job final) before counting,
                # so its redelivery is not counted in the next phase.
                await _drained(client, settings.acquire_queue, timeout=240)
            audit = await audit_jobs(client, handles)
            # Cancelled jobs and item jobs are re-queued by arq and run again (job_try 2).
            arq_total, arq_before = await _arq_redeliveries(client), arq_total
            redelivered = arq_total - arq_before + await _job_redeliveries(client, handles)
            report[name] = {
                **audit.as_dict(),
                "in_flight_at_signal": in_flight,
                "exit_code": exit_code,
                "stop_s": round(stop_s, 2),
                "redelivered": redelivered,
                "cancel_events": await _cancelled_jobs(handles),
                "problems": audit.duplicates[:10],
            }
        report["lost"] = sum(report[n]["jobs"] - report[n]["final"] for n in ("short_grace", "long_grace"))
    return report


async def _cancelled_jobs(handles: Sequence[JobHandle[Any]]) -> int:
    """Jobs whose run was cancelled by a worker stop and re-queued (their event says so)."""
    count = 0
    for handle in handles:
        async for event in handle.events():
            if event.event == EventType.JOB_RETRYING and "worker stopped" in str(event.data.error):
                count += 1
                break
    return count


def chaos_fault_maker() -> Callable[[], Fault]:
    """Transient faults in rotation: 5xx, connection resets and truncated bodies.

    SEC's client timeout (30 s) is not configurable, so a timeout is played as a reset.
    """
    makers: list[Callable[[], Fault]] = [
        lambda: Fault(status=500),
        lambda: Fault(status=503, body=b"Service Unavailable"),
        lambda: Fault(reset=True),
        lambda: Fault(
            status=200,
            body=b'{"filings": {"recent": ' + b"0" * 4000 + b"}}",
            truncate=100,
            headers={"content-type": "application/json"},
        ),
        lambda: Fault(status=502, body=b"<html>Bad Gateway</html>"),
    ]
    faults = itertools.cycle(makers)
    return lambda: next(faults)()


#: A ticker SEC does not know: a permanent fault, reported on its item.
UNKNOWN = "ZZZZQ"


def chaos_requests(count: int) -> list[JobRequest]:
    """The crash mix, with a Yahoo job in every fifth slot and an unknown company in every
    seventh (its item must end ``not_found``, the job ``partially_failed``)."""
    requests = mixed_requests(count)
    yahoo = YahooRequest(companies=["AAPL"], parts=["profile", "metrics"])
    unknown = SecFilingsRequest(companies=["NVDA", UNKNOWN], form_types=["10-K"], years=[2024])
    return [yahoo if n % 5 == 4 else unknown if n % 7 == 6 else r for n, r in enumerate(requests)]


async def run_chaos(
    settings: Settings,
    upstream: ReplayServer,
    log_dir: Path,
    *,
    jobs: int = 60,
    workers: int = 3,
    sec_max_rps: float = 10.0,
    rate: float = 0.2,
    seed: int = 7,
    rate_pages: int = 3,
) -> dict[str, Any]:
    """Every job against an upstream failing ``rate`` of its answers, plus ``rate_pages`` of
    SEC's rate-limit pages; ``upstream`` should throttle SEC at 10 req/s, the most SEC allows.

    ``sec_max_rps`` is the fleet's budget (``SEC_MAX_RPS``): one fleet-wide limiter keeps all
    ``workers`` under it, where per-process limits would send ``workers`` times as much.
    """
    rate_page = gzip.decompress((upstream.root / "sec/errors/rate-exceeded.html.gz").read_bytes())
    upstream.clear()
    upstream.chaos(rate, chaos_fault_maker(), seed=seed)
    page = Fault(status=403, body=rate_page, headers={"content-type": "text/html"})
    upstream.inject(r"^/(www|data)\.sec\.gov/", *[page] * rate_pages)
    env = fleet_env(
        settings,
        SEC_CACHE="redis",
        SEC_CACHE_TTL="0",
        SEC_BLOCK_SECONDS="1",
        SEC_MAX_RPS=str(sec_max_rps),
        ACQUIRE_JOB_TIMEOUT="90",
        ACQUIRE_MAX_TRIES="8",
        YAHOO_MAX_RPS="20",
    )
    requests = chaos_requests(jobs)
    async with await AcquireClient.connect(settings) as client:
        with Fleet(env, log_dir) as fleet:
            fleet.start(workers)
            started = now()
            handles = await submit_all(client, ORG, requests)
            await await_all(handles, timeout=300)
            elapsed = now() - started
        log = list(upstream.log)
        upstream.clear()
        audit = await audit_jobs(client, handles)
        redelivered = await _redelivered(client, handles)
        wrong = await _wrong_outcomes(handles, requests)
    return {
        **audit.as_dict(),
        "requests": len(log),
        "sec_requests": sum(1 for r in log if r.host in SEC_HOSTS),
        "faulted_answers": sum(1 for r in log if r.status not in (200, 304)),
        "max_rps_window": max_in_window(log),
        # SEC rate pages served beyond the injected ones: the stand-in's own 10 req/s throttle fired.
        "throttle_blocks": sum(1 for r in log if r.status == 403 and r.host in SEC_HOSTS) - rate_pages,
        "item_redeliveries": redelivered,
        "item_errors": dict(audit.item_errors),
        "wrong_outcomes": len(wrong),
        "elapsed_s": round(elapsed, 2),
        "problems": (audit.duplicates + wrong)[:10],
    }


async def _wrong_outcomes(handles: Sequence[JobHandle[Any]], requests: Sequence[JobRequest]) -> list[str]:
    """Jobs that did not end as their request deserves: completed, or for a request naming the
    unknown company, partially failed with only that company ``not_found``."""
    wrong = []
    for handle, request in zip(handles, requests, strict=True):
        status = await handle.status()
        companies = getattr(request, "companies", [])
        expected = "partially_failed" if UNKNOWN in companies else "completed"
        bad_items = [
            (i.key, i.state.value, i.error) for i in await handle.items() if i.state.value != "completed"
        ]
        expected_items = [(UNKNOWN, "not_found")] if UNKNOWN in companies else []
        if status.state.value != expected or [(k, s) for k, s, _ in bad_items] != expected_items:
            wrong.append(f"{handle.job_id} {status.state.value}: {bad_items}")
        elif bad_items and not bad_items[0][2]:
            wrong.append(f"{handle.job_id}: item {UNKNOWN} failed without an error message")
    return wrong
