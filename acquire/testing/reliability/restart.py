"""Scenario: Redis stops (SIGKILL or SIGTERM) and starts again under a running fleet.

Two workers, the router in its own process and resuming SSE followers
(:mod:`acquire.testing.reliability.web`) carry on across the restart; afterwards every job
must be final and every follower's ids must equal the job's stream in Redis.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from acquire.client import AcquireClient
from acquire.settings import Settings
from acquire.testing.embedded import EmbeddedRedis
from acquire.testing.reliability.fleet import (
    Fleet,
    audit_jobs,
    await_all,
    fleet_env,
    mixed_requests,
    now,
    submit_all,
)
from acquire.testing.reliability.scenarios import ORG, until_in_flight
from acquire.testing.reliability.web import Followers, WebProcess, stream_mismatches
from acquire.testing.replay import ReplayServer

__all__ = ["run_redis_restart"]


def _settings(redis_url: str, replay: ReplayServer) -> Settings:
    return Settings.model_validate(
        {
            "redis_url": redis_url,
            "sec_user_agent": "acquire tests tests@example.com",
            "metrics_port": 0,
            **replay.settings_overrides(),
        }
    )


async def _set_fsync(client: AcquireClient, always: bool) -> None:
    # Not persisted by the server (no config file): set again after every start.
    await client.redis.config_set("appendfsync", "always" if always else "everysec")


async def run_redis_restart(
    work: Path,
    replay: ReplayServer,
    *,
    jobs: int = 30,
    followers: int = 10,
    kill: bool = True,
    fsync_always: bool = True,
    down_s: float = 2.0,
    redis_retries: int | None = None,
) -> dict[str, Any]:
    """Stop Redis (SIGKILL with ``kill``, else SIGTERM) while 2 jobs run, start it
    again on the same data directory and socket, and let 2 workers, the router and
    ``followers`` SSE clients carry on.

    Jobs are slowed (no cache, SEC at 10 req/s) so several are in flight at the restart. Redis
    writes the AOF before replying, so a killed Redis process loses nothing either way; with
    ``fsync_always`` that also holds for a machine failure (see ``test_redis_restart``).
    Redis stays down for ``down_s`` seconds, as a real restart or failover would; with
    ``redis_retries`` (``ACQUIRE_REDIS_RETRIES`` of the workers and the router) an outage
    longer than a command's retry budget is cheap to produce.
    """
    server = EmbeddedRedis(work / "redis", appendonly=True).start()
    settings = _settings(server.url, replay)
    env = fleet_env(
        settings, SEC_CACHE="none", SEC_MAX_RPS="10", ACQUIRE_JOB_TIMEOUT="60", RELIABILITY_ORG=ORG
    )
    if redis_retries is not None:
        env["ACQUIRE_REDIS_RETRIES"] = str(redis_retries)
    try:
        async with await AcquireClient.connect(settings) as client:
            await _set_fsync(client, fsync_always)
            with (
                Fleet(env, work / "workers") as fleet,
                WebProcess(env, work / "web.log", max_stream_seconds=2) as web,
            ):
                fleet.start(2)
                await web.ready()  # an outage during its start-up would end it, as it should
                started = now()
                handles = await submit_all(client, ORG, mixed_requests(jobs))
                sse = Followers(web.url)
                following = asyncio.create_task(sse.follow_all([h.job_id for h in handles], followers))
                # Mid-run by construction: a wait for the first job to end let a short run
                # finish its last jobs too, and the outage then met an idle fleet.
                in_flight = await until_in_flight(client, 2, timeout=120)
                stopped = now()
                server.stop(kill=kill)
                await asyncio.sleep(down_s)  # the outage itself, not a synchronisation
                server.start()
                restart_s = now() - stopped
                await _set_fsync(client, fsync_always)
                await await_all(handles, timeout=240)
                async with asyncio.timeout(120):
                    await following
                elapsed = now() - started
                alive = {
                    "workers": sum(p.poll() is None for p in fleet.procs),
                    "web": web.proc.poll() is None,
                }
                logs = [fleet.log(i) for i in range(len(fleet.procs))]
                worker_errors = sum(log.count("Traceback") for log in logs)
                # Pickups that lost their connection mid-WATCH, and waits for Redis past the
                # retry budget (acquire.runtime.arq_patches).
                guarded = sum(log.count("lost while picking up a job") for log in logs)
                waits = sum(log.count("Redis unavailable while") for log in logs)
            audit = await audit_jobs(client, handles)
            mismatches = await stream_mismatches(client, handles, sse.received)
    finally:
        server.stop()
    return {
        **audit.as_dict(),
        "lost": audit.jobs - audit.final,
        "kill": kill,
        "appendfsync": "always" if fsync_always else "everysec",
        "in_flight_at_restart": in_flight,
        "restart_s": round(restart_s, 2),
        "alive": alive,
        "worker_tracebacks": worker_errors,
        "guarded_pickups": guarded,
        "waits_for_redis": waits,
        "down_s": down_s,
        "sse": {
            "clients": followers,
            "connects": sse.connects,
            "resumes": sse.resumes,
            "errors": sse.errors,
            "mismatched_jobs": len(mismatches),
        },
        "elapsed_s": round(elapsed, 2),
        "problems": (audit.duplicates + mismatches)[:10],
    }
