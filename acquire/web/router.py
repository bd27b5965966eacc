"""The drop-in Starlette router: submit jobs, read them, follow their events over SSE.

>>> router = create_router(client, authorize=api_key_authorizer({"k" * 32: "acme"}),
...                        token_secret=os.environ["EVENTS_TOKEN_SECRET"])
>>> app.mount("/acquire", router)           # Starlette or FastAPI
>>> # on shutdown: await router.aclose()

Routes (relative to the mount point)::

    POST /jobs                   202 {"job_id", "status"}   body: a job request with "kind"
    GET  /jobs?limit=50          200 {"jobs": [status, ...]} the caller's org, newest first
    GET  /jobs/{id}              200 status record + "items"
    GET  /jobs/{id}/result       200 {"job_id", "state", "result"}; 409 while not finished
    GET  /jobs/{id}/events       text/event-stream (HEAD too); 204 once nothing is left to send
    POST /jobs/{id}/token        200 {"token", "expires_at", "events_url"} + cookie (EventSource)
    GET  /jobs/{id}/documents... stored filings, their text and 10-K items (acquire.web.documents)
    GET  /schema[/{kind}]        200 JSON Schemas of requests, results, events and webhooks

Authorisation. Every request, including every SSE connect and reconnect, calls the host's
``authorize(request) -> org`` (sync or async; it raises ``HTTPException(401/403)`` to refuse).
The events route alternatively accepts a signed token bound to one org and one job, as
``?token=`` or in the ``acquire_events_token`` cookie that ``POST /jobs/{id}/token`` sets
(path-scoped to that job's events URL, ``HttpOnly``, ``SameSite=Strict``): browsers'
``EventSource`` cannot send an API key header. A query token that fails verification is a 401;
an invalid cookie falls back to ``authorize``.

Bodies and paths. ``POST /jobs`` must send its whole body within ``body_timeout`` seconds
(408 after). Paths are matched exactly: ``/jobs/`` is a 404, not a redirect (Starlette builds
redirects from the client's ``Host`` header).

Redis unavailable. When a request's Redis commands fail after the client's retries
(``ACQUIRE_REDIS_RETRIES``), the answer is ``503 {"detail": ...}`` with ``Retry-After``.

Not found is one answer. A job of another organisation, a missing or expired job and a
malformed job id (anything not matching :data:`acquire.store.keys.ID_PATTERN`, rejected before Redis
is touched) all get the same ``404 {"detail": "job not found"}``, so ids cannot be probed.

Events (handlers in :mod:`acquire.web.events`). Each SSE message carries the Redis Stream id
as ``id``, the event type as ``event`` and the :class:`~acquire.events.JobEvent` model as JSON
``data``. Reconnecting with ``Last-Event-ID``
(header, or ``?last_event_id=``) resumes exactly after that event. Streams end after
``job_completed``/``job_failed``, after ``max_stream_seconds`` (the browser reconnects and
resumes) or when a too-slow client is dropped. Live events come from the process-wide
:class:`~acquire.web.sse.EventFanout`: Redis connections do not grow with clients, as long as
the client's own pool is bounded (``redis.asyncio.BlockingConnectionPool``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pydantic_core
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from acquire.client import AcquireClient
from acquire.errors import JobNotFoundError, OrgQueueFullError, TransientError
from acquire.models import JobKind, parse_request, validate_org
from acquire.results.schemas import all_schemas, kind_schemas
from acquire.store import keys
from acquire.store.documents import DocumentNotFoundError
from acquire.web.auth import TokenSigner
from acquire.web.documents import DocumentEndpoints
from acquire.web.events import COOKIE_NAME, EventEndpoints
from acquire.web.sse import EventFanout

__all__ = ["COOKIE_NAME", "AcquireRouter", "Authorize", "create_router"]

_KINDS = [kind.value for kind in JobKind]

log = logging.getLogger("acquire.web")

#: ``authorize(request) -> org``: the host application's authentication, sync or async.
Authorize = Callable[[Request], Awaitable[str] | str]
Endpoint = Callable[[Request], Awaitable[Response]]

_NOT_FOUND = {"detail": "job not found"}
_UNAVAILABLE = {"detail": "the job store is unavailable; retry shortly"}
_RETRY_AFTER_UNAVAILABLE = "2"  # seconds: a Redis restart or failover takes about that long
_DIGITS = re.compile(r"[0-9]{1,20}")  # ASCII only: str.isdigit() is true for "²", which int() refuses


class _NotFoundError(Exception):
    pass


class AcquireRouter(Router):
    """A Starlette :class:`~starlette.routing.Router` with the fan-out it owns."""

    fanout: EventFanout
    tokens: TokenSigner | None

    async def aclose(self) -> None:
        """Stop the event fan-out (open SSE streams end). Call at application shutdown."""
        await self.fanout.aclose()


def create_router(
    client: AcquireClient,
    authorize: Authorize | None = None,
    *,
    token_secret: str | bytes | Sequence[str | bytes] | None = None,
    token_ttl: int = 300,
    max_body_bytes: int = 1_048_576,
    body_timeout: float = 10.0,
    ping_seconds: float = 15.0,
    max_stream_seconds: float = 3600.0,
    retry_ms: int = 2000,
    queue_size: int = 256,
    cookie_secure: bool = True,
    fanout: EventFanout | None = None,
) -> AcquireRouter:
    """Build the router; mount it with ``app.mount("/acquire", router)``.

    ``authorize`` is required. ``token_secret`` (32+ bytes; a sequence rotates keys) enables
    signed tokens for ``EventSource``; without it token and cookie auth are off.
    ``max_body_bytes`` bounds ``POST /jobs`` (413 beyond) and ``body_timeout`` the seconds its whole
    body may take to arrive (408 after: a slow client cannot hold a request open). ``ping_seconds``
    is the keep-alive comment interval, ``max_stream_seconds`` the longest one SSE response lives,
    ``retry_ms`` the reconnection delay suggested to browsers, ``queue_size`` the events buffered
    per slow client before it is dropped. Pass ``fanout`` to share one reader between several
    routers.
    """
    if authorize is None or not callable(authorize):
        raise TypeError(
            "create_router() requires authorize: a callable(request) -> organisation id that raises "
            "starlette.exceptions.HTTPException(401/403) to refuse (e.g. api_key_authorizer({...}))"
        )
    if max_body_bytes < 1 or body_timeout <= 0 or max_stream_seconds <= 0 or ping_seconds < 0:
        raise ValueError(
            "max_body_bytes, body_timeout and max_stream_seconds must be positive, ping_seconds >= 0"
        )
    api = _Api(client, authorize, max_body_bytes=max_body_bytes, body_timeout=body_timeout)
    events = EventEndpoints(
        client,
        api.authorize,
        _job_id,
        TokenSigner(token_secret, ttl=token_ttl) if token_secret else None,
        fanout or EventFanout(client.redis, queue_size=queue_size),
        ping_seconds=ping_seconds,
        max_stream_seconds=max_stream_seconds,
        retry_ms=retry_ms,
        cookie_secure=cookie_secure,
    )

    docs = DocumentEndpoints(client, api.org_and_job)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        # Runs only when the router is the ASGI app itself; a mounted router's host calls aclose().
        yield
        await events.fanout.aclose()

    router = AcquireRouter(
        routes=[
            Route("/jobs", _guard(api.submit), methods=["POST"], name="submit_job"),
            Route("/jobs", _guard(api.list_jobs), methods=["GET"], name="list_jobs"),
            Route("/jobs/{job_id}", _guard(api.job), methods=["GET"], name="job"),
            Route("/jobs/{job_id}/result", _guard(api.result), methods=["GET"], name="job_result"),
            Route("/jobs/{job_id}/events", _guard(events.events), methods=["GET"], name="job_events"),
            Route("/jobs/{job_id}/token", _guard(events.token), methods=["POST"], name="job_token"),
            Route("/schema", _guard(api.schema), methods=["GET"], name="schema"),
            Route("/schema/{kind}", _guard(api.schema), methods=["GET"], name="kind_schema"),
            Route(
                "/jobs/{job_id}/documents", _guard(docs.list_documents), methods=["GET"], name="job_documents"
            ),
            Route(
                "/jobs/{job_id}/documents/{document}", _guard(docs.document), methods=["GET"], name="document"
            ),
            Route(
                "/jobs/{job_id}/documents/{document}/text",
                _guard(docs.text),
                methods=["GET"],
                name="document_text",
            ),
            Route(
                "/jobs/{job_id}/documents/{document}/sections",
                _guard(docs.sections),
                methods=["GET"],
                name="document_sections",
            ),
            Route(
                "/jobs/{job_id}/documents/{document}/sections/{item}",
                _guard(docs.section),
                methods=["GET"],
                name="document_section",
            ),
        ],
        lifespan=lifespan,
        # Starlette builds the redirect's URL from the request's Host header, which the client chooses.
        redirect_slashes=False,
    )
    router.fanout = events.fanout
    router.tokens = events.tokens
    return router


def _guard(endpoint: Endpoint) -> Endpoint:
    """Render refusals as JSON even when the router is used without a Starlette app."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except HTTPException as exc:
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        except (_NotFoundError, JobNotFoundError):
            return JSONResponse(_NOT_FOUND, 404)
        except DocumentNotFoundError:
            return JSONResponse({"detail": "document not found"}, 404)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            return _unavailable(request, exc)
        except TransientError as exc:  # the client's submit wraps Redis being away (nothing enqueued)
            if not isinstance(exc.__cause__, RedisConnectionError | RedisTimeoutError):
                raise
            return _unavailable(request, exc.__cause__)
        except ClientDisconnect:  # nobody is left to answer; not a server error
            log.info("client disconnected before sending the body of %s %s", request.method, request.url.path)
            return Response(status_code=400)

    guarded.__name__ = endpoint.__name__
    guarded.__doc__ = endpoint.__doc__
    return guarded


