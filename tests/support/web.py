"""Helpers for the web tests: a real uvicorn server on loopback, an SSE parser, a gated job."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import uvicorn
from starlette.types import ASGIApp

from acquire.models import ItemState, JobKind
from acquire.runtime.run import JobContext, JobSpec, Outcome

KEY_ACME = "acme-key-0123456789abcdef"
KEY_GLOBEX = "globex-key-0123456789abcdef"
ACME = {"X-API-Key": KEY_ACME}
GLOBEX = {"X-API-Key": KEY_GLOBEX}
SECRET = "test-secret-0123456789abcdef0123456789"


@contextlib.asynccontextmanager
async def serve(app: ASGIApp, *, lifespan: Literal["on", "off"] = "off") -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on a loopback port in this event loop; yields the base URL.

    The listening socket is bound and listening before uvicorn starts, so clients can connect
    at once (the kernel queues them): no waiting for a "started" flag.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan=lifespan, log_level="warning", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Sse:
    """One parsed server-sent event."""

    id: str | None
    event: str
    data: dict[str, Any]


@dataclass
class Stream:
    """What one SSE connection received."""

    status: int
    headers: httpx.Headers
    events: list[Sse] = field(default_factory=list)
    retry: int | None = None
    ended: bool = False  # the server closed the stream (as opposed to us leaving early)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.events if e.id is not None]

    @property
    def names(self) -> list[str]:
        return [e.event for e in self.events]


async def sse(
    http: httpx.AsyncClient,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    until: Callable[[Sse], bool] | None = None,
    on_event: Callable[[Sse], Any] | None = None,
) -> Stream:
    """Open ``url`` as an event stream and read it until the server ends it or ``until`` is true."""
    async with http.stream("GET", url, headers=headers, params=params) as response:
        result = Stream(response.status_code, response.headers)
        if response.status_code != 200:
            await response.aread()
            result.ended = True
            return result
        fields: dict[str, str] = {}
        data: list[str] = []
        async for line in response.aiter_lines():
            if line == "":
                if "retry" in fields:
                    result.retry = int(fields["retry"])
                if data:
                    event = Sse(fields.get("id"), fields.get("event", "message"), json.loads("\n".join(data)))
                    result.events.append(event)
                    if on_event is not None:
                        await on_event(event) if asyncio.iscoroutinefunction(on_event) else on_event(event)
                    if until is not None and until(event):
                        return result
                fields, data = {}, []
                continue
            if line.startswith(":"):
                continue  # keep-alive comment
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
        result.ended = True
        return result


# ---- a job whose progress the test controls ------------------------------------------------

#: Companies named ``WAIT*`` block the gated job until the test sets their gate.
GATES: dict[str, asyncio.Event] = {}
#: Set once the gated job has written the item of that company (and its event).
WRITTEN: dict[str, asyncio.Event] = {}


async def _gated(job: JobContext, request: Any) -> Outcome[dict[str, Any]]:
    await job.step("fetch", 10)
    for company in request.companies:
        if company.startswith("WAIT"):
            await GATES[company].wait()
        await job.item(company, ItemState.COMPLETED, data={"company": company})
        if company in WRITTEN:
            WRITTEN[company].set()
    await job.step("save", 90)
    return Outcome(result={"companies": request.companies}, summary={"count": len(request.companies)})


GATED_SPEC = JobSpec(kind=JobKind.SEC_FILINGS, run=_gated)


def sec_body(*companies: str) -> dict[str, Any]:
    return {"kind": "sec_filings", "companies": list(companies), "years": [2024]}
