"""Completion webhooks: the message format, Standard Webhooks signing and verification.

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

Delivery (SSRF guard, retries, ``Retry-After``) is :mod:`acquire.webhook_delivery`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets as _secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from acquire.errors import AcquireError, ConfigurationError
from acquire.settings import Settings

__all__ = [
    "DEFAULT_TOLERANCE",
    "Signer",
    "WebhookMessage",
    "WebhookVerificationError",
    "build_message",
    "encode_payload",
    "generate_secret",
    "sign",
    "verify",
]


#: How far a ``webhook-timestamp`` may be from the receiver's clock (the spec's 5 minutes).
DEFAULT_TOLERANCE = 300.0
USER_AGENT = "acquire-webhooks/1 (+https://www.standardwebhooks.com/)"
_PREFIX = "whsec_"
_MIN_KEY_BYTES = 16
_MSG_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


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
