"""A web process, resuming SSE followers and RSS probes for the Redis-restart and soak scenarios.

The router runs in its own ``uvicorn`` process (so its memory can be measured apart from the
test's), serving :func:`web_app` on a socket the test bound and listens on before the process
starts: clients may connect at once, the kernel queues them. SSE followers behave like
browsers: when a stream ends or breaks before the job's terminal event they reconnect with
``Last-Event-ID`` and resume; afterwards every job's received ids are compared with its stream
in Redis.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from acquire.client import AcquireClient, JobHandle
from acquire.models import SecFilingsRequest
from acquire.settings import Settings
from acquire.store import keys
from acquire.testing.embedded import EmbeddedRedis
from acquire.testing.reliability.fleet import (
    Fleet,
    audit_jobs,
    await_all,
    final_states,
    fleet_env,
    mixed_requests,
    now,
    submit_all,
)
from acquire.testing.reliability.scenarios import ORG, until_in_flight
from acquire.testing.replay import ReplayServer

__all__ = [
    "API_KEY",
    "Followers",
    "WebProcess",
    "light_audit",
    "rss_mb",
    "run_redis_restart",
    "run_soak",
    "soak_request",
    "stream_mismatches",
    "web_app",
]

API_KEY = "reliability-key-0123456789abcdef"
_TERMINAL = frozenset({"job_completed", "job_failed"})
#: A browser's reconnection delay after a failed connect (sse ``retry`` is 2 s by default; the
#: followers are impatient so the scenarios stay short). Not a synchronisation.
_RECONNECT_DELAY = 0.1


def web_app() -> Starlette:
    """The router mounted at ``/acquire`` for org ``ORG`` (``uvicorn --factory``), from the env.

    ``RELIABILITY_ORG`` names the org of :data:`API_KEY`; ``RELIABILITY_MAX_STREAM_SECONDS``
    bounds each SSE response, so followers also resume by ``Last-Event-ID`` without faults.
    """
    from acquire.web import api_key_authorizer, create_router

    org = os.environ.get("RELIABILITY_ORG", "acme")
    max_stream = float(os.environ.get("RELIABILITY_MAX_STREAM_SECONDS", "3600"))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = await AcquireClient.connect(Settings.from_env())
        router = create_router(client, api_key_authorizer({API_KEY: org}), max_stream_seconds=max_stream)
        app.router.routes.append(Mount("/acquire", router))
        yield
        await router.aclose()
        await client.close()

    return Starlette(lifespan=lifespan)


class WebProcess:
    """``uvicorn --factory acquire.testing.reliability.restart:web_app`` on a pre-bound loopback socket."""

    def __init__(self, env: Mapping[str, str], log_path: Path, *, max_stream_seconds: float = 3600) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(1024)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/acquire"
        self._log: IO[bytes] = log_path.open("wb")
        self.log_path = log_path
        fd = self._sock.fileno()
        self.proc = subprocess.Popen(  # noqa: S603 - a fixed argv: this interpreter running uvicorn
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "acquire.testing.reliability.restart:web_app",
                "--fd",
                str(fd),
                "--log-level",
                "warning",
                "--no-access-log",
                "--lifespan",
                "on",
            ],
            env={**env, "RELIABILITY_MAX_STREAM_SECONDS": str(max_stream_seconds)},
            pass_fds=(fd,),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    async def ready(self, timeout: float = 60) -> None:  # noqa: ASYNC109
        """Return once the router answers (its lifespan connected to Redis); raise if it exited."""
        deadline = now() + timeout
        async with httpx.AsyncClient(timeout=5) as http:
            while now() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the web process exited ({self.proc.returncode}):\n{self.log()}")
                try:
                    response = await http.get(f"{self.url}/jobs?limit=1", headers={"X-API-Key": API_KEY})
                    if response.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                # Polling another process (uvicorn reports readiness only in its log).
                await asyncio.sleep(0.05)
        raise AssertionError(f"the web process did not answer within {timeout:g} s")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._sock.close()
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> WebProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` in MB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Followers:
    """Browser-like SSE clients following jobs through the router, resuming by ``Last-Event-ID``."""

    url: str
    received: dict[str, list[str]] = field(default_factory=dict)  # job id -> event ids, in order
    connects: int = 0
    resumes: int = 0  # connects that sent a Last-Event-ID
    errors: dict[str, int] = field(default_factory=dict)  # failed connects/reads by cause

    async def follow(self, http: httpx.AsyncClient, job_id: str) -> None:
        """Every event of ``job_id`` until its terminal event, reconnecting as often as needed."""
        ids = self.received.setdefault(job_id, [])
        done = False
        while not done:
            headers = {"X-API-Key": API_KEY}
            if ids:
                headers["Last-Event-ID"] = ids[-1]
                self.resumes += 1
            self.connects += 1
            try:
                done = await self._read(http, job_id, headers, ids)
            except (httpx.HTTPError, OSError) as exc:
                self._count(type(exc).__name__)
                await asyncio.sleep(_RECONNECT_DELAY)

    async def _read(
        self, http: httpx.AsyncClient, job_id: str, headers: dict[str, str], ids: list[str]
    ) -> bool:
        async with http.stream("GET", f"{self.url}/jobs/{job_id}/events", headers=headers) as response:
            if response.status_code == 204:  # everything was delivered already
                return True
            if response.status_code != 200:
                await response.aread()
                self._count(f"http_{response.status_code}")
                await asyncio.sleep(_RECONNECT_DELAY)
                return False
            event_id: str | None = None
            name = ""
            async for line in response.aiter_lines():
                if line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line == "" and event_id is not None:
                    ids.append(event_id)
                    if name in _TERMINAL:
                        return True
                    event_id, name = None, ""
        return False

    def _count(self, cause: str) -> None:
        self.errors[cause] = self.errors.get(cause, 0) + 1

    async def follow_all(self, job_ids: Sequence[str], clients: int) -> None:
        """``clients`` concurrent connections, each following its share of ``job_ids`` in turn."""
        limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
        timeout = httpx.Timeout(60.0, connect=10.0)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:

            async def one(share: Sequence[str]) -> None:
                for job_id in share:
                    await self.follow(http, job_id)

            await asyncio.gather(*(one(job_ids[n::clients]) for n in range(clients)))


async def stream_mismatches(
    client: AcquireClient, handles: Sequence[JobHandle[Any]], received: Mapping[str, list[str]]
) -> list[str]:
    """Jobs whose SSE-received ids differ from their stream in Redis (lost, repeated, reordered)."""
    problems = []
    for handle in handles:
        entries = await client.redis.xrange(keys.job_events(handle.org, handle.job_id), "-", "+")
        stored = [entry_id.decode() for entry_id, _ in entries]
        got = received.get(handle.job_id, [])
        if got != stored:
            problems.append(
                f"{handle.job_id}: received {len(got)} ids ({len(set(got))} distinct), stored {len(stored)}"
            )
    return problems


async def light_audit(client: AcquireClient, handles: Sequence[JobHandle[Any]]) -> dict[str, Any]:
    """States and terminal-event counts of many jobs, read in pipelined chunks."""
    states: Counter[str] = Counter()
    bad_terminal = 0
    for start in range(0, len(handles), 500):
        chunk = handles[start : start + 500]
        async with client.redis.pipeline(transaction=False) as pipe:
            for h in chunk:
                pipe.hget(keys.job_status(h.org, h.job_id), "state")
                pipe.xrange(keys.job_events(h.org, h.job_id), "-", "+")
            replies = await pipe.execute()
        for state, entries in zip(replies[::2], replies[1::2], strict=True):
            states[state.decode() if state else "missing"] += 1
            terminal = sum(1 for _, f in entries if f[b"event"].decode() in _TERMINAL)
            bad_terminal += terminal != 1
    final = sum(n for s, n in states.items() if s in final_states())
    return {"jobs": len(handles), "final": final, "states": dict(states), "bad_terminal": bad_terminal}


# ---- scenario 3: Redis restarts under a running fleet ------------------------------------------


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


# ---- scenario 7: the soak ------------------------------------------------------------------------


def soak_request() -> SecFilingsRequest:
    """A cheap job: one company's 10-K list for one year from cached JSON, nothing downloaded."""
    return SecFilingsRequest(companies=["NVDA"], form_types=["10-K"], years=[2024], download=False)


