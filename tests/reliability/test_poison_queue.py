"""A hand-written arq job hash of the wrong shape never takes a worker process down.

arq converts a job's ``et`` (enqueue time) and compares its ``t`` (try) and looks up its ``f``
(function) outside its own error handling, so unguarded, ``{"et": "yesterday"}`` would end the
poll loop of every worker that picked the entry up, one after another.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from acquire import serialization
from acquire.client import AcquireClient
from acquire.settings import Settings
from acquire.testing.reliability.hardening import POISON, arq_result, run_poison
from acquire.testing.replay import ReplayServer

_GOOD: dict[str, Any] = {"t": 1, "f": "sec_filings", "a": [{}], "k": {}, "et": 1_700_000_000_000}


@pytest.mark.parametrize("name", sorted(POISON))
def test_deserialize_refuses_a_job_of_the_wrong_shape(name: str) -> None:
    with pytest.raises(ValueError, match="arq job"):
        serialization.deserialize(POISON[name].encode())


def test_deserialize_accepts_what_arq_writes() -> None:
    assert serialization.deserialize(serialization.serialize(_GOOD)) == _GOOD
    assert serialization.deserialize(serialization.serialize({**_GOOD, "t": None}))["t"] is None
    result = {**_GOOD, "s": False, "r": ValueError("boom"), "st": 1_700_000_000_001, "ft": 1_700_000_000_002,
              "q": "arq:queue", "id": "abc"}  # fmt: skip
    restored = serialization.deserialize(serialization.serialize(result))
    assert isinstance(restored["r"], serialization.JobError)
    assert restored["r"].message == "boom"


@pytest.mark.parametrize(
    "change", [{"s": "yes"}, {"st": "now"}, {"ft": 10**16}, {"q": 5}, {"id": ["x"]}, {"st": 1}]
)
def test_deserialize_refuses_a_result_of_the_wrong_shape(change: dict[str, Any]) -> None:
    result = {**_GOOD, "s": True, "r": None, "st": 1_700_000_000_001, "ft": 1_700_000_000_002, **change}
    if change == {"st": 1}:
        result.pop("ft")  # a result has both times or is not one
    with pytest.raises(ValueError, match="arq job"):
        serialization.deserialize(json.dumps(result).encode())


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_worker_processes_outlive_every_malformed_job_hash(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer, tmp_path: Path
) -> None:
    report = await run_poison(settings, tmp_path / "logs", rounds=1, jobs=4)
    assert report == {
        "poison_entries": len(POISON), "poison_failed_by_arq": len(POISON), "poison_left_in_queue": 0,
        "jobs": 4, "jobs_completed": 4, "states": {"completed": 4}, "worker_exits": 0,
    }  # fmt: skip
    async with await AcquireClient.connect(settings) as client:
        info = await arq_result(client, "et-text.0")
    assert "unable to deserialize job" in str(info.result)
