"""Clients a worker opens once and every job shares (one ``httpx.AsyncClient`` per upstream)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from acquire.http.cache import create_cache
from acquire.http.ratelimit import RateLimiter
from acquire.runtime.run import Services
from acquire.sources.sec.edgar import EdgarClient, create_sec_http_client
from acquire.sources.yahoo.client import RedisSessionStore, YahooClient

__all__ = ["sec_resources", "yahoo_resources"]


@asynccontextmanager
async def sec_resources(services: Services) -> AsyncIterator[None]:
    """The EDGAR client, paced by the fleet-wide limiter and backed by the document cache.

    Opening it validates ``SEC_USER_AGENT``, so a worker with a bad one fails at start.
    """
    settings = services.settings
    http = create_sec_http_client(settings)
    limiter = RateLimiter(services.redis, "sec", settings.sec_max_rps)
    cache = create_cache(settings, services.redis)
    edgar = EdgarClient(settings, http=http, limiter=limiter, cache=cache)
    services.resources["edgar"] = edgar
    try:
        yield
    finally:
        await http.aclose()


@asynccontextmanager
async def yahoo_resources(services: Services) -> AsyncIterator[None]:
    """The Yahoo client: fleet-wide request budget, cookie and crumb shared through Redis."""
    settings = services.settings
    http = YahooClient.create_http()
    limiter = RateLimiter(services.redis, "yahoo", settings.yahoo_max_rps)
    services.resources["yahoo"] = YahooClient.from_settings(
        settings, http, limiter=limiter, sessions=RedisSessionStore(services.redis)
    )
    try:
        yield
    finally:
        await http.aclose()
