"""Queue overhead: the same trivial jobs through raw arq and through acquire's runtime.

    python bench/queue_overhead.py [--jobs 2000] [--rounds 5]

(a) raw arq with arq's defaults (pickle, 0.5 s poll), (b) raw arq with acquire's worker
settings (JSON, acquire's poll delay and concurrency), (c) acquire's full job wrapper (status
record, events, metrics). All three run the same payload (the envelope acquire's client
enqueues) through a function that does nothing, so (c) - (b) is the wrapper's cost alone.
Each runs an in-process burst worker against an embedded redis-server over a unix socket;
enqueueing is not timed. (b) and (c) run in alternating rounds and the medians are compared,
so a noisy neighbour slowing one stretch of the run does not decide the ratio; (a) takes 0.5 s
per poll by design and runs once. Prints one final JSON line with every round's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from statistics import median
from typing import Any, NamedTuple

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

from acquire import serialization
from acquire.client import AcquireClient, new_job_id
from acquire.models import JobKind, compact_request, parse_request
from acquire.runtime.run import JobContext, JobSpec, Outcome
from acquire.settings import Settings
from acquire.testing.embedded import EmbeddedRedis
from acquire.worker import create_worker


async def noop(ctx: dict[str, Any], payload: Any = None) -> int:
    return 1


async def acquire_noop(job: JobContext, request: Any) -> Outcome[dict[str, Any]]:
    return Outcome(result={"ok": True})


class Run(NamedTuple):
    """One burst: wall seconds, and CPU seconds of this process (the worker's Python)."""

    seconds: float
    cpu_seconds: float


async def _timed(worker: Worker) -> Run:
    start, cpu = time.perf_counter(), time.process_time()
    await worker.async_run()
    return Run(time.perf_counter() - start, time.process_time() - cpu)


async def run_raw(url: str, jobs: int, **worker_kwargs: Any) -> Run:
    rs = RedisSettings.from_dsn(url)
    serializer = worker_kwargs.get("job_serializer")
    pool = await create_pool(
        rs, job_serializer=serializer, job_deserializer=worker_kwargs.get("job_deserializer")
    )
    await pool.flushdb()
    for _ in range(jobs):
        # The same payload acquire's client enqueues, so only the wrapper's work differs.
        payload = {"job_id": new_job_id(), "org": "bench", "kind": "sec_filings", "request": REQUEST_DUMP}
        await pool.enqueue_job("noop", payload)
    worker = Worker([noop], redis_settings=rs, burst=True, handle_signals=False, **worker_kwargs)
    run = await _timed(worker)
    assert worker.jobs_complete == jobs, worker.jobs_complete
    await worker.close()
    await pool.aclose()
    return run


REQUEST = {"kind": "sec_filings", "companies": ["NVDA"], "years": [2024]}
REQUEST_DUMP = compact_request(parse_request(REQUEST))  # as the client enqueues it


async def run_acquire(settings: Settings, jobs: int) -> Run:
    spec = JobSpec(kind=JobKind.SEC_FILINGS, run=acquire_noop)
    client = await AcquireClient.connect(settings)
    await client.redis.flushdb()
    for _ in range(jobs):
        await client.submit("bench", REQUEST)
    worker = create_worker(settings, specs=[spec], resources=[], extra_functions=[], burst=True)
    run = await _timed(worker)
    assert worker.jobs_complete == jobs, worker.jobs_complete  # the reconciler is no arq job
    done = await client.list_jobs("bench", limit=jobs)
    assert all(j.state.value == "completed" for j in done) and len(done) == jobs
    await worker.close()
    await client.close()
    return run


async def main(jobs: int, rounds: int) -> dict[str, Any]:
    with EmbeddedRedis() as redis:
        settings = Settings(
            redis_url=redis.url, metrics_port=0, acquire_jobs_index_max=max(jobs, 10), logging_level="WARNING"
        )
        tuned = {
            "poll_delay": settings.acquire_poll_delay,
            "max_jobs": settings.worker_concurrency,
            "job_serializer": serialization.serialize,
            "job_deserializer": serialization.deserialize,
        }
        a = jobs / (await run_raw(redis.url, jobs)).seconds
        b: list[Run] = []
        c: list[Run] = []
        for _ in range(rounds):
            b.append(await run_raw(redis.url, jobs, **tuned))
            c.append(await run_acquire(settings, jobs))
    rates = {
        "a_arq_defaults": a,
        "b_arq_acquire_settings": median(jobs / r.seconds for r in b),
        "c_acquire_runtime": median(jobs / r.seconds for r in c),
    }
    # The worker process's CPU per job: where the difference between (b) and (c) goes.
    cpu_b = median(r.cpu_seconds for r in b) / jobs * 1e6
    cpu_c = median(r.cpu_seconds for r in c) / jobs * 1e6
    return {
        "bench": "queue_overhead",
        "jobs": jobs,
        "rounds": rounds,
        "jobs_per_s": {k: round(v, 1) for k, v in rates.items()},
        "rounds_jobs_per_s": {
            "b": [round(jobs / r.seconds, 1) for r in b],
            "c": [round(jobs / r.seconds, 1) for r in c],
        },
        "cpu_us_per_job": {"b": round(cpu_b, 1), "c": round(cpu_c, 1), "c_minus_b": round(cpu_c - cpu_b, 1)},
        "ratio_b_over_a": round(rates["b_arq_acquire_settings"] / rates["a_arq_defaults"], 3),
        "ratio_c_over_b": round(rates["c_acquire_runtime"] / rates["b_arq_acquire_settings"], 3),
        "targets": {"b_over_a_min": 2.0, "c_over_b_min": 0.85},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.jobs, args.rounds))))
