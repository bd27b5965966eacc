"""SEC fair access: 4 worker processes share one fleet-wide budget of 10 requests/second.

    python bench/sec_rate.py [--documents 240] [--processes 4] [--concurrency 8]

A local EDGAR stand-in (``ReplayServer`` with ``sec_max_rps=10``: one request too many and it
answers SEC's 403 rate page for ten minutes) serves NVIDIA's real submissions and one small
primary document per filing. Each worker process runs an :class:`EdgarClient` with the Redis
rate limiter and Redis cache, lists NVIDIA's filings (ticker -> CIK -> submissions) and
downloads its share of the documents, ``--concurrency`` at a time. A second run repeats the
whole thing with fresh processes: everything must come from the cache.

Reports, from the server's own arrival times: the most requests in any sliding one-second
window (must be <= 10), the mean rate over the run ((n - 1) / (last - first) arrival), 403
answers (0) and the Archives requests of the second run (0). ``ACQUIRE_BENCH_QUICK=1``
downloads 60 documents instead of 240. Prints one final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from acquire.http.cache import RedisCache
from acquire.http.ratelimit import RateLimiter
from acquire.settings import Settings
from acquire.sources.sec.edgar import EdgarClient, parse_submissions
from acquire.testing.embedded import EmbeddedRedis
from acquire.testing.replay import ReplayServer, default_fixtures_dir

CIK = 1045810
SUBMISSIONS = f"sec/data.sec.gov/submissions/CIK{CIK:010d}.json.gz"
YEARS = list(range(2021, 2027))  # all in the recent filings: no older page needed


def build_fixtures(root: Path, documents: int) -> tuple[list[str], list[str]]:
    """NVIDIA's real submissions plus a small synthetic primary document per chosen filing."""
    source = default_fixtures_dir()
    for rel in (SUBMISSIONS, "sec/www.sec.gov/files/company_tickers.json.gz"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / rel, root / rel)
    shutil.copytree(source / "sec/errors", root / "sec/errors")
    subs = parse_submissions(
        json.loads(gzip.decompress((source / SUBMISSIONS).read_bytes())), www_base_url="https://www.sec.gov"
    )
    chosen = [f for f in subs.filings if f.primary_document and f.fiscal_year in YEARS][:documents]
    for filing in chosen:
        folder = root / "sec/www.sec.gov/Archives/edgar/data" / str(CIK) / filing.accession.replace("-", "")
        path = folder / f"{filing.primary_document}.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = (f"<html><body><h1>{filing.form} {filing.accession}</h1>" + "<p>filler</p>" * 2000).encode()
        path.write_bytes(gzip.compress(body))
    return [f.accession for f in chosen], sorted({f.form for f in chosen})


def worker(
    index: int,
    processes: int,
    settings_json: str,
    accessions: list[str],
    forms: list[str],
    concurrency: int,
    ready: Any,
    go: Event,
    out: Any,
) -> None:
    settings = Settings.model_validate_json(settings_json)
    try:
        out.put(asyncio.run(_work(index, processes, settings, accessions, forms, concurrency, ready, go)))
    except Exception as exc:  # report it: the parent must not wait for a result forever
        out.put({"documents": 0, "errors": [repr(exc)], "error_count": 1, "from_cache": 0, "seconds": 0.0})


async def _work(
    index: int,
    processes: int,
    settings: Settings,
    accessions: list[str],
    forms: list[str],
    concurrency: int,
    ready: Any,
    go: Event,
) -> dict[str, Any]:
    redis = aioredis.Redis.from_url(settings.redis_url)
    limiter = RateLimiter(redis, "sec", settings.sec_max_rps)
    cache = RedisCache(redis, max_bytes=settings.sec_cache_max_bytes)
    async with EdgarClient(settings, limiter=limiter, cache=cache) as edgar:
        ready.put(index)
        await asyncio.to_thread(go.wait)
        started = time.perf_counter()
        mine = set(accessions[index::processes])
        filings = [f for f in await edgar.filings("NVDA", forms=forms, years=YEARS) if f.accession in mine]
        gate = asyncio.Semaphore(concurrency)

        async def one(filing: Any) -> str:
            async with gate:
                return (await edgar.download(filing)).source

        sources = await asyncio.gather(*(one(f) for f in filings), return_exceptions=True)
    await redis.aclose()
    errors = [repr(s) for s in sources if isinstance(s, BaseException)]
    return {
        "documents": len(filings),
        "errors": errors[:3],
        "error_count": len(errors),
        "from_cache": sum(1 for s in sources if s == "cache"),
        "seconds": time.perf_counter() - started,
    }


def run_fleet(
    settings: Settings, accessions: list[str], forms: list[str], processes: int, concurrency: int
) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    config = settings.model_dump_json()
    shared = (config, accessions, forms, concurrency, ready, go, out)
    procs = [ctx.Process(target=worker, args=(i, processes, *shared)) for i in range(processes)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=60)  # every worker built its client: start them together
    go.set()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    return results


def max_in_window(times: list[float], window: float = 1.0) -> int:
    times, best, start = sorted(times), 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = os.environ.get("ACQUIRE_BENCH_QUICK") == "1"
    parser.add_argument("--documents", type=int, default=60 if quick else 240)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="acquire-bench-") as tmp:
        root = Path(tmp) / "fixtures"
        accessions, forms = build_fixtures(root, args.documents)
        with (
            EmbeddedRedis(Path(tmp) / "redis") as redis_server,
            ReplayServer(root, sec_max_rps=10, sec_block_seconds=600) as server,
        ):
            settings = Settings.model_validate(
                {
                    "redis_url": redis_server.url,
                    "sec_user_agent": "acquire bench bench@example.com",
                    "sec_max_rps": 10,
                    "sec_cache": "redis",
                    "metrics_port": 0,
                    **server.settings_overrides(),
                }
            )
            first = run_fleet(settings, accessions, forms, args.processes, args.concurrency)
            log = list(server.log)
            server.log.clear()
            second = run_fleet(settings, accessions, forms, args.processes, args.concurrency)
            log2 = list(server.log)
    times = [r.at for r in log]
    span = max(times) - min(times) if len(times) > 1 else 0.0
    result = {
        "bench": "sec_rate",
        "processes": args.processes,
        "documents": sum(r["documents"] for r in first),
        "requests": len(log),
        "seconds": round(span, 2),
        "max_requests_any_1s_window": max_in_window(times),
        "limit_rps": 10,
        "mean_rps": round((len(times) - 1) / span, 2) if span else None,
        "responses_403": sum(1 for r in log + log2 if r.status == 403),
        "errors": sum(r["error_count"] for r in first + second),
        "error_samples": [e for r in first + second for e in r["errors"]][:3],
        "second_run_requests": len(log2),
        "second_run_archives_requests": sum(1 for r in log2 if r.path.startswith("/Archives")),
        "second_run_from_cache": sum(r["from_cache"] for r in second),
    }
    print(json.dumps(result), flush=True)
    sys.exit(0 if result["max_requests_any_1s_window"] <= 10 and result["responses_403"] == 0 else 1)


if __name__ == "__main__":
    main()
