"""Webhook delivery: one SSRF-guarded attempt at a time, and what follows it.

Policy (as Svix does it): only 2xx is success. Redirects are never followed (a redirect
could point inward, past the SSRF guard) and count as failures. Any other status, a timeout
or a connection error is retried with exponential backoff and jitter (~5 s, 10 s, 20 s ...
capped at one hour), or after the receiver's ``Retry-After``, until ``WEBHOOK_MAX_TRIES``
attempts were made. 410 Gone, a malformed URL and a destination refused by
:mod:`acquire.webhooks.ssrf` end delivery at once.

Messages and their signatures are built by :mod:`acquire.webhooks`; the retried arq job that
calls :func:`deliver` and records each attempt is :mod:`acquire.jobs.webhook`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import httpx
from pydantic import BaseModel, Field

from acquire.http.backoff import equal_jitter
from acquire.http.client import retry_after_seconds
from acquire.settings import Settings
from acquire.webhooks.message import WebhookMessage
from acquire.webhooks.ssrf import (
    AllowList,
    DestinationBlockedError,
    IPAddress,
    Resolver,
    Target,
    parse_url,
    resolve_target,
)

__all__ = [
    "MAX_RETRY_AFTER",
    "RETRY_BASE",
    "RETRY_CAP",
    "WebhookAttempt",
    "WebhookOutcome",
    "decide",
    "deliver",
    "deliver_once",
    "retry_delay",
]

log = logging.getLogger("acquire.webhooks")

RETRY_BASE = 5.0
RETRY_CAP = 3600.0
#: A receiver's ``Retry-After`` is honoured up to this many seconds.
MAX_RETRY_AFTER = 86400.0
# Headers the transport owns; a caller's copy would contradict what is actually sent.
_TRANSPORT_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class WebhookOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GAVE_UP = "gave_up"


class WebhookAttempt(BaseModel):
    """The record of one delivery attempt, and what to do next.

    Store it (``model_dump(mode="json")``) under ``acquire.store.keys.job_webhooks``; on
    ``outcome == "retry"`` run the next attempt ``retry_in`` seconds later.
    """

    attempt: int = Field(ge=1, description="1 for the first attempt.")
    msg_id: str | None
    url: str = Field(description="The callback URL without its query string.")
    at: datetime
    address: str | None = Field(None, description="The checked IP address the request went to.")
    status_code: int | None = None
    error: str | None = None
    duration_ms: float
    outcome: WebhookOutcome
    retry_in: float | None = Field(None, description="Seconds until the next attempt.")
    next_retry_at: datetime | None = None


def retry_delay(attempt: int, *, rng: random.Random | None = None) -> float:
    """Backoff after failed attempt ``attempt`` (1-based): 5 s doubling, capped at 1 h.

    "Equal jitter": half the delay is fixed, half random, so receivers recovering from an
    outage are not hit by every sender at once, yet no retry comes almost immediately.
    """
    return equal_jitter(attempt, base=RETRY_BASE, cap=RETRY_CAP, rng=rng)


def decide(
    *,
    attempt: int,
    max_tries: int,
    status_code: int | None = None,
    retry_after: float | None = None,
    permanent: bool = False,
    rng: random.Random | None = None,
) -> tuple[WebhookOutcome, float | None]:
    """What follows an attempt: delivered, retry in N seconds, or give up.

    2xx is delivered. 410 Gone, a ``permanent`` failure (refused destination, bad URL) and the
    last allowed attempt give up. Anything else is retried after ``retry_after`` (the
    receiver's ``Retry-After``, at most a day) or :func:`retry_delay`.
    """
    if status_code is not None and 200 <= status_code < 300:
        return WebhookOutcome.DELIVERED, None
    if permanent or status_code == 410 or attempt >= max_tries:
        return WebhookOutcome.GAVE_UP, None
    if retry_after is not None:
        return WebhookOutcome.RETRY, min(max(retry_after, 0.0), MAX_RETRY_AFTER)
    return WebhookOutcome.RETRY, retry_delay(attempt, rng=rng)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return retry_after_seconds(response)
    except (ValueError, TypeError, OverflowError):
        return None  # a malformed Retry-After is ignored, not a reason to fail the attempt


async def _post(
    client: httpx.AsyncClient, target: Target, body: bytes, headers: Mapping[str, str]
) -> tuple[httpx.Response, IPAddress]:
    sent = {k: v for k, v in headers.items() if k.lower() not in _TRANSPORT_HEADERS}
    sent["host"] = target.host_header
    # TLS must verify the certificate of the name, not of the IP we connect to.
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    error: httpx.ConnectError | None = None
    for address in target.addresses:
        request = client.build_request(
            "POST", target.url_for(address), content=body, headers=sent, extensions=extensions
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.ConnectError as exc:
            error = exc  # nothing was sent: the next checked address is safe to try
            continue
        await response.aclose()  # the receiver's body is of no interest
        return response, address
    assert error is not None
    raise error


async def deliver_once(
    url: str,
    payload_bytes: bytes,
    headers: Mapping[str, str],
    *,
    settings: Settings,
    attempt: int,
    resolver: Resolver | None = None,
) -> WebhookAttempt:
    """Make delivery attempt number ``attempt`` (1-based) and return its record and decision.

    Never raises for delivery failures: they are the record's ``error``/``status_code``. The
    URL passes :func:`acquire.webhooks.ssrf.resolve_target` (``WEBHOOK_ALLOW_HOSTS`` exempts hosts);
    the request goes to the checked address with the original ``Host`` header and TLS name,
    without environment proxies or redirects, all within ``WEBHOOK_TIMEOUT``.
    """
    at = datetime.now(UTC)
    started = time.perf_counter()
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    permanent = False
    address: IPAddress | None = None
    try:
        shown = parse_url(url).redacted
    except DestinationBlockedError:
        shown = "<invalid URL>"
    try:
        async with asyncio.timeout(settings.webhook_timeout):
            target = await resolve_target(
                url, AllowList.parse(settings.webhook_allow_hosts), resolver=resolver
            )
            async with httpx.AsyncClient(
                trust_env=False, follow_redirects=False, timeout=httpx.Timeout(settings.webhook_timeout)
            ) as client:  # one client per attempt: a pooled TLS session must never serve another host
                response, address = await _post(client, target, payload_bytes, headers)
        status_code = response.status_code
        retry_after = _retry_after(response)
        if response.is_redirect:
            location = response.headers.get("location", "")[:200]
            error = f"HTTP {status_code} redirect to {location!r} not followed"
        elif not response.is_success:
            error = f"HTTP {status_code}"
    except DestinationBlockedError as exc:
        error, permanent = f"blocked: {exc}", True
    except TimeoutError:
        error = f"timed out after {settings.webhook_timeout:g}s"
    except socket.gaierror as exc:
        error = f"DNS resolution failed: {exc}"
    except (httpx.HTTPError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    outcome, retry_in = decide(
        attempt=attempt,
        max_tries=settings.webhook_max_tries,
        status_code=status_code,
        retry_after=retry_after,
        permanent=permanent,
    )
    record = WebhookAttempt(
        attempt=attempt,
        msg_id=httpx.Headers(headers).get("webhook-id"),
        url=shown,
        at=at,
        address=None if address is None else str(address),
        status_code=status_code,
        error=error,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        outcome=outcome,
        retry_in=None if retry_in is None else round(retry_in, 3),
        next_retry_at=None if retry_in is None else datetime.now(UTC) + timedelta(seconds=retry_in),
    )
    then = f"retry in {record.retry_in:g}s" if record.retry_in is not None else outcome.value
    log.info(
        "webhook %s attempt %d to %s: %s, %s",
        record.msg_id,
        attempt,
        shown,
        error or f"HTTP {status_code}",
        then,
    )
    return record


async def deliver(
    message: WebhookMessage, url: str, *, settings: Settings, attempt: int, resolver: Resolver | None = None
) -> WebhookAttempt:
    """:func:`deliver_once` for a :class:`WebhookMessage` built by :func:`build_message`."""
    return await deliver_once(
        url, message.body, message.headers, settings=settings, attempt=attempt, resolver=resolver
    )
