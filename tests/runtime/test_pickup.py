"""arq's pickup of a job (check it is free and due, mark it in progress) is one script.

``acquire.runtime.arq_patches`` replaces the four round trips of arq's ``start_jobs`` per job
with one Lua script for acquire's workers. These tests run arq's own ``start_jobs`` (a worker
without acquire's wake-up) and the patched one on the same queue states and compare what
each decided and left in Redis, so an arq upgrade that changes the decision fails here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq import ArqRedis
from arq.constants import in_progress_key_prefix
from arq.worker import Worker, func
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError

from acquire import serialization
from acquire.connection import connect
from acquire.runtime import arq_patches
from acquire.runtime.arq_patches import WAKE_CTX, WakeUp, pickup
from acquire.settings import Settings

QUEUE = "test:pickup"
#: The in-progress marker's remaining lifetime (ms) each run of ``probe`` saw, by arq job id.
SEEN_TTL: dict[str, int] = {}


async def probe(ctx: dict[str, Any]) -> None:
    SEEN_TTL[ctx["job_id"]] = await ctx["redis"].pttl(in_progress_key_prefix + ctx["job_id"])


def _worker(pool: ArqRedis, *, ours: bool) -> Worker:
    arq_patches.install()
    ctx: dict[str, Any] = {"redis": pool}
    if ours:
        ctx[WAKE_CTX] = WakeUp.for_queue(QUEUE, 5.0)
    return Worker(
        [func(probe, name="probe", timeout=20)],
        redis_pool=pool,
        queue_name=QUEUE,
        burst=True,
        handle_signals=False,
        ctx=ctx,
        job_serializer=serialization.serialize,
        job_deserializer=serialization.deserialize,
    )


Setup = Callable[[ArqRedis, str], Awaitable[None]]


async def _due(pool: ArqRedis, job_id: str) -> None:
    await pool.enqueue_job("probe", _job_id=job_id, _queue_name=QUEUE)


async def _running_elsewhere(pool: ArqRedis, job_id: str) -> None:
    await _due(pool, job_id)
    await pool.psetex(in_progress_key_prefix + job_id, 60_000, b"1")


async def _not_yet_due(pool: ArqRedis, job_id: str) -> None:
    await pool.enqueue_job("probe", _job_id=job_id, _queue_name=QUEUE, _defer_by=60)


async def _left_the_queue(pool: ArqRedis, job_id: str) -> None:
    await _due(pool, job_id)
    await pool.zrem(QUEUE, job_id)


#: Something to run between a test's setup and ``start_jobs`` (with the pool and the worker).
BeforeStart = Callable[[ArqRedis, Worker], Awaitable[None]]


async def _decide(
    settings: Settings, setup: Setup, *, ours: bool, before_start: BeforeStart | None = None
) -> dict[str, Any]:
    pool = await connect(settings)
    worker = _worker(pool, ours=ours)
    job_id = f"pickup-{setup.__name__}-{'ours' if ours else 'arq'}"
    try:
        await pool.delete(QUEUE)
        await setup(pool, job_id)
        marker_before = await pool.pttl(in_progress_key_prefix + job_id)
        if before_start is not None:
            await before_start(pool, worker)
        await worker.start_jobs([job_id.encode()])
        started = job_id in worker.tasks
        if started:
            await worker.tasks[job_id]
        ttl = SEEN_TTL.pop(job_id, None)
        return {
            "started": started,
            "slots_taken": worker.job_counter - (1 if started else 0),
            "marker_kept": (await pool.pttl(in_progress_key_prefix + job_id)) > 0 and marker_before > 0,
            # arq marks a job for its longest function timeout + 10 s (30 s here); the bound
            # below leaves a busy machine 20 s between the pickup and the job's first step.
            "marker_ttl_ok": ttl is None or 10_000 < ttl <= 30_000,
            "queued": await pool.zscore(QUEUE, job_id) is not None,
        }
    finally:
        await worker.close()


@pytest.mark.parametrize("setup", [_due, _running_elsewhere, _not_yet_due, _left_the_queue])
async def test_the_pickup_script_decides_as_arqs_start_jobs(settings: Settings, setup: Setup) -> None:
    theirs = await _decide(settings, setup, ours=False)
    ours = await _decide(settings, setup, ours=True)
    assert ours == theirs
    assert ours["started"] == (setup is _due)


async def test_a_pickup_whose_reply_was_lost_still_starts_the_job(
    settings: Settings, redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # redis-py sends a command again on a fresh connection when the reply is lost; the script
    # has run by then, and finds its own marker: the job is still this worker's to start.
    pool = await connect(settings)
    worker = _worker(pool, ours=True)
    await pool.delete(QUEUE)
    await _due(pool, "pickup-lost-reply")
    read_response = AbstractConnection.read_response
    lost: list[bool] = []

    async def lose_first_reply(self: AbstractConnection, *args: Any, **kwargs: Any) -> Any:
        reply = await read_response(self, *args, **kwargs)
        if not lost:
            lost.append(True)
            await self.disconnect()
            raise RedisConnectionError("reply lost")
        return reply

    try:
        await pool.ping()  # the connection is open: the next reply read is the script's
        monkeypatch.setattr(AbstractConnection, "read_response", lose_first_reply)
        await worker.start_jobs([b"pickup-lost-reply"])
        monkeypatch.undo()
        assert lost, "the reply was not lost: the test did not test anything"
        assert "pickup-lost-reply" in worker.tasks
        await worker.tasks["pickup-lost-reply"]
        assert SEEN_TTL.pop("pickup-lost-reply") > 0
        assert await redis.zscore(QUEUE, "pickup-lost-reply") is None  # it ran and finished
    finally:
        monkeypatch.undo()
        await worker.close()


async def test_a_pickup_is_one_command(settings: Settings, redis: aioredis.Redis) -> None:
    pool = await connect(settings)
    worker = _worker(pool, ours=True)
    await pool.delete(QUEUE)
    await _running_elsewhere(pool, "pickup-count")
    try:
        await worker.start_jobs([b"pickup-count"])  # loads the script
        before = await redis.info("commandstats")
        await worker.start_jobs([b"pickup-count"])
        after = await redis.info("commandstats")
        calls = {
            name: int(after[name]["calls"]) - int(before.get(name, {}).get("calls", 0))
            for name in after
            if name != "cmdstat_info"
        }
        # The script and what it ran inside (the marker read; the job is not started).
        assert {name: n for name, n in calls.items() if n} == {"cmdstat_evalsha": 1, "cmdstat_get": 1}
        assert not worker.tasks and worker.job_counter == 0
    finally:
        await worker.close()


async def test_a_redis_that_forgot_the_script_still_picks_up(
    settings: Settings, redis: aioredis.Redis
) -> None:
    pool = await connect(settings)
    worker = _worker(pool, ours=True)
    await pool.delete(QUEUE)
    await _due(pool, "pickup-flushed")
    await redis.script_flush()  # as after a restart
    try:
        await worker.start_jobs([b"pickup-flushed"])
        assert "pickup-flushed" in worker.tasks
        await worker.tasks["pickup-flushed"]
        assert SEEN_TTL.pop("pickup-flushed") > 0
    finally:
        await worker.close()


# What a pickup does to a job's keys, as MONITOR shows it (the script's commands included),
# without the commands that only guard arq's check (WATCH, MULTI, EXEC) or hold the script.
_GUARDS = {"WATCH", "UNWATCH", "MULTI", "EXEC", "EVALSHA", "EVAL"}


async def _pickup_commands(
    settings: Settings, redis: aioredis.Redis, *, ours: bool, abort: bool, run: int = 0
) -> tuple[list[str], list[str]]:
    pool = await connect(settings)
    worker = _worker(pool, ours=ours)
    worker.allow_abort_jobs = abort
    job_id = f"pickup-monitor-{ours}-{abort}-{run}"
    await pool.delete(QUEUE)
    await _due(pool, job_id)
    seen: list[str] = []
    watcher = aioredis.Redis.from_url(settings.redis_url)
    try:
        async with watcher.monitor() as monitor:
            await redis.echo("pickup-starts")
            while "pickup-starts" not in (await monitor.next_command())["command"]:
                pass
            await worker.start_jobs([job_id.encode()])
            await worker.tasks[job_id]
            while "PTTL" not in (command := (await monitor.next_command())["command"]):
                seen.append(command)
    finally:
        await watcher.aclose()
        await worker.close()
    words = [command.split(" ") for command in seen]
    # Names and keys: the marker's value is arq's b'1' or the script's own.
    touching = [
        " ".join(w[:2]).replace(job_id, "<id>")
        for w in words
        if w[0] not in _GUARDS and job_id in " ".join(w)
    ]
    return touching, [w[0] for w in words if w[0] in _GUARDS]


@pytest.mark.parametrize("abort", [False, True], ids=["no-abort", "abort"])
async def test_a_pickup_sends_the_commands_of_arqs_start_jobs_and_run_job(
    settings: Settings, redis: aioredis.Redis, abort: bool
) -> None:
    # Everything arq's start_jobs and run_job send for a job before its code runs, in order;
    # an arq upgrade that changes any of it fails here.
    theirs, _ = await _pickup_commands(settings, redis, ours=False, abort=abort)
    _, first = await _pickup_commands(settings, redis, ours=True, abort=abort)
    ours, round_trips = await _pickup_commands(settings, redis, ours=True, abort=abort, run=1)
    assert first in (["EVALSHA"], ["EVALSHA", "EVAL"])  # the script is sent once per Redis
    assert round_trips == ["EVALSHA"]  # one command for all of it
    # arq asks EXISTS of the marker, the script GETs it (its own value may be there).
    assert theirs[0] == f"EXISTS {in_progress_key_prefix}<id>"
    assert ours[0] == f"GET {in_progress_key_prefix}<id>"
    assert ours[1:] == theirs[1:]
    assert ours[1:4] == [f"ZSCORE {QUEUE}", f"PSETEX {in_progress_key_prefix}<id>", "GET arq:job:<id>"]


async def test_a_start_pipeline_other_than_arqs_known_one_runs_for_real(
    settings: Settings, redis: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    # Should an arq upgrade queue other commands, the worker sends them instead of answering
    # with replies meant for others, and says so.
    pool = await connect(settings)
    await redis.set("pickup-real", b"v")
    start = pickup._StartPipeline(pool, [("get", "pickup-expected")], ["not this"])
    try:
        with caplog.at_level(logging.ERROR, logger="acquire.jobs"):
            async with start as pipe:
                pipe.get("pickup-real")
                pipe.incr("pickup-count")
                assert await pipe.execute() == [b"v", 1]
        assert "start pipeline is not the one acquire answers" in caplog.text
        assert await redis.get("pickup-count") == b"1"
    finally:
        await redis.delete("pickup-real", "pickup-count")
        await pool.aclose()
