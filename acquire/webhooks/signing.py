"""Standard Webhooks signatures: :class:`Signer` signs a message and verifies a received one.

``webhook-signature`` is ``v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">``,
one per secret in ``WEBHOOK_SECRET`` (comma-separated), separated by spaces: during a rotation
receivers holding either secret accept the message. Errors name a secret's position, never its value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets as _secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import SecretStr

from acquire.errors import AcquireError, ConfigurationError
from acquire.settings import Settings

__all__ = [
    "DEFAULT_TOLERANCE",
    "Signer",
    "WebhookVerificationError",
    "generate_secret",
    "sign",
    "verify",
]


#: How far a ``webhook-timestamp`` may be from the receiver's clock (the spec's 5 minutes).
DEFAULT_TOLERANCE = 300.0
_PREFIX = "whsec_"
_MIN_KEY_BYTES = 16


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
        self,
        body: bytes | str,
        headers: Mapping[str, str],
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        now: float | None = None,
    ) -> Any:
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
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str] | Signer,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Any:
    """Verify a received webhook as the Standard Webhooks spec says; return its JSON body.

    ``body`` must be the raw bytes received; ``headers`` any case-insensitive or plain mapping.
    The message is accepted when ``webhook-timestamp`` is within ``tolerance`` seconds of
    ``now`` (default: the clock) and any ``v1`` signature in ``webhook-signature`` matches any
    of the secrets. Raises :class:`WebhookVerificationError` otherwise.
    """
    signer = secret if isinstance(secret, Signer) else Signer(secret)
    return signer.verify(body, headers, tolerance=tolerance, now=now)
