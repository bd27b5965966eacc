"""acquire beside its peers: the same trivial jobs through acquire, raw arq and SAQ, one Redis.

    python bench/queue_peers.py [--jobs 2000] [--rounds 5] [--latency-jobs 60] [--idle-seconds 40]

Systems: ``acquire`` (the full runtime: status record, events, result, metrics), ``arq`` (raw
arq with acquire's worker settings: JSON, acquire's poll delay, concurrency and result TTL) and
``saq`` (SAQ with the same concurrency). Each round runs every system in turn (the order
rotates per round) on one embedded ``redis-server`` (unix socket), flushed between systems:

1. enqueue ``--jobs`` jobs one at a time with no worker running (enqueue jobs/s);
2. start one worker process and let it drain them: jobs/s from the first job's start to the
   moment the queue reports every job finished, the worker's CPU per job (its own
   ``process_time``) and Redis's CPU per job (``INFO cpu``, enqueue and drain together);
3. Redis memory per finished job: ``MEMORY USAGE`` of every key left, summed, over ``--jobs``;
4. single-job latency: jobs submitted one at a time at ~20/s onto the now idle worker, from
   just before the submit call to the job function's start (both read the wall clock);
5. in the last round only, an idle worker's Redis commands per second (``INFO commandstats``
   over ``--idle-seconds``, the two INFO calls taken off).

The payload is the envelope acquire's client enqueues, so raw arq and SAQ carry as many bytes.
Reports medians and min-max over the rounds; the final JSON line holds acquire's ratios to
each peer (measured in this one run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SYSTEMS = ("acquire", "arq", "saq")
REQUEST = {"kind": "sec_filings", "companies": ["NVDA"], "years": [2024]}
QUEUE = "arq:queue"
SAQ_QUEUE = "bench"

# ---- the worker process ------------------------------------------------------------------


class _Probe:
    """Counts job starts in the worker process and reports them on stdout."""

    def __init__(self, drain: int, done: Any) -> None:
        self.drain = drain
        self.started = self.again = 0
        self.seen: set[str] = set()
        self.t0 = self.c0 = 0.0
        self.done = done  # coroutine function: True once the queue has no unfinished job

    def start(self, job_id: str) -> None:
        now = time.time()
        if job_id in self.seen:
            self.again += 1
            return
        self.seen.add(job_id)
        self.started += 1
        if self.started == 1:
            self.t0, self.c0 = now, time.process_time()
        if self.started == self.drain:
            asyncio.get_running_loop().create_task(self._report_drain())
        elif self.started > self.drain:
            sys.stdout.write(f"S {job_id} {now:.6f}\n")
            sys.stdout.flush()

    async def _report_drain(self) -> None:
        # The queue offers no event for "every job finished": poll it, only once at the end.
        while not await self.done():  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        t1, c1 = time.time(), time.process_time()
        sys.stdout.write(f"D {t1 - self.t0:.6f} {c1 - self.c0:.6f} {self.again}\n")
        sys.stdout.flush()


async def _worker_acquire(url: str, drain: int) -> None:
    from acquire.models import JobKind
    from acquire.runtime.run import JobContext, JobSpec, Outcome
    from acquire.settings import Settings
    from acquire.worker import create_worker

    redis = aioredis.Redis.from_url(url)
    probe = _Probe(drain, lambda: _zero(redis.zcard(QUEUE)))

    async def noop(job: JobContext, request: Any) -> Outcome[dict[str, Any]]:
        probe.start(job.job_id)
        return Outcome(result={"ok": True})

    settings = Settings(redis_url=url, metrics_port=0, logging_level="WARNING")
    spec = JobSpec(kind=JobKind.SEC_FILINGS, run=noop)
    await create_worker(settings, specs=[spec], resources=[], extra_functions=[]).async_run()


async def _worker_arq(url: str, drain: int) -> None:
    from arq import func
    from arq.connections import RedisSettings
    from arq.worker import Worker

    from acquire import serialization
    from acquire.settings import Settings

    redis = aioredis.Redis.from_url(url)
    probe = _Probe(drain, lambda: _zero(redis.zcard(QUEUE)))

    async def noop(ctx: dict[str, Any], payload: Any = None) -> int:
        probe.start(ctx["job_id"])
        return 1

    settings = Settings(redis_url=url)
    worker = Worker(
        [func(noop, name="noop")],
        redis_settings=RedisSettings.from_dsn(url),
        handle_signals=False,
        poll_delay=settings.acquire_poll_delay,
        max_jobs=settings.worker_concurrency,
        keep_result=settings.acquire_result_ttl,
        job_serializer=serialization.serialize,
        job_deserializer=serialization.deserialize,
    )
    await worker.async_run()


async def _worker_saq(url: str, drain: int) -> None:
    from saq import Worker
    from saq.queue.redis import RedisQueue as Queue
    from saq.types import Context

    from acquire.settings import Settings

    queue = Queue(aioredis.Redis.from_url(url), name=SAQ_QUEUE)
    probe = _Probe(drain, lambda: _zero(queue.count("incomplete")))

    async def noop(ctx: Context, *, payload: Any = None) -> int:
        probe.start(ctx["job"].key)
        return 1

    await Worker(queue, [("noop", noop)], concurrency=Settings().worker_concurrency).start()


async def _zero(count: Any) -> bool:
    return int(await count) == 0


# ---- the bench process -------------------------------------------------------------------


class _Submitter:
    """Enqueues jobs of one system; ``submit`` returns the job's id as its worker sees it."""

    def __init__(self, system: str, url: str) -> None:
        self.system, self.url = system, url

    async def __aenter__(self) -> _Submitter:
        from arq import create_pool
        from arq.connections import RedisSettings

        from acquire import serialization
        from acquire.client import AcquireClient
        from acquire.models import compact_request, parse_request
        from acquire.settings import Settings

        self.request_dump = compact_request(parse_request(REQUEST))  # as acquire enqueues it
        if self.system == "acquire":
            self.client = await AcquireClient.connect(Settings(redis_url=self.url, metrics_port=0))
        elif self.system == "arq":
            self.pool = await create_pool(
                RedisSettings.from_dsn(self.url),
                job_serializer=serialization.serialize,
                job_deserializer=serialization.deserialize,
            )
        else:
            from saq.queue.redis import RedisQueue as Queue

            self.queue = Queue(aioredis.Redis.from_url(self.url), name=SAQ_QUEUE)
        return self

    def _payload(self) -> dict[str, Any]:
        from acquire.ids import new_job_id

        return {"job_id": new_job_id(), "org": "bench", "kind": "sec_filings", "request": self.request_dump}

    async def submit(self) -> str:
        if self.system == "acquire":
            return (await self.client.submit("bench", REQUEST)).job_id
        if self.system == "arq":
            job = await self.pool.enqueue_job("noop", self._payload())
            assert job is not None
            return job.job_id
        saq_job = await self.queue.enqueue("noop", payload=self._payload())
        assert saq_job is not None
        return str(saq_job.key)

    async def __aexit__(self, *exc: object) -> None:
        if self.system == "acquire":
            await self.client.close()
        elif self.system == "arq":
            await self.pool.aclose()
        else:
            await self.queue.disconnect()


