"""SEC EDGAR: ticker -> CIK, submissions (with their older pages), filings and documents.

One :class:`EdgarClient` per worker wraps the worker's shared ``httpx.AsyncClient`` and an
injected fleet-wide :class:`~acquire.http.client.Limiter` and
:class:`~acquire.http.cache.HttpCache`; it knows nothing about jobs or Redis keys.

SEC's rules, and how they map to acquire's errors:

- a declared User-Agent ("Name email@domain") is mandatory: :func:`validate_user_agent` checks
  it when the client is created; SEC's "Undeclared Automated Tool" page is a
  :class:`~acquire.errors.ConfigurationError` (not retried);
- at most 10 requests/second across the fleet; the 403 "Request Rate Threshold Exceeded" page
  (no ``Retry-After``, about ten minutes of block) pauses all SEC traffic fleet-wide for
  ``SEC_BLOCK_SECONDS`` and raises :class:`~acquire.errors.RateLimitedError` so the job is
  retried after the block;
- a missing Archives file is a 403 ``AccessDenied`` XML, a missing data.sec.gov file a 404
  ``NoSuchKey``: both :class:`~acquire.errors.NotFoundError` for that item;
- 5xx, timeouts, resets and truncated bodies are :class:`~acquire.errors.TransientError`.

Filing models, parsing and the fiscal-year rule live in :mod:`acquire.sources.sec.submissions`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import httpx

from acquire.errors import (
    ConfigurationError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from acquire.http.cache import CachedResponse, HttpCache, NullCache, cached_fetch
from acquire.http.client import Classifier, Limiter, create_client, retry_after_seconds
from acquire.settings import Settings
from acquire.sources.sec.submissions import (
    ANNUAL_FORMS,
    CompanyRef,
    Filing,
    FilingDocument,
    PageRef,
    Submissions,
    fiscal_year_of,
    parse_filings,
    parse_submissions,
)

__all__ = [
    "ANNUAL_FORMS",
    "CompanyRef",
    "EdgarClient",
    "Filing",
    "FilingDocument",
    "Submissions",
    "create_sec_http_client",
    "fiscal_year_of",
    "parse_submissions",
    "sec_classifier",
    "validate_user_agent",
]

CACHE_NAMESPACE = "sec"
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def validate_user_agent(user_agent: str) -> str:
    """Return ``user_agent`` if SEC would accept it ("Name email@domain"), else raise."""
    value = user_agent.strip()
    email = _EMAIL.search(value)
    name = _EMAIL.sub("", value).strip(" <>()-,;")
    if email is None or not re.search(r"[A-Za-z]{2,}", name):
        raise ConfigurationError(
            "SEC_USER_AGENT must declare who you are, as a name and a contact email, "
            f'e.g. "Acme Research admin@acme.com" (got {value!r})'
        )
    return value


def create_sec_http_client(settings: Settings, *, timeout: float | None = None) -> httpx.AsyncClient:
    """The worker's SEC ``httpx.AsyncClient`` (validates ``SEC_USER_AGENT`` first).

    ``timeout`` defaults to ``SEC_TIMEOUT``.
    """
    return create_client(
        user_agent=validate_user_agent(settings.sec_user_agent),
        timeout=settings.sec_timeout if timeout is None else timeout,
        headers={"Accept-Encoding": "gzip, deflate"},
    )


def sec_classifier(block_seconds: float) -> Classifier:
    """Turns SEC's answers into acquire's errors (see the module doc)."""

    def classify(response: httpx.Response) -> Exception | None:
        status = response.status_code
        if response.is_success or status == 304:
            return None
        url = str(response.url)
        body = response.content[:16384]
        if status == 403 and b"Request Rate Threshold Exceeded" in body:
            return RateLimitedError(
                f"SEC rate threshold exceeded (blocked about {block_seconds:.0f}s)",
                retry_after=block_seconds,
            )
        if status == 403 and b"Undeclared Automated Tool" in body:
            return ConfigurationError(
                "SEC refused the User-Agent as an undeclared automated tool: set SEC_USER_AGENT "
                'to "Company Name contact@company.com"'
            )
        if (status == 403 and b"AccessDenied" in body) or status in (404, 410):
            return NotFoundError(f"SEC has no {url}")
        if status == 429:
            return RateLimitedError("SEC answered 429", retry_after=retry_after_seconds(response))
        if status >= 500:
            return TransientError(f"SEC answered HTTP {status} for {url}")
        return PermanentError(f"SEC answered HTTP {status} for {url}")

    return classify


class EdgarClient:
    """Async EDGAR client: one per worker, sharing the worker's HTTP client, limiter and cache.

    ``http`` defaults to a new client from :func:`create_sec_http_client` (closed by
    :meth:`aclose`); a shared one passed in is left open. ``attempts`` and ``backoff_base``
    tune the in-request retries of transient failures (then the job runtime takes over).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        limiter: Limiter | None = None,
        cache: HttpCache | None = None,
        attempts: int = 3,
        backoff_base: float = 0.5,
    ) -> None:
        self.user_agent = validate_user_agent(settings.sec_user_agent)
        self.settings = settings
        self.www = settings.sec_www_base_url
        self.data = settings.sec_data_base_url
        self._own_http = http is None
        self._http = http if http is not None else create_sec_http_client(settings)
        self.limiter = limiter
        self.cache: HttpCache = cache if cache is not None else NullCache()
        self.classify = sec_classifier(settings.sec_block_seconds)
        self.attempts = attempts
        self.backoff_base = backoff_base
        self._documents: dict[str, asyncio.Future[CachedResponse]] = {}
        self._tickers: tuple[float, dict[str, CompanyRef]] | None = None

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> EdgarClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- transport -----------------------------------------------------------------------

    async def get(
        self, url: str, *, max_age: float | None, validate: Callable[[bytes], bool] | None = None
    ) -> CachedResponse:
        """GET an SEC URL through the limiter and the cache (``max_age=None``: immutable).

        ``validate`` rejects a 200 body the caller cannot use (never cached, retried).
        """
        return await cached_fetch(
            self._http,
            url,
            cache=self.cache,
            namespace=CACHE_NAMESPACE,
            max_age=max_age,
            classify=self.classify,
            limiter=self.limiter,
            attempts=self.attempts,
            backoff_base=self.backoff_base,
            headers={"User-Agent": self.user_agent},
            validate=validate,
        )

    async def get_json(self, url: str, *, max_age: float | None = None) -> Any:
        """A JSON resource (cached ``SEC_CACHE_TTL`` seconds unless ``max_age`` says otherwise)."""
        ttl = self.settings.sec_cache_ttl if max_age is None else max_age
        response = await self.get(url, max_age=ttl, validate=_is_json)
        try:
            return response.json()
        except ValueError as exc:
            raise TransientError(f"SEC sent invalid JSON for {url}: {exc}") from None

    # ---- companies -----------------------------------------------------------------------

    async def tickers(self) -> dict[str, CompanyRef]:
        """SEC's ticker map, by upper-case ticker (``BRK-B`` also as ``BRK.B``).

        Parsed once per ``SEC_CACHE_TTL`` in this process (it is 10,000 rows).
        """
        if self._tickers is not None and time.monotonic() - self._tickers[0] < self.settings.sec_cache_ttl:
            return self._tickers[1]
        data = await self.get_json(f"{self.www}/files/company_tickers.json")
        rows = data.values() if isinstance(data, Mapping) else data
        refs: dict[str, CompanyRef] = {}
        for row in rows:
            try:
                ref = CompanyRef(
                    cik=int(row["cik_str"]),
                    ticker=str(row["ticker"]).upper(),
                    name=str(row.get("title") or ""),
                )
            except (KeyError, TypeError, ValueError):
                continue
            assert ref.ticker is not None
            refs.setdefault(ref.ticker, ref)  # the first row is the company's primary listing
            refs.setdefault(ref.ticker.replace("-", "."), ref)
        self._tickers = (time.monotonic(), refs)
        return refs

    async def resolve(self, company: str | int) -> CompanyRef:
        """A ticker or CIK as a :class:`CompanyRef`; an unknown ticker is a :class:`NotFoundError`."""
        text = str(company).strip().upper()
        if text.isdigit():
            return CompanyRef(cik=int(text), name=f"CIK {int(text)}")
        ref = (await self.tickers()).get(text)
        if ref is None:
            raise NotFoundError(f"ticker {text!r} is not in SEC's company_tickers.json")
        return ref

    async def cik(self, company: str | int) -> int:
        return (await self.resolve(company)).cik

    # ---- submissions and filings ---------------------------------------------------------

    async def submissions(self, cik: int, *, forms: Container[str] | None = None) -> Submissions:
        """The company's submissions JSON, parsed (recent filings only; pages are separate).

        ``forms`` (upper-case form types) keeps only the filings of those forms."""
        data = await self.get_json(f"{self.data}/submissions/CIK{cik:010d}.json")
        return parse_submissions(data, www_base_url=self.www, forms=forms)

    async def page(
        self, submissions: Submissions, page: PageRef, *, forms: Container[str] | None = None
    ) -> list[Filing]:
        """The filings of one older page (``CIK##########-submissions-001.json``)."""
        data = await self.get_json(f"{self.data}/submissions/{page.name}")
        return parse_filings(
            data,
            cik=submissions.cik,
            company=submissions.name,
            fiscal_year_end=submissions.fiscal_year_end,
            www_base_url=self.www,
            forms=forms,
        )

    async def filings(
        self,
        company: str | int,
        *,
        forms: Iterable[str] = ("10-K",),
        years: Iterable[int] | None = None,
        include_amendments: bool = False,
    ) -> list[Filing]:
        """The company's filings of ``forms`` in fiscal ``years`` (all years if ``None``), newest first.

        Older pages are fetched only when they can hold a requested year: a page whose last
        filing date is before the earliest possible period of the earliest year is skipped.
        """
        wanted = {f.upper() for f in forms}
        if include_amendments:
            wanted |= {f"{f}/A" for f in wanted}
        year_set = set(years) if years is not None else None
        ref = await self.resolve(company)
        subs = await self.submissions(ref.cik, forms=wanted)
        found = list(subs.filings)
        earliest = date(min(year_set) - 1, 1, 1) if year_set else None
        for page in subs.pages:
            if earliest is not None and page.filing_to is not None and page.filing_to < earliest:
                continue
            found.extend(await self.page(subs, page, forms=wanted))
        seen: set[str] = set()
        result = []
        for filing in found:
            if filing.accession in seen:  # the parsers kept only the wanted forms
                continue
            if year_set is not None and filing.fiscal_year not in year_set:
                continue
            seen.add(filing.accession)
            result.append(filing)
        result.sort(key=lambda f: (f.filing_date, f.accession), reverse=True)
        return result

    # ---- documents -----------------------------------------------------------------------

    async def download(self, filing: Filing) -> FilingDocument:
        """The filing's primary document; Archives documents are cached and never fetched twice."""
        url = filing.document_url
        if url is None:
            raise NotFoundError(f"filing {filing.accession} has no primary document")
        inflight = self._documents.get(url)
        if inflight is None:  # one download per URL in this process, however many ask at once
            inflight = asyncio.ensure_future(self.get(url, max_age=None))
            self._documents[url] = inflight
            inflight.add_done_callback(self._forget(url))
        response = await asyncio.shield(inflight)
        return FilingDocument(
            filing=filing,
            content=response.body,
            size=len(response.body),
            sha256=hashlib.sha256(response.body).hexdigest(),
            content_type=response.content_type,
            source="network" if response.source == "network" else "cache",
        )

    def _forget(self, url: str) -> Callable[[asyncio.Future[CachedResponse]], None]:
        def done(future: asyncio.Future[CachedResponse]) -> None:
            self._documents.pop(url, None)
            if not future.cancelled():
                future.exception()  # retrieved here too, in case every waiter was cancelled

        return done

    async def download_all(self, filings: Sequence[Filing]) -> list[FilingDocument | Exception]:
        """Download several documents concurrently (the limiter paces them); errors are returned."""
        results = await asyncio.gather(*(self.download(f) for f in filings), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, Exception):
                raise r  # cancellation and the like are not per-item failures
        return [r for r in results if isinstance(r, FilingDocument | Exception)]


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True
