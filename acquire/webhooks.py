"""Completion webhooks: Standard Webhooks signing, SSRF-guarded delivery, retry decisions.

When a job with a ``callback_url`` reaches a final status, the worker ``POST``s::

    {"data": {...}, "job_id": "...", "status": "completed", "timestamp": "2025-01-31T12:00:00.000Z"}

(compact JSON, sorted keys; ``timestamp`` is when the job finished), signed as the
`Standard Webhooks <https://www.standardwebhooks.com/>`_ specification describes:

``webhook-id``
    ``msg_<job_id>``: the same for every retry of the message, so receivers can deduplicate.
``webhook-timestamp``
    Unix seconds when this attempt was signed (each retry is signed afresh, so a late retry
    still passes the receiver's freshness check).
``webhook-signature``
    ``v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">``, one per
    secret in ``WEBHOOK_SECRET`` (comma-separated), separated by spaces: during a rotation
    receivers holding either secret accept the message.

Verifying webhooks in a host application
----------------------------------------
Verify the **raw** request body (before any JSON parsing) and reject what fails::

    from acquire.webhooks import WebhookVerificationError, verify

    @app.post("/hooks/acquire")
    async def acquire_hook(request: Request) -> Response:
        body = await request.body()
        try:
            event = verify(body, request.headers, os.environ["WEBHOOK_SECRET"])
        except WebhookVerificationError:
            return Response(status_code=400)
        if await already_seen(request.headers["webhook-id"]):  # retries repeat the id
            return Response(status_code=204)
        await handle(event["job_id"], event["status"], event["data"])
        return Response(status_code=204)

Any Standard Webhooks library works the same way, e.g.
``standardwebhooks.webhooks.Webhook(secret).verify(body, headers)``. Answer 2xx quickly
(do the work afterwards); 410 Gone tells acquire to stop sending this message.

Delivery policy (as Svix does it)
---------------------------------
Only 2xx is success. Redirects are never followed (a redirect could point inward, past the
SSRF guard) and count as failures. Any other status, a timeout or a connection error is
retried with exponential backoff and jitter (~5 s, 10 s, 20 s ... capped at one hour), or
after the receiver's ``Retry-After``, until ``WEBHOOK_MAX_TRIES`` attempts were made. 410
Gone, a malformed URL and a destination refused by :mod:`acquire.ssrf` end delivery at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import random
import re
import secrets as _secrets
import socket
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from acquire.errors import AcquireError, ConfigurationError
from acquire.settings import Settings
from acquire.sources.http import retry_after_seconds
from acquire.ssrf import AllowList, DestinationBlocked, IPAddress, Resolver, Target, parse_url, resolve_target

__all__ = [
    "DEFAULT_TOLERANCE",
    "Signer",
    "WebhookAttempt",
    "WebhookMessage",
    "WebhookOutcome",
    "WebhookVerificationError",
    "build_message",
    "decide",
    "deliver",
    "deliver_once",
    "encode_payload",
    "generate_secret",
    "retry_delay",
    "sign",
    "verify",
]

log = logging.getLogger("acquire.webhooks")

#: How far a ``webhook-timestamp`` may be from the receiver's clock (the spec's 5 minutes).
DEFAULT_TOLERANCE = 300.0
USER_AGENT = "acquire-webhooks/1 (+https://www.standardwebhooks.com/)"
RETRY_BASE = 5.0
RETRY_CAP = 3600.0
#: A receiver's ``Retry-After`` is honoured up to this many seconds.
MAX_RETRY_AFTER = 86400.0
_PREFIX = "whsec_"
_MIN_KEY_BYTES = 16
_MSG_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# Headers the transport owns; a caller's copy would contradict what is actually sent.
_TRANSPORT_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class WebhookVerificationError(AcquireError):
    """A received webhook is unsigned, stale, or signed with none of the expected secrets."""


# ---- signing ---------------------------------------------------------------------------------


def generate_secret() -> str:
    """A fresh ``whsec_`` secret (32 random bytes), e.g. for ``WEBHOOK_SECRET``."""
    return _PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode()


def _decode_secret(secret: str, position: int) -> bytes:
    # Messages name the position, never the value: secrets must not reach logs.
    text = secret.strip()
    if not text.startswith(_PREFIX):
        raise ConfigurationError(f"WEBHOOK_SECRET: secret #{position} must start with {_PREFIX!r}")
    encoded = text[len(_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ConfigurationError(f"WEBHOOK_SECRET: secret #{position} is not valid base64") from None
    if len(key) < _MIN_KEY_BYTES:
        raise ConfigurationError(
            f"WEBHOOK_SECRET: secret #{position} is {len(key)} bytes; use at least {_MIN_KEY_BYTES}"
        )
    return key


class Signer:
    """Signs (and verifies) messages with one or more ``whsec_`` secrets.

    ``secrets`` is a list, or one string with comma-separated secrets (``WEBHOOK_SECRET``'s
    format). Every secret signs each message, so rotating is: add the new secret, let
    receivers switch, remove the old one.
    """

    __slots__ = ("_keys",)

    def __init__(self, secrets: str | SecretStr | Sequence[str]) -> None:
        if isinstance(secrets, SecretStr):
            secrets = secrets.get_secret_value()
        items = secrets.split(",") if isinstance(secrets, str) else list(secrets)
        items = [s for s in items if s.strip()]
        if not items:
            raise ConfigurationError("WEBHOOK_SECRET: no secret given")
        self._keys = tuple(_decode_secret(s, i) for i, s in enumerate(items, 1))

    @classmethod
    def from_settings(cls, settings: Settings) -> Signer:
        """The signer for ``WEBHOOK_SECRET``; :class:`ConfigurationError` when it is unset."""
        if settings.webhook_secret is None:
            raise ConfigurationError("WEBHOOK_SECRET is not set; webhooks cannot be signed")
        return cls(settings.webhook_secret)

    def __repr__(self) -> str:
        return f"Signer(<{len(self._keys)} secret(s)>)"

    def _digests(self, msg_id: str, timestamp: int, body: bytes) -> list[bytes]:
        content = f"{msg_id}.{timestamp}.".encode() + body
        return [hmac.new(key, content, hashlib.sha256).digest() for key in self._keys]

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """The ``webhook-signature`` header: ``v1,<base64>`` per secret, space-separated."""
        return " ".join("v1," + base64.b64encode(d).decode() for d in self._digests(msg_id, timestamp, body))

    def verify(
        self, body: bytes | str, headers: Mapping[str, str], *,
        tolerance: float = DEFAULT_TOLERANCE, now: float | None = None,
    ) -> Any:  # fmt: skip
        """Check a received webhook and return its parsed JSON body (see :func:`verify`)."""
        raw = body.encode() if isinstance(body, str) else body
        lower = {k.lower(): v for k, v in headers.items()}
        msg_id, stamp, signature = (
            lower.get(h, "") for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
        )
        if not (msg_id and stamp and signature):
            raise WebhookVerificationError(
                "missing webhook-id, webhook-timestamp or webhook-signature header"
            )
        if not stamp.isascii() or not stamp.isdigit():
            raise WebhookVerificationError("webhook-timestamp is not an integer")
        timestamp = int(stamp)
        skew = (time.time() if now is None else now) - timestamp
        if skew > tolerance:
            raise WebhookVerificationError("message timestamp too old")
        if skew < -tolerance:
            raise WebhookVerificationError("message timestamp too new")
        expected = self._digests(msg_id, timestamp, raw)
        for token in signature.split(" "):
            version, _, encoded = token.partition(",")
            if version != "v1":
                continue  # other schemes (e.g. v1a) are for other verifiers
            try:
                given = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                continue
            # Compare against every key, without short-circuiting on the first mismatch.
            if any([hmac.compare_digest(given, digest) for digest in expected]):
                return json.loads(raw)
        raise WebhookVerificationError("no matching signature")


def sign(secret: str | Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for ``body`` (see :class:`Signer`)."""
    return Signer(secret).sign(msg_id, timestamp, body)


