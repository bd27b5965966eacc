"""The router in its own web process, and browser-like SSE followers, for the reliability scenarios.

The router runs in its own ``uvicorn`` process (so its memory can be measured apart from the
test's), serving :func:`web_app` on a socket the test bound and listens on before the process
starts: clients may connect at once, the kernel queues them. SSE followers behave like
browsers: when a stream ends or breaks before the job's terminal event they reconnect with
``Last-Event-ID`` and resume; afterwards every job's received ids are compared with its stream
in Redis (:func:`stream_mismatches`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from acquire.client import AcquireClient, JobHandle
from acquire.settings import Settings
from acquire.store import keys
from acquire.testing.reliability.fleet import now

__all__ = [
    "API_KEY",
    "TERMINAL_EVENTS",
    "Followers",
    "WebProcess",
    "rss_mb",
    "stream_mismatches",
    "web_app",
]

API_KEY = "reliability-key-0123456789abcdef"
TERMINAL_EVENTS = frozenset({"job_completed", "job_failed"})
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
    """``uvicorn --factory acquire.testing.reliability.web:web_app`` on a pre-bound loopback socket."""

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
                "acquire.testing.reliability.web:web_app",
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
                    if name in TERMINAL_EVENTS:
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
