"""Configuration shared by the example host apps: API keys and the token secret from the env.

``EXAMPLE_API_KEYS`` maps API keys (16+ characters) to organisations as comma-separated
``key:org`` pairs. Unset, the single key :data:`DEFAULT_API_KEY` is accepted for the
organisation ``demo``, with a warning in the log: fine on your own machine, never elsewhere.

``EXAMPLE_TOKEN_SECRET`` (32+ characters) signs the short-lived EventSource tokens. Every
process serving the same users needs the same one; unset, each process draws its own.

``HOST`` and ``PORT`` (default ``127.0.0.1:8080``) are where :func:`serve` listens.

(Not ``ACQUIRE_*``: acquire's settings treat unknown ``ACQUIRE_`` variables as typos.)
"""

from __future__ import annotations

import logging
import os
import secrets

from starlette.types import ASGIApp

from acquire.web.serving import uvicorn_limits

__all__ = [
    "API_PREFIX",
    "DEFAULT_API_KEY",
    "api_keys_from_env",
    "parse_api_keys",
    "serve",
    "token_secret_from_env",
]

log = logging.getLogger("examples")

#: Where the example apps mount acquire's router.
API_PREFIX = "/acquire"
#: Accepted (for the organisation ``demo``) only when ``EXAMPLE_API_KEYS`` is unset.
DEFAULT_API_KEY = "local-dev-key-0123456789"


def parse_api_keys(value: str) -> dict[str, str]:
    """``"key1:org1,key2:org2"`` as ``{key: org}``; a malformed pair is a ``ValueError``."""
    keys: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in value.split(","))):
        key, sep, org = pair.rpartition(":")
        if not sep or not key.strip() or not org.strip():
            raise ValueError("EXAMPLE_API_KEYS must be comma-separated key:org pairs")
        keys[key.strip()] = org.strip()
    if not keys:
        raise ValueError("EXAMPLE_API_KEYS is empty")
    return keys


def api_keys_from_env() -> dict[str, str]:
    """``EXAMPLE_API_KEYS`` parsed, or the local development key when it is unset."""
    value = os.environ.get("EXAMPLE_API_KEYS")
    if value is None:
        log.warning("EXAMPLE_API_KEYS is not set: accepting the local development key for org 'demo'")
        return {DEFAULT_API_KEY: "demo"}
    return parse_api_keys(value)


def token_secret_from_env() -> str:
    """``EXAMPLE_TOKEN_SECRET``, or a random secret for this process."""
    return os.environ.get("EXAMPLE_TOKEN_SECRET") or secrets.token_urlsafe(32)


def serve(app: ASGIApp) -> None:
    """Run ``app`` under uvicorn on ``HOST``:``PORT`` with limits on slow and idle clients."""
    import uvicorn

    host = os.environ.get("HOST", "127.0.0.1")
    uvicorn.run(app, host=host, port=int(os.environ.get("PORT", "8080")), **uvicorn_limits())
