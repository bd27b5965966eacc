"""The event routes of the router: a job's events over SSE, and tokens for ``EventSource``.

::

    GET  /jobs/{id}/events       text/event-stream (HEAD too); 204 once nothing is left to send
    POST /jobs/{id}/token        200 {"token", "expires_at", "events_url"} + cookie (EventSource)

The events route accepts, in this order, a ``?token=`` (a 401 when it fails verification), a
valid ``acquire_events_token`` cookie (an invalid one falls back), or the host's ``authorize``.
Each message carries the Redis Stream id as ``id``; a reconnect with ``Last-Event-ID`` (header,
or ``?last_event_id=``) resumes after it. The backlog is read in pages from the job's stream,
then live events come from the process-wide :class:`~acquire.web.sse.EventFanout`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable

from sse_starlette import ServerSentEvent
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from acquire.client import AcquireClient
from acquire.models import JobStatus
from acquire.store import keys
from acquire.store.events import valid_stream_id
from acquire.web.auth import InvalidTokenError, TokenSigner
from acquire.web.responses import GuardedEventSourceResponse
from acquire.web.sse import EventFanout, StreamEvent

__all__ = ["COOKIE_NAME", "EventEndpoints"]

COOKIE_NAME = "acquire_events_token"
_PAGE = 500  # backlog events read per round trip
_EXPIRY_CHECK = 30.0  # how often an idle stream checks that its job still exists (s)
_SEND_TIMEOUT = 30.0  # a client that accepts nothing for this long is disconnected (s)


class EventEndpoints:
    """Handlers for the event routes.

    ``authorize`` is the router's (the host's ``authorize``, validated); ``job_id`` reads and
    validates the path's job id (raising the router's not-found answer).
    """

    def __init__(
        self,
        client: AcquireClient,
        authorize: Callable[[Request], Awaitable[str]],
        job_id: Callable[[Request], str],
        tokens: TokenSigner | None,
        fanout: EventFanout,
        *,
        ping_seconds: float,
        max_stream_seconds: float,
        retry_ms: int,
        cookie_secure: bool,
    ) -> None:
        self.client = client
        self.store = client.store
        self._authorize = authorize
        self._job_id = job_id
        self.tokens = tokens
        self.fanout = fanout
        self.ping_seconds = ping_seconds
        self.max_stream_seconds = max_stream_seconds
        self.retry_ms = retry_ms
        self.cookie_secure = cookie_secure

    async def _org(self, request: Request, job_id: str) -> str:
        """Org of an events request: a query token, else a valid cookie, else ``authorize``."""
        token = request.query_params.get("token")
        if token is not None:
            if self.tokens is None:
                raise HTTPException(401, "token authentication is not enabled on this server")
            try:
                return self.tokens.verify(token, job_id)
            except InvalidTokenError as exc:
                raise HTTPException(401, str(exc)) from None
        cookie = request.cookies.get(COOKIE_NAME)
        if cookie and self.tokens is not None:
            try:
                return self.tokens.verify(cookie, job_id)
            except InvalidTokenError:
                pass  # ambient and possibly stale: the host's own authorisation decides
        return await self._authorize(request)

    async def token(self, request: Request) -> Response:
        org = await self._authorize(request)
        job_id = self._job_id(request)
        if self.tokens is None:
            raise HTTPException(404, "token authentication is not enabled on this server")
        await self.store.get_status(org, job_id)
        token = self.tokens.mint(org, job_id)
        path = f"{request.scope.get('root_path', '')}/jobs/{job_id}/events"
        response = JSONResponse(
            {"token": token, "expires_at": self.tokens.expires_at(token), "events_url": path}
        )
        response.set_cookie(
            COOKIE_NAME,
            token,
            max_age=self.tokens.ttl,
            path=path,
            httponly=True,
            secure=self.cookie_secure,
            samesite="strict",
        )
        return response

    async def events(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        org = await self._org(request, job_id)
        job_id = self._job_id(request)
        after = request.headers.get("last-event-id") or request.query_params.get("last_event_id") or "0"
        if not valid_stream_id(after):
            raise HTTPException(400, "Last-Event-ID must be an event id such as 1712345678901-0")
        status = await self.store.get_status(org, job_id)
        page = await self._range(org, job_id, after)
        if status.state.final and not page:
            # Everything, including the final event, was delivered: 204 makes browsers stop retrying.
            return Response(status_code=204)
        return GuardedEventSourceResponse(
            self._stream(org, job_id, status, after, page),
            ping=self.ping_seconds,
            stall_timeout=_SEND_TIMEOUT,
        )

    async def _range(self, org: str, job_id: str, after: str) -> list[StreamEvent]:
        return [
            StreamEvent.of(event) for event in await self.client.events.range(org, job_id, after, count=_PAGE)
        ]

    async def _stream(
        self, org: str, job_id: str, status: JobStatus, after: str, page: list[StreamEvent]
    ) -> AsyncIterator[bytes | ServerSentEvent]:
        yield ServerSentEvent(retry=self.retry_ms)
        last = after
        while True:  # the backlog, then (unless the job had already finished) the live tail
            for item in page:
                yield item.sse
                last = item.id
                if item.terminal:
                    return
            if len(page) < _PAGE:
                break
            page = await self._range(org, job_id, last)
        if status.state.final:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_stream_seconds
        async with await self.fanout.subscribe(org, job_id, last) as sub:
            # One timer per connection, re-armed every _EXPIRY_CHECK s, instead of a timeout on
            # each wait: the latter is a timer per event per client (see Subscription). Each
            # period is drawn from its second half: streams opened together (a dashboard's
            # clients reconnecting) would otherwise all check at the same moment, a burst of
            # reads that holds up every stream's events.
            def check_soon() -> asyncio.TimerHandle:
                period = _EXPIRY_CHECK * random.uniform(0.5, 1.0)
                return loop.call_at(min(loop.time() + period, deadline), sub.interrupt)

            timer = check_soon()
            lively = False  # an event since the last check: the job was written to, it exists
            try:
                while True:
                    live = await sub.get()
                    if live is not None:
                        lively = True
                        yield live.sse
                        if live.terminal:
                            return
                        continue
                    if sub.closed:  # dropped as too slow, or shutting down: resume by id
                        return
                    if loop.time() >= deadline:
                        return
                    if not lively and not await self.store.redis.exists(keys.job_status(org, job_id)):
                        return  # expired while idle
                    lively = False
                    timer = check_soon()
            finally:
                timer.cancel()
