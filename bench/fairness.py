"""Fairness across orgs: a light org's small jobs while another org floods the fleet.

    python bench/fairness.py

Starts an embedded Redis, the replay server and 2 ``arq acquire.WorkerSettings`` processes
(8 slots each, no HTTP cache, SEC at its fleet-wide 10 requests/s, so the flood is bound by
SEC as in production). Org ``acme`` runs one-company XBRL jobs one after another and times
each from submit to final status:

- ``alone``: with nothing else running;
- ``flood``: while org ``globex`` runs two XBRL jobs of ``FLOOD`` companies each (real
  tickers, one SEC request per company), through the per-org admission gate
  (``ACQUIRE_ORG_MAX_INFLIGHT_ITEMS``, default 10);
- ``flood_no_gate``: the same with the gate off (``ACQUIRE_ORG_MAX_INFLIGHT_ITEMS=0``), only
  ``LIGHT_NO_GATE`` jobs submitted at once (each waits for most of the flood).

In both flood phases the light jobs start once the flood's jobs have spread their items.

``p99_ratio`` is flood p99 over alone p99 (the target is <= 3). ``ACQUIRE_BENCH_QUICK=1``
runs smaller sizes. Prints one final JSON line.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arq.constants import result_key_prefix

from acquire.client import AcquireClient, JobHandle
from acquire.models import JobState, XbrlFactsRequest
from acquire.results import XbrlFactsResult
from acquire.settings import Settings
from acquire.testing.embedded import EmbeddedRedis
from acquire.testing.reliability.fleet import Fleet, fleet_env
from acquire.testing.replay import ReplayServer, default_fixtures_dir

QUICK = os.environ.get("ACQUIRE_BENCH_QUICK") == "1"
FLOOD = 150 if QUICK else 400
LIGHT = 10 if QUICK else 20
LIGHT_NO_GATE = 3
LIGHT_ORG, FLOOD_ORG = "acme", "globex"


def _light() -> XbrlFactsRequest:
    return XbrlFactsRequest(companies=["NVDA"], years=[2024])


def _tickers() -> list[str]:
    """Real tickers of SEC's list (its recording), NVDA aside."""
    path = default_fixtures_dir() / "sec" / "www.sec.gov" / "files" / "company_tickers.json.gz"
    raw = gzip.decompress(path.read_bytes())
    found = [str(entry["ticker"]) for entry in json.loads(raw).values()]
    return [t for t in dict.fromkeys(found) if t != "NVDA" and _TICKER.fullmatch(t)]


_TICKER = re.compile(r"[A-Z]{1,5}")


def _flood(part: int, tickers: list[str]) -> XbrlFactsRequest:
    # One companyfacts request each, like real companies (the recordings answer most with 404).
    return XbrlFactsRequest(companies=tickers[part * FLOOD : (part + 1) * FLOOD], years=[2024])


def _percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_s": round(statistics.median(ordered), 3), "p99_s": round(p99, 3), "n": len(ordered)}


async def _timed(client: AcquireClient) -> float:
    started = time.perf_counter()
    handle = await client.submit(LIGHT_ORG, _light())
    status = await handle.wait(timeout=600)
    assert status.state == JobState.COMPLETED, status
    return time.perf_counter() - started


async def _light_series(client: AcquireClient, count: int) -> list[float]:
    return [await _timed(client) for _ in range(count)]


async def _spread(client: AcquireClient, handles: list[JobHandle[XbrlFactsResult]]) -> None:
    """Until the flood's jobs have put all their items on the queue or in the backlog (their
    own arq jobs have finished), so the light org arrives behind the whole flood."""
    # arq announces a job's end by no event: read its result key.
    while not all([await client.redis.exists(result_key_prefix + h.job_id) for h in handles]):  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def _running(handles: list[JobHandle[XbrlFactsResult]]) -> bool:
    states = [(await h.status()).state for h in handles]
    return not all(state.final for state in states)


async def _phase(settings: Settings, work: Path, *, gate: bool) -> dict[str, Any]:
    overrides = {"SEC_CACHE": "none", "SEC_MAX_RPS": "10", "ACQUIRE_JOB_TIMEOUT": "120"}
    overrides["ACQUIRE_ORG_MAX_INFLIGHT_ITEMS"] = "10" if gate else "0"  # 10: the default
    env = fleet_env(settings, **overrides)
    async with await AcquireClient.connect(settings) as client:
        await client.redis.flushdb()
        with Fleet(env, work) as fleet:
            fleet.start(2)
            await _timed(client)  # warm-up: workers up, code loaded
            out: dict[str, Any] = {}
            if gate:
                out["alone"] = _percentiles(await _light_series(client, LIGHT))
            started = time.perf_counter()
            tickers = _tickers()
            flood = [await client.submit(FLOOD_ORG, _flood(part, tickers)) for part in range(2)]
            await _spread(client, flood)
            if gate:
                times = await _light_series(client, LIGHT)
            else:
                times = list(await asyncio.gather(*(_timed(client) for _ in range(LIGHT_NO_GATE))))
            out["flood"] = _percentiles(times)
            out["flood_still_running"] = await _running(flood)
            for handle in flood:
                await handle.wait(timeout=900)
            out["flood_s"] = round(time.perf_counter() - started, 1)
            out["worker_exits"] = sum(p.poll() is not None for p in fleet.procs)
    return out


async def main() -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="acquire-fairness-"))
    with EmbeddedRedis(work / "redis") as redis_server, ReplayServer() as replay:
        settings = Settings(
            redis_url=redis_server.url,
            sec_user_agent="acquire bench bench@example.com",
            **replay.settings_overrides(),
            metrics_port=0,
        )
        gated = await _phase(settings, work / "gated", gate=True)
        ungated = await _phase(settings, work / "no-gate", gate=False)
    alone, flood = gated["alone"], gated["flood"]
    return {
        "flood_jobs": 2,
        "flood_companies_per_job": FLOOD,
        "light_jobs": LIGHT,
        "alone": alone,
        "flood": flood,
        "p50_ratio": round(flood["p50_s"] / alone["p50_s"], 2),
        "p99_ratio": round(flood["p99_s"] / alone["p99_s"], 2),
        "flood_still_running_after_light_jobs": gated["flood_still_running"],
        "flood_s": gated["flood_s"],
        "flood_no_gate": ungated["flood"],
        "flood_no_gate_p50_ratio": round(ungated["flood"]["p50_s"] / alone["p50_s"], 2),
        "flood_no_gate_s": ungated["flood_s"],
        "worker_exits": gated["worker_exits"] + ungated["worker_exits"],
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main()), separators=(",", ":")))