def _rss(fleet: Fleet, web: WebProcess) -> dict[str, Any]:
    return {"workers_mb": [rss_mb(p.pid) for p in fleet.procs], "web_mb": rss_mb(web.proc.pid)}


async def _pass(
    client: AcquireClient, web: WebProcess, count: int, clients: int
) -> tuple[list[JobHandle[Any]], Followers]:
    handles = await submit_all(client, ORG, [soak_request()] * count)
    sse = Followers(web.url)
    await sse.follow_all([h.job_id for h in handles], clients)
    return handles, sse


async def run_soak(
    settings: Settings, work: Path, *, jobs: int = 10_000, clients: int = 100
) -> dict[str, Any]:
    """``jobs`` small jobs through 2 workers, every one followed over SSE by one of ``clients``.

    A warm-up pass (5%, at least 200 jobs) loads code and caches first; RSS is then read from
    ``/proc`` before and after the measured pass, so growth means memory kept per job.
    """
    env = fleet_env(
        settings, WORKER_CONCURRENCY="20", RELIABILITY_ORG=ORG, ACQUIRE_JOBS_INDEX_MAX=str(max(jobs, 1000))
    )
    async with await AcquireClient.connect(settings) as client:
        with Fleet(env, work / "workers") as fleet, WebProcess(env, work / "web.log") as web:
            fleet.start(2)
            await _pass(client, web, max(200, jobs // 20), clients)
            start_rss = _rss(fleet, web)
            started = now()
            handles, sse = await _pass(client, web, jobs, clients)
            elapsed = now() - started
            end_rss = _rss(fleet, web)
            alive = sum(p.poll() is None for p in fleet.procs) + (web.proc.poll() is None)
        audit = await light_audit(client, handles)
        mismatches = await stream_mismatches(client, handles, sse.received)
    growth = [end - start for start, end in zip(start_rss["workers_mb"], end_rss["workers_mb"], strict=True)]
    return {
        **audit,
        "lost": audit["jobs"] - audit["final"],
        "sse_clients": clients,
        "sse_connects": sse.connects,
        "sse_errors": sse.errors,
        "sse_mismatched_jobs": len(mismatches),
        "rss_start": start_rss,
        "rss_end": end_rss,
        "worker_growth_mb": [round(g, 1) for g in growth],
        "web_growth_mb": round(end_rss["web_mb"] - start_rss["web_mb"], 1),
        "processes_alive": alive,
        "elapsed_s": round(elapsed, 2),
        "jobs_per_s": round(jobs / elapsed, 1),
        "problems": mismatches[:10],
    }