def verify(
    body: bytes | str, headers: Mapping[str, str], secret: str | Sequence[str] | Signer, *,
    tolerance: float = DEFAULT_TOLERANCE, now: float | None = None,
) -> Any:  # fmt: skip
    """Verify a received webhook as the Standard Webhooks spec says; return its JSON body.

    ``body`` must be the raw bytes received; ``headers`` any case-insensitive or plain mapping.
    The message is accepted when ``webhook-timestamp`` is within ``tolerance`` seconds of
    ``now`` (default: the clock) and any ``v1`` signature in ``webhook-signature`` matches any
    of the secrets. Raises :class:`WebhookVerificationError` otherwise.
    """
    signer = secret if isinstance(secret, Signer) else Signer(secret)
    return signer.verify(body, headers, tolerance=tolerance, now=now)


# ---- messages --------------------------------------------------------------------------------


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """Serialise a payload once, compactly and deterministically (these bytes are signed)."""
    try:
        return json.dumps(payload, separators=(",", ":"), sort_keys=True, allow_nan=False,
                          default=_json_default).encode()  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise ValueError(f"webhook data is not JSON serialisable: {exc}") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WebhookMessage(BaseModel):
    """One signed message: send ``body`` as is, with ``headers``."""

    model_config = ConfigDict(frozen=True)

    msg_id: str
    timestamp: int = Field(description="Unix seconds the signature covers.")
    body: bytes
    headers: dict[str, str]