def _unavailable(request: Request, exc: BaseException) -> JSONResponse:
    # Redis is away (restart, failover, loading its data): the request may succeed in a moment,
    # so say so instead of a 500; the client's retries were already spent.
    log.warning("job store unavailable for %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(_UNAVAILABLE, 503, headers={"Retry-After": _RETRY_AFTER_UNAVAILABLE})


def _job_id(request: Request) -> str:
    job_id: str = request.path_params["job_id"]
    if not keys.ID_PATTERN.fullmatch(job_id):
        raise _NotFoundError
    return job_id


def _json_error(message: str) -> str:
    """The 400's detail for pydantic-core's JSON error ``message``."""
    if message.startswith("recursion limit exceeded"):
        return "malformed JSON: nested too deeply"
    if message.startswith("number out of range"):
        return "malformed JSON: a number has too many digits"
    return f"malformed JSON: {message}"


def _unprocessable(errors: list[dict[str, str]], detail: str = "invalid job request") -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": errors}, 422)


def _validation_errors(exc: ValidationError, kind: object) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors():
        loc = list(error["loc"])
        if loc and loc[0] == kind:  # pydantic prefixes the discriminator tag; users never wrote it
            loc = loc[1:]
        message = str(error["msg"]).removeprefix("Value error, ")
        errors.append({"field": ".".join(str(p) for p in loc) or "body", "message": message})
    return errors


class _Api:
    def __init__(
        self,
        client: AcquireClient,
        authorize: Authorize,
        *,
        max_body_bytes: int,
        body_timeout: float,
    ) -> None:
        self.client = client
        self.store = client.store
        self._authorize = authorize
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    # ---- authorisation -----------------------------------------------------------------------

    async def authorize(self, request: Request) -> str:
        org = self._authorize(request)
        if inspect.isawaitable(org):
            org = await org
        if not isinstance(org, str):
            raise TypeError(f"authorize() must return an organisation id, got {type(org).__name__}")
        return validate_org(org)

    async def org_and_job(self, request: Request) -> tuple[str, str]:
        """The caller's org (``authorize``) and the job id of the path, validated."""
        return await self.authorize(request), _job_id(request)

    # ---- jobs --------------------------------------------------------------------------------

    async def submit(self, request: Request) -> Response:
        org = await self.authorize(request)
        content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            raise HTTPException(415, "the body must be JSON (Content-Type: application/json)")
        body = await self._read_body(request)
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise HTTPException(400, "malformed JSON: the body is not UTF-8") from None
        try:
            # pydantic-core's parser, not json.loads: its nesting limit (200) is its own, where
            # json's depends on the process's recursion limit (which other code may raise).
            data = pydantic_core.from_json(text)
        except ValueError as exc:
            raise HTTPException(400, _json_error(str(exc))) from None
        if not isinstance(data, dict):
            return _unprocessable([{"field": "body", "message": "must be a JSON object with a 'kind'"}])
        try:
            parsed = parse_request(data)
        except ValidationError as exc:
            return _unprocessable(_validation_errors(exc, data.get("kind")))
        idempotency_key = request.headers.get("idempotency-key")
        try:
            handle = await self.client.submit(org, parsed, idempotency_key=idempotency_key)
        except ValueError as exc:  # the only caller-controlled input left is the idempotency key
            return _unprocessable([{"field": "Idempotency-Key", "message": str(exc)}], "invalid header")
        except OrgQueueFullError as exc:
            retry_after = str(max(1, round(exc.retry_after)))
            return JSONResponse({"detail": str(exc)}, 429, headers={"Retry-After": retry_after})
        state = "queued"
        if idempotency_key is not None:  # a repeat returns the original job, which may have moved on
            state = (await self.store.get_status(org, handle.job_id)).state.value
        location = f"{request.scope.get('root_path', '')}/jobs/{handle.job_id}"
        return JSONResponse({"job_id": handle.job_id, "status": state}, 202, headers={"Location": location})

    async def _read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if _DIGITS.fullmatch(declared) and int(declared) > self.max_body_bytes:
            raise HTTPException(413, f"the body exceeds {self.max_body_bytes} bytes")
        body = bytearray()
        try:
            async with asyncio.timeout(self.body_timeout):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > self.max_body_bytes:
                        raise HTTPException(413, f"the body exceeds {self.max_body_bytes} bytes")
        except TimeoutError:
            # The rest of the body may still come: close the connection rather than read it.
            detail = f"the request body did not arrive within {self.body_timeout:g} s"
            raise HTTPException(408, detail, {"Connection": "close"}) from None
        return bytes(body)

    async def schema(self, request: Request) -> Response:
        """JSON Schemas: every kind's request and result, events and webhooks (or one kind's)."""
        await self.authorize(request)
        name = request.path_params.get("kind")
        if name is None:
            return JSONResponse(all_schemas())
        if name not in _KINDS:
            return JSONResponse({"detail": f"unknown kind; one of {', '.join(_KINDS)}"}, status_code=404)
        return JSONResponse(kind_schemas(JobKind(name)))

    async def list_jobs(self, request: Request) -> Response:
        org = await self.authorize(request)
        raw = request.query_params.get("limit", "50")
        if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= 1000:
            return _unprocessable(
                [{"field": "limit", "message": "must be an integer from 1 to 1000"}], "invalid query"
            )
        jobs = await self.client.list_jobs(org, int(raw))
        return JSONResponse({"jobs": [job.model_dump(mode="json") for job in jobs]})

    async def job(self, request: Request) -> Response:
        org = await self.authorize(request)
        job_id = _job_id(request)
        status = await self.store.get_status(org, job_id)
        items = await self.store.get_items(org, job_id)
        return JSONResponse(
            {**status.model_dump(mode="json"), "items": [i.model_dump(mode="json") for i in items]}
        )

    async def result(self, request: Request) -> Response:
        org = await self.authorize(request)
        job_id = _job_id(request)
        status = await self.store.get_status(org, job_id)
        if not status.state.final:
            return JSONResponse({"detail": f"job is {status.state.value}", "state": status.state.value}, 409)
        result = await self.store.get_result(org, job_id)
        return JSONResponse({"job_id": job_id, "state": status.state.value, "result": result})
