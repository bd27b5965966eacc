"""Reliability of a worker fleet: crash, graceful shutdown, upstream chaos, hostile input, tenancy.

    python bench/reliability.py

Starts its own embedded Redis and EDGAR/Yahoo stand-ins (``ReplayServer``) and real
``arq acquire.WorkerSettings`` processes, then runs the scenarios of ``tests/reliability``
at full size:

- crash: 200 SEC/XBRL jobs on 3 workers, one SIGKILLed while it runs jobs; every job
  final, nothing duplicated; ``recovery_s`` runs from the kill until the queue is drained
  (the killed worker's jobs re-run once arq's in-progress marker expires);
- shutdown: SIGTERM with a 1 s grace (running jobs re-queued) and a 60 s grace (they finish);
- chaos: 60 jobs against ~20% 5xx/reset/truncated answers plus SEC rate-limit pages and a
  10 req/s SEC throttle; ``max_rps_window`` is the densest second of the server's log;
- hostile: the router answers 300 random hostile requests without a 5xx;
- tenancy: cross-org reads of every read path; ``tenancy_leaks`` must be 0.
- poison: 5 copies of 12 malformed arq job hashes (``et`` text/huge/NaN, ``t``/``f``/``a``/``k`` of
  the wrong type...) ahead of 20 good jobs on 2 workers: ``worker_exits`` must be 0, every
  poison entry failed by arq and off the queue, every good job completed;
- post_final: 20 failed jobs whose 2 item jobs each are still queued, run by 2 workers beside
  20 good jobs: ``item_jobs_skipped`` 40 and ``post_final_writes`` (items, counts or events
  added to a final job) 0;
- redis_restart: 30 jobs on 2 workers with the router and 10 resuming SSE clients; Redis (its
  own AOF data dir) is stopped for 2 s mid-run and started again, once SIGKILLed with
  ``appendfsync always`` (strict: ``lost`` and ``sse.mismatched_jobs`` must be 0) and once
  stopped gracefully with ``everysec`` (SIGTERM flushes the AOF, so also 0);
- long_outage: the same with Redis down 40 s and 120 s, longer than a command's retry budget
  (~16-31 s): ``alive.workers`` must stay 2 (no worker exits), ``lost`` 0;
- soak: 10,000 small jobs (2,000 quick) on 2 workers, each streamed to one of 100 SSE clients;
  ``lost`` 0 and worker/web RSS growth (MB, after a warm-up pass) are the leak check;
- fairness: ``bench/fairness.py`` (a light org's job times alone and during another org's
  flood, with and without the per-org gate; ``p99_ratio`` target <= 3, ``worker_exits`` 0).

``ACQUIRE_BENCH_QUICK=1`` runs smaller sizes. Prints one final JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fairness  # bench/fairness.py

from acquire.client import AcquireClient
from acquire.models import SecFilingsRequest
from acquire.settings import Settings
from acquire.testing.embedded import EmbeddedRedis
from acquire.testing.reliability.fleet import await_all, fleet_env
from acquire.testing.reliability.hardening import run_poison, run_post_final
from acquire.testing.reliability.restart import run_redis_restart
from acquire.testing.reliability.scenarios import run_chaos, run_crash, run_shutdown
from acquire.testing.reliability.soak import run_soak
from acquire.testing.reliability.tenancy import count_leaks
from acquire.testing.replay import ReplayServer

QUICK = os.environ.get("ACQUIRE_BENCH_QUICK") == "1"


def _settings(redis_url: str, server: ReplayServer) -> Settings:
    return Settings.model_validate(
        {
            "redis_url": redis_url,
            "sec_user_agent": "acquire bench bench@example.com",
            "metrics_port": 0,
            **server.settings_overrides(),
        }
    )


async def _flush(settings: Settings) -> None:
    async with await AcquireClient.connect(settings) as client:
        await client.redis.flushdb()


async def _tenancy(settings: Settings) -> int:
    from acquire.testing.reliability.fleet import Fleet

    async with await AcquireClient.connect(settings) as client:
        request = SecFilingsRequest(companies=["NVDA"], years=[2024])
        own = {org: await client.submit(org, request) for org in ("acme", "globex", "initech")}
        with Fleet(fleet_env(settings), Path(tempfile.mkdtemp(prefix="acquire-tenancy-"))) as fleet:
            fleet.start(1)
            await await_all(list(own.values()), timeout=120)
        _, leaks = await count_leaks(client, list(own.values()), own)
    return len(leaks)


async def _hostile(settings: Settings) -> dict[str, Any]:
    import random

    import httpx
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from acquire.web import api_key_authorizer, create_router

    key = "k" * 32
    rng = random.Random(3)
    async with await AcquireClient.connect(settings) as client:
        router = create_router(client, api_key_authorizer({key: "acme"}), token_secret="s" * 32)
        app = Starlette(routes=[Mount("/acquire", router)])
        codes: dict[str, int] = {}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t/acquire"
        ) as http:
            for _ in range(300):
                job_id = "".join(rng.choice("Aa0_-.%/?#") for _ in range(rng.randint(0, 30))) or "x"
                path = rng.choice(
                    ["/jobs", f"/jobs/{job_id}", f"/jobs/{job_id}/result", f"/jobs/{job_id}/events"]
                )
                body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
                response = await http.request(
                    rng.choice(["GET", "POST"]),
                    path,
                    content=body,
                    headers={"X-API-Key": rng.choice([key, "bad"])},
                )
                codes[str(response.status_code)] = codes.get(str(response.status_code), 0) + 1
        await router.aclose()
    return {
        "requests": 300,
        "server_errors": sum(n for c, n in codes.items() if c.startswith("5")),
        "codes": codes,
    }


def _slim(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "problems"}


async def main() -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="acquire-reliability-"))
    out: dict[str, Any] = {}
    with (
        EmbeddedRedis(work / "redis") as redis_server,
        ReplayServer() as replay,
        ReplayServer(sec_max_rps=10, sec_block_seconds=2) as throttled,
    ):
        settings = _settings(redis_server.url, replay)
        await _flush(settings)
        out["crash"] = _slim(await run_crash(settings, work / "crash", jobs=60 if QUICK else 200))
        await _flush(settings)
        shutdown = await run_shutdown(settings, work / "shutdown", jobs=10)
        out["shutdown"] = {k: _slim(v) if isinstance(v, dict) else v for k, v in shutdown.items()}
        await _flush(settings)
        chaos_settings = _settings(redis_server.url, throttled)
        out["chaos"] = _slim(
            await run_chaos(chaos_settings, throttled, work / "chaos", jobs=30 if QUICK else 60)
        )
        await _flush(settings)
        out["hostile"] = await _hostile(settings)
        await _flush(settings)
        out["poison"] = await run_poison(settings, work / "poison", rounds=2 if QUICK else 5)
        await _flush(settings)
        out["post_final"] = await run_post_final(settings, work / "post-final", jobs=10 if QUICK else 20)
        await _flush(settings)
        out["tenancy_leaks"] = await _tenancy(settings)
        out["redis_restart"] = {
            "kill_fsync_always": _slim(await run_redis_restart(work / "restart-kill", replay)),
            "graceful_everysec": _slim(
                await run_redis_restart(work / "restart-stop", replay, kill=False, fsync_always=False)
            ),
        }
        out["long_outage"] = {
            f"down_{down}s": _slim(await run_redis_restart(work / f"outage-{down}", replay, down_s=down))
            for down in ((40,) if QUICK else (40, 120))
        }
        await _flush(settings)
        out["soak"] = _slim(await run_soak(settings, work / "soak", jobs=2000 if QUICK else 10_000))
    out["fairness"] = await fairness.main()  # its own Redis and fleet
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main()), separators=(",", ":")))
