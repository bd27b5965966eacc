"""The SEC topic consumer example: consumer group, acknowledgements, pending entries on restart."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.settings import Settings
from examples.topic_consumer import Entry, consume, format_filing
from tests.support.jobs import run_real_worker

ROOT = Path(__file__).resolve().parents[2]
STREAM = "data.sec"
GROUP = "printers"


async def _append(redis: aioredis.Redis, accession: str) -> str:
    data = {
        "company": "NVDA",
        "cik": 1045810,
        "filing": {"form": "10-K", "fiscal_year": 2024, "accession": accession, "status": "completed"},
    }
    entry_id = await redis.xadd(
        STREAM, {"org": "acme", "job_id": "j1", "kind": "sec_filings", "data": json.dumps(data)}
    )
    return str(entry_id.decode())


async def _pending(redis: aioredis.Redis) -> int:
    return int((await redis.xpending(STREAM, GROUP))["pending"])


async def test_entries_are_handled_in_order_and_acknowledged(redis: aioredis.Redis) -> None:
    ids = [await _append(redis, f"0001045810-24-00000{i}") for i in range(3)]
    seen: list[Entry] = []
    handled = await consume(redis, stream=STREAM, group=GROUP, handle=seen.append, burst=True, block_ms=50)
    assert handled == 3
    assert [e.id for e in seen] == ids
    assert seen[0].org == "acme" and seen[0].data["filing"]["accession"] == "0001045810-24-000000"
    assert format_filing(seen[0]).endswith("NVDA 10-K FY2024 0001045810-24-000000 completed")
    assert await _pending(redis) == 0
    # Acknowledged entries are not delivered again to the group.
    assert await consume(redis, stream=STREAM, group=GROUP, handle=seen.append, burst=True, block_ms=50) == 0


async def test_a_restarted_consumer_first_handles_what_it_left_pending(redis: aioredis.Redis) -> None:
    ids = [await _append(redis, f"a-{i}") for i in range(3)]

    def crash_on_second(entry: Entry) -> None:
        if entry.id == ids[1]:
            raise RuntimeError("consumer died")

    with pytest.raises(RuntimeError, match="consumer died"):
        await consume(redis, stream=STREAM, group=GROUP, consumer="c1", handle=crash_on_second, burst=True)
    assert await _pending(redis) == 2  # the second and third were delivered, never acknowledged

    later = await _append(redis, "a-3")
    seen: list[str] = []
    stop = asyncio.Event()

    async def record(entry: Entry) -> None:
        seen.append(entry.id)
        if entry.id == later:
            stop.set()

    handled = await consume(
        redis, stream=STREAM, group=GROUP, consumer="c1", handle=record, stop=stop, block_ms=50
    )
    assert seen == [ids[1], ids[2], later]
    assert handled == 3
    assert await _pending(redis) == 0


async def test_a_new_consumer_claims_entries_a_dead_one_left_pending(redis: aioredis.Redis) -> None:
    ids = [await _append(redis, f"b-{i}") for i in range(2)]

    def die(entry: Entry) -> None:
        raise RuntimeError("consumer died")

    with pytest.raises(RuntimeError):
        await consume(redis, stream=STREAM, group=GROUP, consumer="old", handle=die, burst=True)
    seen: list[str] = []
    handled = await consume(
        redis,
        stream=STREAM,
        group=GROUP,
        consumer="new",
        handle=lambda e: seen.append(e.id),
        claim_idle_ms=0,
        burst=True,
        block_ms=50,
    )
    assert seen == ids and handled == 2
    assert await _pending(redis) == 0


async def test_the_script_prints_the_filings_a_real_sec_job_published(
    settings: Settings, redis: aioredis.Redis
) -> None:
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit(
            "acme", {"kind": "sec_filings", "companies": ["NVDA"], "years": [2024, 2025]}
        )
        await run_real_worker(settings)
        assert (await job.status()).state.value == "completed"
    env = {**os.environ, "REDIS_URL": settings.redis_url, "SEC_TOPIC": settings.sec_topic}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "examples.topic_consumer",
        "--burst",
        "--block-ms",
        "100",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert len(lines) == 2
    fiscal_years = sorted(line.split(" 10-K FY")[1][:4] for line in lines)
    assert fiscal_years == ["2024", "2025"]
    assert all(" org=acme NVDA 10-K FY" in line and line.endswith(" completed") for line in lines)
    assert "handled 2 entries" in err.decode()
    assert int((await redis.xpending(settings.sec_topic, "filings-printer"))["pending"]) == 0
