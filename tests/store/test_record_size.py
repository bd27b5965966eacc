"""A status record stays in Redis's compact hash encoding whatever its text fields hold."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from acquire.client import AcquireClient
from acquire.models import (
    EventType,
    JobState,
    JobStatus,
    RiskDriftRequest,
    SecFilingsRequest,
    XbrlFactsRequest,
    YahooRequest,
    compact_request,
    expand_request,
    parse_request,
)
from acquire.settings import Settings
from acquire.store import keys
from acquire.store.transition import SHORT_VALUE_MAX, Transition
from tests.support.jobs import drain

# Redis 6 calls the compact encoding "ziplist", Redis 7 "listpack".
COMPACT = {"ziplist", "listpack"}

MANY = [f"T{n}" for n in range(40)]  # a request far longer than a compact hash value


async def _encoding(redis: aioredis.Redis, key: str) -> str:
    raw = await redis.object("encoding", key)
    return raw.decode() if isinstance(raw, bytes) else str(raw)


async def _hash(redis: aioredis.Redis, key: str) -> dict[str, str]:
    raw: dict[bytes, bytes] = await redis.hgetall(key)  # type: ignore[misc]
    return {k.decode(): v.decode() for k, v in raw.items()}


@pytest.mark.parametrize("companies", [["NVDA"], MANY], ids=["short", "long"])
async def test_a_finished_jobs_status_hash_is_compact_and_reads_back_whole(
    settings: Settings, redis: aioredis.Redis, companies: list[str]
) -> None:
    request = SecFilingsRequest(companies=companies, years=[2024])
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit("acme", request)
        await drain(settings)
        status = await job.status()
        k = keys.job_keys("acme", job.job_id)
        assert status.state == JobState.COMPLETED
        assert status.request == request.model_dump(mode="json")  # defaults and all
        assert await _encoding(redis, k.status) in COMPACT
        stored, text = await _hash(redis, k.status), await _hash(redis, k.text)
        assert max(len(v) for v in stored.values()) <= SHORT_VALUE_MAX
        # Each text field is in one of the two hashes, never both.
        assert not stored.keys() & text.keys()
        short = len(json.dumps(compact_request(request), separators=(",", ":"))) <= SHORT_VALUE_MAX
        assert short == (companies == ["NVDA"])
        assert json.loads((stored if short else text)["request"]) == compact_request(request)
        assert await redis.exists(k.text) == (0 if short else 1)  # no text hash when all is short
        assert [j.job_id for j in await client.list_jobs("acme")] == [job.job_id]
        assert (await client.list_jobs("acme"))[0] == status


async def test_a_text_field_moves_between_the_hashes_as_its_length_changes(
    settings: Settings, redis: aioredis.Redis
) -> None:
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
        k = keys.job_keys("acme", job.job_id)
        store = client.store
        long_error = "upstream said: " + "x" * 200
        retrying = {"state": JobState.RETRYING, "error": long_error, "error_type": "TransientError"}
        assert await store.update_status("acme", job.job_id, retrying) == 1
        assert "error" in await _hash(redis, k.text) and "error" not in await _hash(redis, k.status)
        assert (await job.status()).error == long_error
        assert await store.update_status("acme", job.job_id, {"state": JobState.RUNNING, "error": ""}) == 1
        assert "error" not in await _hash(redis, k.text) and (await _hash(redis, k.status))["error"] == ""
        assert (await job.status()).error == ""
        summary = {"companies": MANY}
        done = Transition({"state": JobState.COMPLETED, "summary": summary}, EventType.JOB_COMPLETED, {})
        assert await store.apply_transitions("acme", job.job_id, [done]) == 1
        assert (await job.status()).summary == summary
        assert await _encoding(redis, k.status) in COMPACT
        assert 0 < await redis.ttl(k.text) <= settings.acquire_result_ttl


async def test_a_record_written_whole_in_the_status_hash_still_reads(
    settings: Settings, redis: aioredis.Redis
) -> None:
    # As stored before the text hash: every field, the whole request, in one hash.
    request = XbrlFactsRequest(companies=["NVDA"], years=[2024])
    now = datetime.now(UTC).isoformat()
    record: dict[str, Any] = {
        "job_id": "AAAAAAAAAAAAAAAAAAAAAA",
        "org": "acme",
        "kind": "xbrl_facts",
        "state": "completed",
        "progress": "100",
        "attempts": "1",
        "items_total": "0",
        "items_done": "0",
        "items_failed": "0",
        "created_at": now,
        "finished_at": now,
        "summary": json.dumps({"companies": 1}),
        "request": json.dumps(request.model_dump(mode="json")),
    }
    await redis.hset(keys.job_status("acme", record["job_id"]), mapping=record)  # type: ignore[misc]
    async with await AcquireClient.connect(settings) as client:
        status = await client.job("acme", record["job_id"]).status()
    assert status.request == request.model_dump(mode="json") and status.summary == {"companies": 1}
    expected = {**record, "summary": {"companies": 1}, "request": status.request}
    assert status == JobStatus.model_validate(expected)


@pytest.mark.parametrize(
    "request_",
    [
        SecFilingsRequest(companies=["NVDA"], years=[2024]),
        SecFilingsRequest(companies=["NVDA"], years=[2024], download=False, sections=["1A"]),
        XbrlFactsRequest(companies=["NVDA"], years=[2024], metrics=["revenue"], period="both"),
        YahooRequest(companies=["NVDA"], parts=["history", "profile"], range="5y"),
        RiskDriftRequest(ticker="NVDA", years=[2025, 2024], callback_url="https://hooks.example/x"),
    ],
)
def test_a_compact_request_drops_only_defaults_and_expands_back(request_: Any) -> None:
    full = request_.model_dump(mode="json")
    compact = compact_request(request_)
    assert compact["kind"] == full["kind"] and compact.items() <= full.items()
    dropped = full.keys() - compact.keys()
    assert all(full[name] == type(request_).model_fields[name].default for name in dropped if name != "kind")
    assert expand_request(compact) == full and list(expand_request(compact)) == list(full)
    assert expand_request(full) == full
    assert parse_request(compact) == request_
    # The defaults filled in are copies: changing them changes no other request.
    expand_request(compact_request(request_)).get("form_types", []).append("S-1")
    assert expand_request(compact_request(request_)) == full


async def test_a_jobs_sorted_set_scores_are_integers(settings: Settings, redis: aioredis.Redis) -> None:
    # A small sorted set is a ziplist/listpack: its insert reads every score before the new
    # one, and a fractional score is parsed with strtod each time, an integer not at all.
    async with await AcquireClient.connect(settings) as client:
        first = await client.submit("acme", SecFilingsRequest(companies=["NVDA"], years=[2024]))
        second = await client.submit("acme", SecFilingsRequest(companies=["AAPL"], years=[2024]))
        created = (await first.status()).created_at
        org_index = await redis.zrange(keys.org_jobs("acme"), 0, -1, withscores=True)
        active = await redis.zscore(keys.active(), keys.active_member("acme", first.job_id))
        listed = [job.job_id for job in await client.list_jobs("acme")]
    assert dict(org_index)[first.job_id.encode()] == round(created.timestamp() * 1_000_000)
    assert all(score == int(score) for _, score in org_index)
    assert active == int(created.timestamp())  # the reconciler compares it with seconds
    assert listed == [second.job_id, first.job_id]  # newest first, to the microsecond
