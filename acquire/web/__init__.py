"""Starlette router, SSE fan-out and authorisation for host applications.

>>> from acquire.web import api_key_authorizer, create_router
>>> app.mount("/acquire", create_router(client, api_key_authorizer({key: "acme"})))
"""

from __future__ import annotations

from acquire.web.auth import InvalidTokenError, TokenSigner, api_key_authorizer, bearer_or_api_key
from acquire.web.router import COOKIE_NAME, AcquireRouter, Authorize, create_router
from acquire.web.sse import EventFanout, FanoutStats, StreamEvent, Subscription

__all__ = [
    "COOKIE_NAME",
    "AcquireRouter",
    "Authorize",
    "EventFanout",
    "FanoutStats",
    "InvalidTokenError",
    "StreamEvent",
    "Subscription",
    "TokenSigner",
    "api_key_authorizer",
    "bearer_or_api_key",
    "create_router",
]