async def _redis_cpu(redis: aioredis.Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def _commands(redis: aioredis.Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


async def _memory_per_job(redis: aioredis.Redis, jobs: int) -> float:
    names = [name async for name in redis.scan_iter(count=1000)]
    total = 0
    for start in range(0, len(names), 500):
        async with redis.pipeline(transaction=False) as pipe:
            for name in names[start : start + 500]:
                pipe.memory_usage(name, samples=0)
            total += sum(int(n or 0) for n in await pipe.execute())
    return total / jobs


async def _line(stream: asyncio.StreamReader) -> list[str]:
    raw = await stream.readline()
    if not raw:
        raise RuntimeError("worker process ended")
    return raw.decode().split()


async def run_system(system: str, url: str, args: argparse.Namespace, idle: bool) -> dict[str, Any]:
    redis = aioredis.Redis.from_url(url)
    await redis.flushall()
    await redis.config_resetstat()
    out: dict[str, Any] = {}
    async with _Submitter(system, url) as sub:
        cpu0 = await _redis_cpu(redis)
        t0 = time.perf_counter()
        for _ in range(args.jobs):
            await sub.submit()
        out["enqueue_per_s"] = args.jobs / (time.perf_counter() - t0)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--worker", system, "--url", url, "--jobs", str(args.jobs),
            stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            kind, seconds, worker_cpu, again = await asyncio.wait_for(_line(proc.stdout), 120)
            assert kind == "D"
            cpu1 = await _redis_cpu(redis)
            out["drain_per_s"] = args.jobs / float(seconds)
            out["started_twice"] = int(again)
            out["worker_cpu_us_per_job"] = float(worker_cpu) / args.jobs * 1e6
            out["redis_cpu_us_per_job"] = (cpu1 - cpu0) / args.jobs * 1e6
            out["memory_bytes_per_job"] = await _memory_per_job(redis, args.jobs)
            await asyncio.sleep(0.3)  # the worker is idle now
            latencies: list[float] = []
            stray = 0
            for _ in range(args.latency_jobs):
                before = time.time()
                job_id = await sub.submit()
                while True:
                    kind, started_id, at = await asyncio.wait_for(_line(proc.stdout), 30)
                    if started_id == job_id:
                        break
                    stray += 1  # a drain job started again (the peer's redelivery)
                latencies.append((float(at) - before) * 1000)
                await asyncio.sleep(max(0.0, 0.05 - (time.time() - before)))
            latencies.sort()
            out["latency_ms_p50"] = latencies[len(latencies) // 2]
            out["latency_ms_p99"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            out["stray_starts"] = stray
            if idle:
                await asyncio.sleep(1.0)
                before_calls = await _commands(redis)
                await asyncio.sleep(args.idle_seconds)
                calls = await _commands(redis) - before_calls - 1  # this window's closing INFO
                out["idle_commands_per_s"] = calls / args.idle_seconds
        finally:
            proc.terminate()
            await proc.wait()
    await redis.aclose()
    return out


def _summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    names = dict.fromkeys(name for r in rounds for name in r)  # idle figures: last round only
    for name in names:
        values = [r[name] for r in rounds if name in r]
        figures[name] = {"median": median(values), "min": min(values), "max": max(values)}
        figures[name] = {k: round(v, 3) for k, v in figures[name].items()}
    return figures


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from acquire.testing.embedded import EmbeddedRedis

    systems = [s for s in args.systems.split(",") if s]
    results: dict[str, list[dict[str, Any]]] = {s: [] for s in systems}
    with EmbeddedRedis() as server:
        for n in range(args.rounds):
            order = systems[n % len(systems) :] + systems[: n % len(systems)]
            for system in order:
                figures = await run_system(system, server.url, args, idle=n == args.rounds - 1)
                results[system].append(figures)
                print(system, n, json.dumps({k: round(v, 2) for k, v in figures.items()}), file=sys.stderr)
    summary = {s: _summary(r) for s, r in results.items()}

    def med(system: str, name: str) -> float:
        return float(summary[system][name]["median"])

    def ratio(peer: str, name: str) -> float:
        return round(med("acquire", name) / med(peer, name), 3)

    ratios: dict[str, Any] = {}
    for peer in (s for s in systems if s != "acquire"):
        if "acquire" not in systems:
            break
        ratios[f"vs_{peer}"] = {
            "drain": ratio(peer, "drain_per_s"),
            "enqueue": ratio(peer, "enqueue_per_s"),
            "redis_cpu_per_job": ratio(peer, "redis_cpu_us_per_job"),
            "latency_p50": ratio(peer, "latency_ms_p50"),
            "latency_p99": ratio(peer, "latency_ms_p99"),
            "memory_per_job": ratio(peer, "memory_bytes_per_job"),
        }
    return {
        "bench": "queue_peers",
        "jobs": args.jobs,
        "rounds": args.rounds,
        "latency_jobs": args.latency_jobs,
        "figures": summary,
        "ratios": ratios,
        "rounds_drain_per_s": {s: [round(r["drain_per_s"], 1) for r in results[s]] for s in systems},
        "targets": {
            "latency_ms_p50_max": 5,
            "latency_ms_p99_max": 15,
            "drain_vs_peers_min": 1.0,
            "redis_cpu_vs_arq_max": 1.0,
            "memory_bytes_per_job_max": 2048,
            "enqueue_vs_arq_min": 0.8,
            "idle_commands_per_s_max": 1.0,
        },
    }


if __name__ == "__main__":
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency-jobs", type=int, default=60)
    parser.add_argument("--idle-seconds", type=float, default=40.0)  # > one reconcile period (30 s)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    cli = parser.parse_args()
    if cli.worker:
        runner = {"acquire": _worker_acquire, "arq": _worker_arq, "saq": _worker_saq}[cli.worker]
        asyncio.run(runner(cli.url, cli.jobs))
    else:
        print(json.dumps(asyncio.run(main(cli))))
