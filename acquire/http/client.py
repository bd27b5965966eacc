"""The HTTP layer every source shares: one ``httpx.AsyncClient``, retries, rate-limit hooks.

Sources know their upstream's quirks; this module knows HTTP. A source passes a
``classify`` function that turns an upstream response into an exception (or ``None`` for
success) and, optionally, a :class:`Limiter` that must grant each request (the fleet-wide
limiter in ``acquire.http.ratelimit`` implements it). Transport failures (timeouts, resets,
truncated bodies) and :class:`~acquire.errors.TransientError` are retried here a few times with
exponential backoff and full jitter; if they persist the error goes up to the job runtime,
which reschedules the whole job later.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import httpx

from acquire.errors import RateLimitedError, TransientError
from acquire.http.backoff import full_jitter

__all__ = ["Classifier", "Limiter", "SendAwareLimiter", "create_client", "fetch", "retry_after_seconds"]

log = logging.getLogger("acquire.http")

Classifier = Callable[[httpx.Response], Exception | None]


class Limiter(Protocol):
    """Grants requests to one upstream (e.g. fleet-wide, in Redis)."""

    async def acquire(self) -> None:
        """Wait until one more request may be sent."""

    async def pause(self, seconds: float) -> None:
        """Stop all traffic to the upstream for ``seconds`` (it throttled us)."""


@runtime_checkable
class SendAwareLimiter(Limiter, Protocol):
    """A limiter that wants to know when a granted request actually left the process.

    Between a grant and the bytes reaching the socket a process can stall (connection setup,
    a busy CPU); :func:`fetch` calls :meth:`sent` from httpcore's trace hook once the request
    headers are written, so the limiter can account the request at its real send time.
    """

    async def sent(self) -> None:
        """The request this task was last granted has just been sent."""


def create_client(
    *,
    user_agent: str,
    timeout: float = 30.0,
    max_connections: int = 20,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """The one client a worker uses for an upstream: pooled, gzip, explicit timeouts."""
    return httpx.AsyncClient(
        headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate", **(headers or {})},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        follow_redirects=False,
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header as seconds (delta or HTTP date), or ``None``."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # a malformed header is ignored, never a crash
    return max(0.0, parsed.timestamp() - time.time())


def default_classifier(response: httpx.Response) -> Exception | None:
    """2xx/304 succeed; 429 and 5xx are transient; anything else is returned as is."""
    if response.is_success or response.status_code == 304:
        return None
    if response.status_code == 429:
        return RateLimitedError("HTTP 429 Too Many Requests", retry_after=retry_after_seconds(response))
    if response.status_code >= 500:
        return TransientError(f"HTTP {response.status_code} from {response.url.host}")
    return None


def _on_sent(limiter: SendAwareLimiter) -> Callable[[str, Mapping[str, Any]], Awaitable[None]]:
    # httpcore awaits the trace callback inline, in the task that called fetch().
    async def trace(event: str, info: Mapping[str, Any]) -> None:
        if event.endswith("send_request_headers.complete"):
            await limiter.sent()

    return trace


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    classify: Classifier = default_classifier,
    limiter: Limiter | None = None,
    attempts: int = 3,
    backoff_base: float = 0.5,
    backoff_cap: float = 8.0,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    method: str = "GET",
    content: bytes | None = None,
) -> httpx.Response:
    """GET ``url`` (body read), retrying transient failures ``attempts`` times in total.

    ``method`` and ``content`` send something else (e.g. a form ``POST``); the same body is
    sent again on a retry.

    Raises the exception ``classify`` returns for a final answer, or the last
    :class:`~acquire.errors.TransientError` when retries are exhausted.
    """
    last: TransientError | None = None
    extensions = {"trace": _on_sent(limiter)} if isinstance(limiter, SendAwareLimiter) else None
    for attempt in range(attempts):
        if limiter is not None:
            await limiter.acquire()
        try:
            response = await client.request(
                method, url, headers=headers, params=params, content=content, extensions=extensions
            )
            await response.aread()
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            last = TransientError(f"{type(exc).__name__} fetching {url}: {exc}")
        except httpx.DecodingError as exc:
            last = TransientError(f"corrupt response body from {url}: {exc}")
        else:
            error = classify(response)
            if error is None:
                return response
            if not isinstance(error, TransientError):
                raise error
            last = error
            if isinstance(error, RateLimitedError) and limiter is not None:
                await limiter.pause(error.retry_after or backoff_cap)
            if error.retry_after is not None and error.retry_after > backoff_cap:
                # A long upstream block: let the job runtime reschedule instead of holding a slot.
                raise error
        if attempt + 1 < attempts:
            delay = (
                last.retry_after
                if last.retry_after is not None
                else full_jitter(attempt + 1, base=backoff_base, cap=backoff_cap)
            )
            log.info("retrying %s in %.2fs after: %s", url, delay, last)
            await asyncio.sleep(delay)
    assert last is not None
    raise last
