"""SSE fan-out: 1,000 concurrent event-stream clients on one uvicorn process, 10 running jobs.

    python bench/sse_fanout.py [--clients 1000] [--jobs 10] [--rounds 60] [--interval 0.1]

(``ACQUIRE_BENCH_QUICK=1`` runs 200 clients and 20 rounds.) Three processes on one machine:

- the web process: ``acquire.web.create_router`` mounted in Starlette under uvicorn, its
  client on a two-connection ``BlockingConnectionPool`` (plus the fan-out's own reader);
- the client process: N raw asyncio HTTP/1.0 connections, each following one job's
  ``/events`` and parsing the SSE lines;
- this process: an embedded ``redis-server``, the producer (``JobStore.update_status`` appends
  one ``step_complete`` per job per round, carrying its send time), and the measurements.

Reports events delivered / expected (duplicates and gaps count against it), p50/p99 latency
from the write to the client's receipt, the most Redis connections the web process held at
once (by client name in ``CLIENT LIST``) and the web process's peak RSS. Prints one final JSON
line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

import httpx

ORG = "bench"
WEB_NAME = "bench-web"
FANOUT_NAME = "acquire-sse-fanout"


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    uvloop.install()


def _raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ---- the web process ---------------------------------------------------------------------------


def serve(redis_url: str, port: int) -> None:
    import uvicorn
    from arq.connections import ArqRedis
    from redis.asyncio import BlockingConnectionPool
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from acquire import serialization
    from acquire.client import AcquireClient
    from acquire.settings import Settings
    from acquire.web import create_router

    _raise_fd_limit()
    settings = Settings(redis_url=redis_url)
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=2, client_name=WEB_NAME)
    redis = ArqRedis(
        connection_pool=pool,
        job_serializer=serialization.serialize,
        job_deserializer=serialization.deserialize,
    )
    client = AcquireClient(redis, settings)
    router = create_router(client, lambda request: ORG, queue_size=1024)

    async def stats(request: Request) -> JSONResponse:
        fanout = router.fanout.stats()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return JSONResponse(
            {
                "subscribers": fanout.subscribers,
                "reads": fanout.reads,
                "dropped": fanout.dropped,
                "peak_rss_mb": usage.ru_maxrss / 1024,
                "cpu_s": usage.ru_utime + usage.ru_stime,
            }
        )

    app = Starlette(routes=[Route("/stats", stats), Mount("/acquire", router)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", backlog=4096)


# ---- the client process ------------------------------------------------------------------------


async def _follow(
    port: int,
    job_id: str,
    latencies: list[float],
    seen: dict[int, int],
    first: asyncio.Event,
    counter: list[int],
    total: int,
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(f"GET /acquire/jobs/{job_id}/events HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    received = 0
    got_first = False
    while line := await reader.readline():
        if not line.startswith(b"data: "):
            continue
        now = time.time()
        event = json.loads(line[6:])
        if not got_first:
            got_first = True
            counter[0] += 1
            if counter[0] == total:
                first.set()
        if event["event"] == "step_complete":
            data = event["data"]
            latencies.append(now - data["sent"])
            seen[data["seq"]] = seen.get(data["seq"], 0) + 1
            received += 1
        elif event["event"] == "job_completed":
            break
    writer.close()
    return received


async def clients_main(port: int, job_ids: list[str], clients: int) -> None:
    _raise_fd_limit()
    latencies: list[float] = []
    first = asyncio.Event()
    counter = [0]
    per_client: list[dict[int, int]] = [{} for _ in range(clients)]
    tasks = [
        asyncio.create_task(
            _follow(port, job_ids[n % len(job_ids)], latencies, per_client[n], first, counter, clients)
        )
        for n in range(clients)
    ]
    await first.wait()
    print("READY", flush=True)
    results = await asyncio.gather(*tasks)
    duplicates = sum(count - 1 for seen in per_client for count in seen.values() if count > 1)
    print(
        json.dumps({"received": sum(results), "duplicates": duplicates, "latencies": latencies}), flush=True
    )


# ---- the coordinator ---------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from acquire.client import AcquireClient
    from acquire.models import EventType, SecFilingsRequest
    from acquire.settings import Settings
    from acquire.testing.embedded import EmbeddedRedis

    with EmbeddedRedis() as server:
        settings = Settings(redis_url=server.url)
        client = await AcquireClient.connect(settings)
        jobs = [
            (await client.submit(ORG, SecFilingsRequest(companies=["NVDA"], years=[2024]))).job_id
            for _ in range(args.jobs)
        ]
        for job_id in jobs:
            await client.store.update_status(ORG, job_id, {"state": "running"}, event=EventType.JOB_STARTED)
        port = args.port
        me = [sys.executable, __file__]
        web = subprocess.Popen([*me, "--serve", "--redis", server.url, "--port", str(port)])  # noqa: ASYNC220
        followers: subprocess.Popen[str] | None = None
        monitor = aioredis.Redis.from_url(server.url)
        try:
            async with httpx.AsyncClient() as http:
                while True:  # the web process has no readiness signal other than answering
                    try:
                        await http.get(f"http://127.0.0.1:{port}/stats")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
                followers = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
                    # "--" first: a job id may start with "-"
                    [*me, "--follow", "--port", str(port), "--clients", str(args.clients), "--", *jobs],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert followers.stdout is not None
                ready = await asyncio.to_thread(followers.stdout.readline)
                assert ready.strip() == "READY", ready
                # Another process: polling its stats is the only way to see every client subscribed.
                while (await http.get(f"http://127.0.0.1:{port}/stats")).json()["subscribers"] < args.clients:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)

                max_connections = 0

                async def count_connections() -> int:
                    listed = await monitor.client_list()
                    return sum(1 for c in listed if c["name"] in (WEB_NAME, FANOUT_NAME))

                cpu_before = (await http.get(f"http://127.0.0.1:{port}/stats")).json()["cpu_s"]
                started = time.perf_counter()
                for seq in range(args.rounds):
                    for job_id in jobs:
                        await client.store.update_status(
                            ORG,
                            job_id,
                            {"step": f"s{seq}"},
                            event=EventType.STEP_COMPLETE,
                            data={"step": f"s{seq}", "seq": seq, "sent": time.time()},
                        )
                    max_connections = max(max_connections, await count_connections())
                    await asyncio.sleep(args.interval)
                for job_id in jobs:
                    await client.store.update_status(
                        ORG, job_id, {"state": "completed"}, event=EventType.JOB_COMPLETED
                    )
                report = json.loads(await asyncio.to_thread(followers.stdout.readline))
                elapsed = time.perf_counter() - started
                stats = (await http.get(f"http://127.0.0.1:{port}/stats")).json()
                max_connections = max(max_connections, await count_connections())
        finally:
            await monitor.aclose()
            for proc in (followers, web):
                if proc is not None:
                    proc.terminate()
                    proc.wait(timeout=10)
            await client.close()

    expected = args.clients * args.rounds
    latencies: list[float] = report["latencies"]
    delivered = report["received"] - report["duplicates"]
    return {
        "bench": "sse_fanout",
        "clients": args.clients,
        "jobs": args.jobs,
        "events_per_job": args.rounds,
        "delivered": delivered,
        "expected": expected,
        "delivered_pct": round(100 * delivered / expected, 3),
        "duplicates": report["duplicates"],
        "latency_p50_ms": round(1000 * _percentile(latencies, 0.50), 2),
        "latency_p99_ms": round(1000 * _percentile(latencies, 0.99), 2),
        "latency_max_ms": round(1000 * max(latencies), 2),
        "redis_connections_web_max": max_connections,
        "dropped_clients": stats["dropped"],
        "fanout_reads": stats["reads"],
        "web_peak_rss_mb": round(stats["peak_rss_mb"], 1),
        # the web process's CPU per event delivered to one client, while producing
        "web_cpu_us_per_delivery": round(1e6 * (stats["cpu_s"] - cpu_before) / max(delivered, 1), 1),
        "produce_seconds": round(elapsed, 2),
    }


def main() -> None:
    quick = os.environ.get("ACQUIRE_BENCH_QUICK") == "1"
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=200 if quick else 1000)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=20 if quick else 60)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between rounds")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--follow", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    parser.add_argument("job_ids", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.redis, args.port)
    elif args.follow:
        _use_uvloop()  # the measuring clients should not be the bottleneck they measure
        asyncio.run(clients_main(args.port, args.job_ids, args.clients))
    else:
        print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