def build_message(
    job_id: str, status: str, data: Mapping[str, Any], *, settings: Settings,
    msg_id: str | None = None, now: datetime | None = None, occurred_at: datetime | None = None,
) -> WebhookMessage:  # fmt: skip
    """Serialise and sign the completion webhook of a job.

    Build it again for each attempt (with the same ``occurred_at``, the job's finish time):
    the id and body stay the same, only ``webhook-timestamp`` and the signature move to
    ``now``. ``msg_id`` defaults to ``msg_<job_id>``: one message per job.
    """
    signer = Signer.from_settings(settings)
    now = now or datetime.now(UTC)
    if now.tzinfo is None or (occurred_at is not None and occurred_at.tzinfo is None):
        raise ValueError("now and occurred_at must be timezone-aware datetimes")
    msg_id = msg_id or f"msg_{job_id}"
    if not _MSG_ID.fullmatch(msg_id):
        raise ValueError("msg_id must be 1-128 letters, digits, '_' or '-'")
    body = encode_payload(
        {"job_id": job_id, "status": str(status), "data": data, "timestamp": _iso(occurred_at or now)}
    )
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signer.sign(msg_id, timestamp, body),
    }
    return WebhookMessage(msg_id=msg_id, timestamp=timestamp, body=body, headers=headers)


# ---- delivery --------------------------------------------------------------------------------


class WebhookOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GAVE_UP = "gave_up"


class WebhookAttempt(BaseModel):
    """The record of one delivery attempt, and what to do next.

    Store it (``model_dump(mode="json")``) under ``acquire.keys.job_webhooks``; on
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
    ceiling = min(RETRY_CAP, RETRY_BASE * 2.0 ** min(max(attempt - 1, 0), 32))
    jitter = rng.uniform(0, ceiling / 2) if rng is not None else random.uniform(0, ceiling / 2)
    return ceiling / 2 + jitter


def decide(
    *, attempt: int, max_tries: int, status_code: int | None = None,
    retry_after: float | None = None, permanent: bool = False, rng: random.Random | None = None,
) -> tuple[WebhookOutcome, float | None]:  # fmt: skip
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
    url: str, payload_bytes: bytes, headers: Mapping[str, str], *, settings: Settings, attempt: int,
    resolver: Resolver | None = None,
) -> WebhookAttempt:  # fmt: skip
    """Make delivery attempt number ``attempt`` (1-based) and return its record and decision.

    Never raises for delivery failures: they are the record's ``error``/``status_code``. The
    URL passes :func:`acquire.ssrf.resolve_target` (``WEBHOOK_ALLOW_HOSTS`` exempts hosts);
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
    except DestinationBlocked:
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
    except DestinationBlocked as exc:
        error, permanent = f"blocked: {exc}", True
    except TimeoutError:
        error = f"timed out after {settings.webhook_timeout:g}s"
    except socket.gaierror as exc:
        error = f"DNS resolution failed: {exc}"
    except (httpx.HTTPError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    outcome, retry_in = decide(
        attempt=attempt, max_tries=settings.webhook_max_tries, status_code=status_code,
        retry_after=retry_after, permanent=permanent,
    )  # fmt: skip
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
    log.info("webhook %s attempt %d to %s: %s, %s", record.msg_id, attempt, shown,
             error or f"HTTP {status_code}", then)  # fmt: skip
    return record


async def deliver(
    message: WebhookMessage, url: str, *, settings: Settings, attempt: int, resolver: Resolver | None = None
) -> WebhookAttempt:
    """:func:`deliver_once` for a :class:`WebhookMessage` built by :func:`build_message`."""
    return await deliver_once(
        url, message.body, message.headers, settings=settings, attempt=attempt, resolver=resolver
    )
