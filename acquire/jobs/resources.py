"""Clients a worker opens once and every job shares (one ``httpx.AsyncClient`` per upstream)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from acquire.http.cache import create_cache
from acquire.http.ratelimit import RateLimiter
from acquire.logs import job_context
from acquire.runtime.run import Services
from acquire.sources.sec.edgar import EdgarClient, create_sec_http_client
from acquire.sources.yahoo.client import RedisSessionStore, YahooClient
from acquire.store.documents import DocumentStore

log = logging.getLogger("acquire.documents")

#: How often a worker sweeps documents no live job references (s).
SWEEP_SECONDS = 60.0


__all__ = ["sec_resources", "yahoo_resources"]


def _current_org() -> str:
    # Upstream budgets are shared fairly per org: a flooding org's requests must not make a
    # light org's one request wait behind all of them (the per-org gate does the same for
    # queue slots).
    context = job_context.get()
    return context.get("org", "") if context else ""


@asynccontextmanager
async def sec_resources(services: Services) -> AsyncIterator[None]:
    """The EDGAR client (paced by the fleet-wide limiter, backed by the HTTP cache) and the
    document store, with its sweeper running in the background.

    Opening it validates ``SEC_USER_AGENT``, so a worker with a bad one fails at start.
    """
    settings = services.settings
    http = create_sec_http_client(settings)
    limiter = RateLimiter(services.redis, "sec", settings.sec_max_rps, share=_current_org)
    cache = create_cache(settings, services.redis)
    edgar = EdgarClient(settings, http=http, limiter=limiter, cache=cache)
    services.resources["edgar"] = edgar
    documents = DocumentStore.from_settings(services.redis, settings)
    services.resources["documents"] = documents
    sweeper = asyncio.create_task(_sweep_forever(documents))
    try:
        yield
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await documents.aclose()
        await http.aclose()


async def _sweep_forever(documents: DocumentStore) -> None:
    while True:
        try:
            swept = await documents.sweep()
            if swept:
                log.info("swept %d documents no live job references", len(swept))
        except (RedisConnectionError, RedisTimeoutError) as exc:  # an outage: one line, no traceback
            log.warning("document sweep skipped, Redis unavailable (%s); next in %g s", exc, SWEEP_SECONDS)
        except Exception:  # a sweep failing otherwise (S3 down, a bug) is retried next time
            log.warning("document sweep failed", exc_info=True)
        await asyncio.sleep(SWEEP_SECONDS)


@asynccontextmanager
async def yahoo_resources(services: Services) -> AsyncIterator[None]:
    """The Yahoo client: fleet-wide request budget, cookie and crumb shared through Redis."""
    settings = services.settings
    http = YahooClient.create_http()
    limiter = RateLimiter(services.redis, "yahoo", settings.yahoo_max_rps, share=_current_org)
    services.resources["yahoo"] = YahooClient.from_settings(
        settings, http, limiter=limiter, sessions=RedisSessionStore(services.redis)
    )
    try:
        yield
    finally:
        await http.aclose()
