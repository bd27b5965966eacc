"""Yahoo Finance: daily price history (v8 chart) and company fundamentals (v10 quoteSummary).

Since 2023 quoteSummary needs a session: a cookie plus a *crumb* (``v1/test/getcrumb``
answers one for the cookie) sent as ``?crumb=``. :class:`YahooClient` obtains it like a
browser would:

1. GET the cookie URL (``YAHOO_COOKIE_URL``, ``fc.yahoo.com``: a 404 page that sets ``A3``);
2. failing that (EU visitors get no cookie there), walk the consent redirect chain starting at
   ``finance.yahoo.com/quote/AAPL`` -> ``guce.yahoo.com/consent`` -> ``consent.yahoo.com``
   collectConsent (GET the form, POST "agree") -> ``guce.yahoo.com/copyConsent``, collecting
   the ``Set-Cookie`` headers on the way;
3. GET getcrumb with that cookie.

The session is shared by every worker through an injected :class:`SessionStore`
(:class:`RedisSessionStore` in production), so the fleet performs this dance once, not once per
process. When Yahoo answers 401 (``Invalid Crumb``/``Invalid Cookie``) the client refreshes the
session once (adopting a session another worker already refreshed, if any) and retries.

Every request goes through the injected :class:`~acquire.http.client.Limiter` (the fleet-wide
budget, ``YAHOO_MAX_RPS``); a 429 pauses that limiter fleet-wide and is retried a bounded number
of times with backoff, then surfaces as :class:`~acquire.errors.RateLimitedError`.

Absolute URLs in the consent chain (redirect ``Location`` headers) name real Yahoo hosts. A
:data:`UrlRewriter` maps them to where they are actually fetched; :func:`mirror_rewriter`
serves a ``{root}/{host}/{path}`` mirror (the replay server, a recording proxy), and
:meth:`YahooClient.from_settings` installs it when ``YAHOO_BASE_URL`` has that layout.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any, Literal

import httpx

from acquire.errors import NotFoundError, PermanentError, TransientError
from acquire.http.client import Classifier, Limiter, create_client, default_classifier, fetch
from acquire.settings import Settings
from acquire.sources.yahoo.models import CompanyProfile, CompanySnapshot, KeyMetrics, PriceHistory
from acquire.sources.yahoo.parse import parse_chart, parse_metrics, parse_profile
from acquire.sources.yahoo.session import (
    MemorySessionStore,
    RedisSessionStore,
    SessionRejectedError,
    SessionStore,
    UrlRewriter,
    YahooSession,
    mirror_rewriter,
    mirror_root,
    obtain_session,
)

__all__ = [
    "BROWSER_USER_AGENT",
    "CONSENT_START_URL",
    "HistoryInterval",
    "HistoryRange",
    "MemorySessionStore",
    "RedisSessionStore",
    "SessionStore",
    "UrlRewriter",
    "YahooClient",
    "YahooSession",
    "mirror_rewriter",
]

log = logging.getLogger("acquire.sources.yahoo.client")

#: Yahoo throttles obvious bots hard; a browser-like agent is what every Yahoo client sends.
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
)
#: Where the consent fallback starts (any quote page redirects EU visitors to consent).
CONSENT_START_URL = "https://finance.yahoo.com/quote/AAPL"

HistoryRange = Literal["1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
HistoryInterval = Literal["1d", "5d", "1wk", "1mo", "3mo"]

PROFILE_MODULES = ("assetProfile", "price")
METRICS_MODULES = ("price", "summaryDetail", "financialData", "defaultKeyStatistics")
SNAPSHOT_MODULES = ("assetProfile", "price", "summaryDetail", "financialData", "defaultKeyStatistics")

_SYMBOL = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9.=^-]{0,19}$")
_MODULE = re.compile(r"^[A-Za-z0-9]{1,40}$")


# ---- response classification -----------------------------------------------------------------


def _description(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(body, Mapping):
        for envelope in body.values():
            error = envelope.get("error") if isinstance(envelope, Mapping) else None
            if isinstance(error, Mapping):
                return str(error.get("description") or error.get("code") or "")[:200]
    return response.reason_phrase


def _api_classifier(what: str, symbol: str) -> Classifier:
    def classify(response: httpx.Response) -> Exception | None:
        status = response.status_code
        if response.is_success:
            return None
        if status == 401:
            return SessionRejectedError(f"Yahoo rejected the session: {_description(response)}")
        if status == 404:
            return NotFoundError(f"Yahoo has no {what} for {symbol}: {_description(response)}")
        if status == 429 or status >= 500:
            return default_classifier(response)
        return PermanentError(f"Yahoo {what} for {symbol}: HTTP {status}: {_description(response)}")

    return classify


def _timestamp(value: date | datetime, field: str) -> int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        moment = datetime.combine(value, time(), UTC)
    else:
        raise ValueError(f"{field} must be a date or datetime, got {type(value).__name__}")
    return int(moment.timestamp())


def _check_symbol(symbol: str) -> str:
    if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
        raise ValueError(f"symbol must be a Yahoo ticker such as AAPL, BRK-B or ^GSPC, got {symbol!r}")
    return symbol.upper()


def _payload(response: httpx.Response, what: str, symbol: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise PermanentError(f"Yahoo {what} for {symbol}: response is not JSON") from None


# ---- the client ------------------------------------------------------------------------------


class YahooClient:
    """Async Yahoo Finance client. One per worker; share ``http`` with nothing that minds
    Yahoo's browser-like User-Agent (:data:`BROWSER_USER_AGENT`).

    ``limiter`` grants every request (fleet-wide budget) and is paused on 429; ``sessions``
    shares the cookie+crumb (default: this process only); ``rewrite`` maps the consent
    chain's real Yahoo URLs (default: unchanged). ``attempts``/``backoff_*`` bound the
    retries of one request (see :func:`acquire.http.client.fetch`).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str = "https://query2.finance.yahoo.com",
        cookie_url: str = "https://fc.yahoo.com",
        limiter: Limiter | None = None,
        sessions: SessionStore | None = None,
        rewrite: UrlRewriter | None = None,
        consent_url: str = CONSENT_START_URL,
        attempts: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {attempts!r}")
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._cookie_url = cookie_url
        self._limiter = limiter
        self._sessions: SessionStore = sessions if sessions is not None else MemorySessionStore()
        self._rewrite: UrlRewriter = rewrite or (lambda url: url)
        self._consent_url = consent_url
        self._attempts, self._backoff_base, self._backoff_cap = attempts, backoff_base, backoff_cap
        self._session: YahooSession | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        limiter: Limiter | None = None,
        sessions: SessionStore | None = None,
        rewrite: UrlRewriter | None = None,
    ) -> YahooClient:
        """A client configured from ``settings`` (base URLs, retry backoff). When
        ``YAHOO_BASE_URL`` is a ``{root}/query2.finance.yahoo.com`` mirror and no ``rewrite``
        is given, the consent chain is fetched through the same mirror."""
        root = mirror_root(settings.yahoo_base_url)
        return cls(
            http,
            base_url=settings.yahoo_base_url,
            cookie_url=settings.yahoo_cookie_url,
            limiter=limiter,
            sessions=sessions,
            rewrite=rewrite or (mirror_rewriter(root) if root else None),
            backoff_base=settings.acquire_retry_base,
            backoff_cap=settings.acquire_retry_max,
        )

    @staticmethod
    def create_http(timeout: float = 30.0) -> httpx.AsyncClient:
        """An HTTP client suited to Yahoo (browser-like User-Agent, no redirect following)."""
        return create_client(
            user_agent=BROWSER_USER_AGENT, timeout=timeout, headers={"Accept-Language": "en-US,en;q=0.9"}
        )

    # ---- public API --------------------------------------------------------------------------

    async def history(
        self,
        symbol: str,
        *,
        range: HistoryRange = "1y",
        start: date | datetime | None = None,
        end: date | datetime | None = None,
        interval: HistoryInterval = "1d",
    ) -> PriceHistory:
        """Bars with dividends and splits. ``start``/``end`` (end exclusive; naive datetimes
        are UTC) replace ``range``. Raises :class:`NotFoundError` for an unknown symbol."""
        symbol = _check_symbol(symbol)
        params = {"interval": interval, "events": "div|split", "includeAdjustedClose": "true"}
        if (start is None) != (end is None):
            raise ValueError("start and end must be given together")
        if start is not None and end is not None:
            period1, period2 = _timestamp(start, "start"), _timestamp(end, "end")
            if period1 >= period2:
                raise ValueError(f"start ({start}) must be before end ({end})")
            params |= {"period1": str(period1), "period2": str(period2)}
        else:
            params["range"] = range
        url = f"{self._base_url}/v8/finance/chart/{symbol}"
        # The chart API needs no crumb; not asking for one keeps history jobs off getcrumb.
        response = await self._fetch(url, params=params, classify=_api_classifier("price history", symbol))
        payload = _payload(response, "price history", symbol)
        self._raise_envelope_error(payload, "chart", "price history", symbol)
        return parse_chart(symbol, payload)

    async def quote_summary(self, symbol: str, modules: Sequence[str]) -> dict[str, Any]:
        """The raw quoteSummary modules (``formatted=false``) by name."""
        symbol = _check_symbol(symbol)
        if not modules or any(not isinstance(m, str) or not _MODULE.fullmatch(m) for m in modules):
            raise ValueError(f"modules must be non-empty quoteSummary module names, got {modules!r}")
        url = f"{self._base_url}/v10/finance/quoteSummary/{symbol}"
        params = {"formatted": "false", "modules": ",".join(modules)}
        response = await self._authenticated(url, params, _api_classifier("fundamentals", symbol))
        payload = _payload(response, "fundamentals", symbol)
        self._raise_envelope_error(payload, "quoteSummary", "fundamentals", symbol)
        results = payload.get("quoteSummary", {}).get("result") if isinstance(payload, Mapping) else None
        if not isinstance(results, list) or not results or not isinstance(results[0], Mapping):
            raise NotFoundError(f"Yahoo has no fundamentals for {symbol}: empty quoteSummary result")
        return dict(results[0])

    async def profile(self, symbol: str) -> CompanyProfile:
        """Name, sector, industry, country, employees, website, business summary."""
        symbol = _check_symbol(symbol)
        return parse_profile(symbol, await self.quote_summary(symbol, PROFILE_MODULES))

    async def metrics(self, symbol: str) -> KeyMetrics:
        """Market cap, P/E, margins, beta, dividend yield, 52-week range, ..."""
        symbol = _check_symbol(symbol)
        return parse_metrics(symbol, await self.quote_summary(symbol, METRICS_MODULES))

    async def snapshot(self, symbol: str) -> CompanySnapshot:
        """Profile and metrics with a single request."""
        symbol = _check_symbol(symbol)
        modules = await self.quote_summary(symbol, SNAPSHOT_MODULES)
        return CompanySnapshot(profile=parse_profile(symbol, modules), metrics=parse_metrics(symbol, modules))

    async def session(self) -> YahooSession:
        """The current session: this process's, else the shared one, else a new one."""
        if self._session is not None:
            return self._session
        async with self._lock:
            if self._session is None:
                stored = await self._sessions.load()
                self._session = stored if stored is not None else await self._new_session()
            return self._session

    async def refresh_session(self, stale: YahooSession | None = None) -> YahooSession:
        """Replace ``stale`` (the session Yahoo rejected; ``None`` forces a new one).

        Concurrent callers in this process wait for one refresh; a session another worker has
        already stored in place of ``stale`` is adopted without calling getcrumb again.
        """
        async with self._lock:
            current = self._session
            if stale is not None and current is not None and not _same(current, stale):
                return current
            stored = await self._sessions.load()
            if stale is not None and stored is not None and not _same(stored, stale):
                self._session = stored
            else:
                self._session = await self._new_session()
            return self._session

    # ---- requests ----------------------------------------------------------------------------

    async def _fetch(
        self,
        url: str,
        *,
        classify: Classifier,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
        content: bytes | None = None,
    ) -> httpx.Response:
        return await fetch(
            self._http,
            url,
            classify=classify,
            limiter=self._limiter,
            params=params,
            headers=headers,
            method=method,
            content=content,
            attempts=self._attempts,
            backoff_base=self._backoff_base,
            backoff_cap=self._backoff_cap,
        )

    async def _authenticated(
        self, url: str, params: Mapping[str, str], classify: Classifier
    ) -> httpx.Response:
        session = await self.session()
        for refreshed in (False, True):
            try:
                return await self._fetch(
                    url,
                    classify=classify,
                    params={**params, "crumb": session.crumb},
                    headers={"Cookie": session.cookie},
                )
            except SessionRejectedError as exc:
                if refreshed:
                    raise TransientError(f"Yahoo rejected a fresh session too: {exc}") from None
                log.info("Yahoo rejected the session (%s); refreshing it once", exc)
                session = await self.refresh_session(session)
        raise AssertionError("unreachable")

    @staticmethod
    def _raise_envelope_error(payload: Any, envelope: str, what: str, symbol: str) -> None:
        # A 200 can still carry {"<envelope>": {"result": null, "error": {...}}}.
        body = payload.get(envelope) if isinstance(payload, Mapping) else None
        error = body.get("error") if isinstance(body, Mapping) else None
        if not isinstance(error, Mapping):
            return
        description = str(error.get("description") or error.get("code") or "unknown error")
        if str(error.get("code", "")).lower().replace(" ", "") == "notfound":
            raise NotFoundError(f"Yahoo has no {what} for {symbol}: {description}")
        raise PermanentError(f"Yahoo {what} for {symbol}: {description}")

    async def _new_session(self) -> YahooSession:
        """A session from Yahoo (see :func:`obtain_session`), stored for the fleet."""
        session = await obtain_session(
            self._fetch,
            cookie_url=self._cookie_url,
            consent_url=self._consent_url,
            crumb_url=f"{self._base_url}/v1/test/getcrumb",
            rewrite=self._rewrite,
        )
        if session is None:
            raise TransientError("could not obtain a Yahoo session (cookie URL and consent flow both failed)")
        await self._sessions.save(session)
        return session


def _same(a: YahooSession, b: YahooSession) -> bool:
    # obtained_at included: a re-obtained session is new even if Yahoo re-issued the same crumb.
    return a == b
