"""Authorisation helpers: API keys for servers, signed short-lived tokens for browsers.

Server clients send an API key; how keys map to organisations is the host application's
business, expressed as its ``authorize(request) -> org`` callable. :func:`api_key_authorizer`
is a ready-made one for a static ``{api_key: org}`` mapping (examples, small deployments).

Browsers' ``EventSource`` cannot send headers, so the events route also accepts a
:class:`TokenSigner` token, in the ``?token=`` query parameter or in a cookie. A token binds
one organisation, one job and an expiry, signed with HMAC-SHA256; it grants nothing else.
Tokens are signed, not encrypted: the org and job id inside are readable by whoever holds
the token (they are not secrets; the job id is unguessable, the signature is what counts).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence

from starlette.exceptions import HTTPException
from starlette.requests import Request

from acquire.models import validate_org
from acquire.serialization import dumps
from acquire.store.keys import ID_PATTERN

__all__ = ["InvalidTokenError", "TokenSigner", "api_key_authorizer", "bearer_or_api_key"]

_VERSION = "v1"
_MIN_SECRET_BYTES = 32
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="acquire"'}


class InvalidTokenError(Exception):
    """A token is malformed, forged, expired or for another job; the message says which."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _secret_bytes(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    if len(raw) < _MIN_SECRET_BYTES:
        raise ValueError(
            f"token secret must be at least {_MIN_SECRET_BYTES} bytes (use secrets.token_urlsafe(32))"
        )
    return raw


class TokenSigner:
    """Mints and verifies ``v1.<payload>.<signature>`` tokens for one job's event stream.

    ``secret`` may be a sequence to rotate keys: tokens are signed with the first and accepted
    with any. ``ttl`` is the default lifetime in seconds; keep it short (minutes), since a
    token in a URL ends up in browser history and proxy logs.
    """

    def __init__(self, secret: str | bytes | Sequence[str | bytes], *, ttl: int = 300) -> None:
        secrets_ = [secret] if isinstance(secret, str | bytes) else list(secret)
        if not secrets_:
            raise ValueError("at least one token secret is required")
        self._keys = [_secret_bytes(s) for s in secrets_]
        if ttl < 1:
            raise ValueError("ttl must be at least 1 second")
        self.ttl = ttl

    def _sign(self, key: bytes, message: str) -> str:
        return _b64(hmac.new(key, message.encode(), hashlib.sha256).digest())

    def mint(self, org: str, job_id: str, *, ttl: int | None = None, now: float | None = None) -> str:
        """A token granting ``org`` read access to job ``job_id``'s events until it expires."""
        validate_org(org)
        if not ID_PATTERN.fullmatch(job_id):
            raise ValueError(f"invalid job id {job_id!r}")
        expires = int((time.time() if now is None else now) + (self.ttl if ttl is None else ttl))
        payload = _b64(dumps({"o": org, "j": job_id, "e": expires}).encode())
        message = f"{_VERSION}.{payload}"
        return f"{message}.{self._sign(self._keys[0], message)}"

    def expires_at(self, token: str) -> int:
        """The expiry (unix seconds) of a token this signer minted."""
        return self._payload(token)[2]

    def verify(self, token: str, job_id: str, *, now: float | None = None) -> str:
        """The organisation a valid token grants access to job ``job_id``; else :class:`InvalidTokenError`."""
        org, token_job, expires = self._payload(token)
        if token_job != job_id:
            raise InvalidTokenError("token is for another job")
        if expires <= (time.time() if now is None else now):
            raise InvalidTokenError("token expired")
        try:
            return validate_org(org if isinstance(org, str) else "")
        except ValueError:
            raise InvalidTokenError("malformed token") from None

    def _payload(self, token: str) -> tuple[object, object, int]:
        """The (org, job id, expiry) a token carries, once its signature is checked."""
        parts = token.split(".")
        # Non-ASCII text cannot be a token, and hmac.compare_digest raises on it.
        if len(parts) != 3 or parts[0] != _VERSION or len(token) > 512 or not token.isascii():
            raise InvalidTokenError("malformed token")
        message = f"{parts[0]}.{parts[1]}"
        # Compare against every key without stopping early: timing says nothing about which.
        valid = False
        for key in self._keys:
            valid |= hmac.compare_digest(self._sign(key, message), parts[2])
        if not valid:
            raise InvalidTokenError("token signature is invalid")
        try:
            payload = json.loads(_unb64(parts[1]))
        except (ValueError, binascii.Error):
            raise InvalidTokenError("malformed token") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("e"), int):
            raise InvalidTokenError("malformed token")
        return payload.get("o"), payload.get("j"), payload["e"]


def bearer_or_api_key(request: Request, header: str = "X-API-Key") -> str | None:
    """The API key a request carries in ``header`` or as ``Authorization: Bearer <key>``."""
    value = request.headers.get(header)
    if value:
        return value.strip()
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def api_key_authorizer(mapping: Mapping[str, str], *, header: str = "X-API-Key") -> Callable[[Request], str]:
    """An ``authorize`` callable for :func:`acquire.web.create_router` from ``{api_key: org}``.

    Keys are compared in constant time (as SHA-256 digests, so neither the key's content nor
    its length leaks through timing). A missing or unknown key is a 401.
    """
    if not mapping:
        raise ValueError("api_key_authorizer needs at least one api_key -> org entry")
    table: list[tuple[bytes, str]] = []
    for key, org in mapping.items():
        if len(key) < 16:
            raise ValueError("API keys must be at least 16 characters")
        table.append((hashlib.sha256(key.encode()).digest(), validate_org(org)))

    def authorize(request: Request) -> str:
        presented = bearer_or_api_key(request, header)
        if presented is None:
            raise HTTPException(
                401, f"missing API key ({header} header or Authorization: Bearer)", _CHALLENGE
            )
        digest = hashlib.sha256(presented.encode()).digest()
        found: str | None = None
        for known, org in table:
            if hmac.compare_digest(known, digest):
                found = org
        if found is None:
            raise HTTPException(401, "invalid API key", _CHALLENGE)
        return found

    return authorize
