"""SEC EDGAR: ticker -> CIK, submissions (with their older pages), filings and documents.

One :class:`EdgarClient` per worker wraps the worker's shared ``httpx.AsyncClient`` and an
injected fleet-wide :class:`~acquire.sources.http.Limiter` and
:class:`~acquire.cache.HttpCache`; it knows nothing about jobs or Redis keys.

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

**Fiscal years.** A filing's ``fiscal_year`` is derived from its period of report
(``reportDate``) by :func:`fiscal_year_of`: for annual reports (10-K, 20-F, 40-F, 10-KT and
amendments) it is the calendar year in which the fiscal year *ends*, except that a period
ending on 1-7 January belongs to the previous year (52/53-week years ending "on the Saturday
closest to 31 December"). NVIDIA's fiscal 2025 ends 2025-01-26 -> 2025; Apple's fiscal 2024
ends 2024-09-28 -> 2024. Other forms (10-Q, 8-K, ...) belong to the fiscal year *containing*
their period, using the company's ``fiscalYearEnd`` (MMDD) with the same 7-day slack; Apple's
10-Q for the quarter ending 2024-12-28 is fiscal 2025. Without a ``reportDate`` the filing date
is used (for annual reports: the fiscal year before the one the filing date falls in).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from acquire.cache import CachedResponse, HttpCache, NullCache, cached_fetch
from acquire.errors import (
    ConfigurationError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from acquire.settings import Settings
from acquire.sources.http import Classifier, Limiter, create_client, retry_after_seconds

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

#: Annual-report forms: their fiscal year is the year their period ends (see module doc).
ANNUAL_FORMS = frozenset({"10-K", "10-K/A", "10-KT", "10-KT/A", "20-F", "20-F/A", "40-F", "40-F/A",
                          "10-K405", "10-KSB", "10-KSB/A"})  # fmt: skip
CACHE_NAMESPACE = "sec"
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_SLACK = timedelta(days=7)


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


def create_sec_http_client(settings: Settings, *, timeout: float = 30.0) -> httpx.AsyncClient:
    """The worker's SEC ``httpx.AsyncClient`` (validates ``SEC_USER_AGENT`` first)."""
    return create_client(user_agent=validate_user_agent(settings.sec_user_agent), timeout=timeout,
                         headers={"Accept-Encoding": "gzip, deflate"})  # fmt: skip


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


def _fye(year: int, month: int, day: int) -> date:
    while True:  # 0229 in a non-leap year, or a malformed day: clamp to the month's end
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1
            if day < 28:
                raise


def fiscal_year_of(period_end: date, *, annual: bool, fiscal_year_end: str | None = None) -> int:
    """The fiscal year a period ending on ``period_end`` belongs to (rule in the module doc)."""
    mmdd = fiscal_year_end or ""
    if annual or not (len(mmdd) == 4 and mmdd.isdigit() and 1 <= int(mmdd[:2]) <= 12):
        early_january = period_end.month == 1 and period_end.day <= _SLACK.days
        return period_end.year - 1 if early_january else period_end.year
    month, day = int(mmdd[:2]), max(1, int(mmdd[2:]))
    year = period_end.year
    if period_end <= _fye(year - 1, month, day) + _SLACK:
        return year - 1
    if period_end <= _fye(year, month, day) + _SLACK:
        return year
    return year + 1


class CompanyRef(BaseModel):
    """A company as the ticker map knows it."""

    model_config = ConfigDict(frozen=True)

    cik: int
    ticker: str | None = None
    name: str


class Filing(BaseModel):
    """One filing from a company's submissions, with where its primary document lives."""

    model_config = ConfigDict(frozen=True)

    cik: int
    company: str
    form: str
    accession: str = Field(description="Accession number with dashes, e.g. 0001045810-25-000023.")
    filing_date: date
    report_date: date | None = None
    fiscal_year: int
    primary_document: str | None = None
    primary_doc_description: str | None = None
    document_url: str | None = None
    size: int | None = None
    is_xbrl: bool | None = None
    is_inline_xbrl: bool | None = None
    acceptance_datetime: str | None = None
    items: str | None = Field(None, description="8-K item numbers, e.g. '2.02,9.01'.")

    @property
    def is_amendment(self) -> bool:
        return self.form.endswith("/A")


class FilingDocument(BaseModel):
    """A filing's primary document: its bytes (not serialised) and their fingerprint."""

    filing: Filing
    content: bytes = Field(exclude=True, repr=False)
    size: int
    sha256: str
    content_type: str | None = None
    source: str = Field(description='"network" or "cache".')

    @property
    def text(self) -> str:
        """The document decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")


class PageRef(BaseModel):
    """An older page of filings (``filings.files``): flat arrays, filed in [filing_from, filing_to]."""

    name: str
    filing_count: int | None = None
    filing_from: date | None = None
    filing_to: date | None = None


class Submissions(BaseModel):
    """A company's submissions: who it is, its recent filings and the older pages."""

    cik: int
    name: str
    tickers: list[str] = Field(default_factory=list)
    fiscal_year_end: str | None = None
    filings: list[Filing] = Field(default_factory=list)
    pages: list[PageRef] = Field(default_factory=list)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _column(table: Mapping[str, Any], name: str, length: int) -> list[Any]:
    values = table.get(name)
    if not isinstance(values, list):
        return [None] * length  # older schemas lack some columns (e.g. core_type)
    return values + [None] * (length - len(values))


def _flag(value: Any) -> bool | None:
    return None if value is None or value == "" else bool(int(value))


def parse_filings(table: Mapping[str, Any], *, cik: int, company: str, fiscal_year_end: str | None,
                  www_base_url: str) -> list[Filing]:  # fmt: skip
    """Filings from SEC's parallel arrays (``filings.recent`` or an older page)."""
    accessions = table.get("accessionNumber")
    if not isinstance(accessions, list):
        return []
    n = len(accessions)
    cols = {name: _column(table, name, n) for name in (
        "form", "filingDate", "reportDate", "primaryDocument", "primaryDocDescription", "size",
        "isXBRL", "isInlineXBRL", "acceptanceDateTime", "items")}  # fmt: skip
    filings = []
    for i, accession in enumerate(accessions):
        form, filed = cols["form"][i], _date(cols["filingDate"][i])
        if not accession or not form or filed is None:
            continue  # a row without the essentials cannot be a filing
        form = str(form)
        annual = form in ANNUAL_FORMS
        reported = _date(cols["reportDate"][i])
        if reported is not None:
            fy = fiscal_year_of(reported, annual=annual, fiscal_year_end=fiscal_year_end)
        else:
            fy = fiscal_year_of(filed, annual=False, fiscal_year_end=fiscal_year_end) - int(annual)
        doc = cols["primaryDocument"][i] or None
        url = (f"{www_base_url}/Archives/edgar/data/{cik}/{str(accession).replace('-', '')}/{doc}"
               if doc else None)  # fmt: skip
        filings.append(Filing(
            cik=cik, company=company, form=form, accession=str(accession), filing_date=filed,
            report_date=reported, fiscal_year=fy, primary_document=doc,
            primary_doc_description=cols["primaryDocDescription"][i] or None,
            document_url=url, size=cols["size"][i], is_xbrl=_flag(cols["isXBRL"][i]),
            is_inline_xbrl=_flag(cols["isInlineXBRL"][i]),
            acceptance_datetime=cols["acceptanceDateTime"][i] or None,
            items=cols["items"][i] or None,
        ))  # fmt: skip
    return filings


def parse_submissions(data: Mapping[str, Any], *, www_base_url: str) -> Submissions:
    """Parse a ``submissions/CIK##########.json`` document (2023 and 2026 schemas alike)."""
    try:
        cik = int(str(data["cik"]))
    except (KeyError, ValueError) as exc:
        raise PermanentError(f"submissions JSON without a valid 'cik': {exc}") from None
    name = str(data.get("name") or f"CIK {cik}")
    fye = str(data["fiscalYearEnd"]) if data.get("fiscalYearEnd") else None
    filings = data.get("filings") or {}
    recent = filings.get("recent") or {}
    pages = [
        PageRef(
            name=str(f["name"]),
            filing_count=f.get("filingCount"),
            filing_from=_date(f.get("filingFrom")),
            filing_to=_date(f.get("filingTo")),
        )
        for f in filings.get("files") or []
        if isinstance(f, Mapping) and f.get("name")
    ]
    return Submissions(
        cik=cik, name=name, tickers=[str(t) for t in data.get("tickers") or []], fiscal_year_end=fye,
        filings=parse_filings(recent, cik=cik, company=name, fiscal_year_end=fye,
                              www_base_url=www_base_url),
        pages=pages,
    )  # fmt: skip


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

    async def get(self, url: str, *, max_age: float | None) -> CachedResponse:
        """GET an SEC URL through the limiter and the cache (``max_age=None``: immutable)."""
        return await cached_fetch(
            self._http, url, cache=self.cache, namespace=CACHE_NAMESPACE, max_age=max_age,
            classify=self.classify, limiter=self.limiter, attempts=self.attempts,
            backoff_base=self.backoff_base, headers={"User-Agent": self.user_agent},
        )  # fmt: skip

    async def get_json(self, url: str, *, max_age: float | None = None) -> Any:
        """A JSON resource (cached ``SEC_CACHE_TTL`` seconds unless ``max_age`` says otherwise)."""
        response = await self.get(url, max_age=self.settings.sec_cache_ttl if max_age is None else max_age)
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
                ref = CompanyRef(cik=int(row["cik_str"]), ticker=str(row["ticker"]).upper(),
                                 name=str(row.get("title") or ""))  # fmt: skip
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

    async def submissions(self, cik: int) -> Submissions:
        """The company's submissions JSON, parsed (recent filings only; pages are separate)."""
        data = await self.get_json(f"{self.data}/submissions/CIK{cik:010d}.json")
        return parse_submissions(data, www_base_url=self.www)

    async def page(self, submissions: Submissions, page: PageRef) -> list[Filing]:
        """The filings of one older page (``CIK##########-submissions-001.json``)."""
        data = await self.get_json(f"{self.data}/submissions/{page.name}")
        return parse_filings(data, cik=submissions.cik, company=submissions.name,
                             fiscal_year_end=submissions.fiscal_year_end, www_base_url=self.www)  # fmt: skip

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
        subs = await self.submissions(ref.cik)
        found = list(subs.filings)
        earliest = date(min(year_set) - 1, 1, 1) if year_set else None
        for page in subs.pages:
            if earliest is not None and page.filing_to is not None and page.filing_to < earliest:
                continue
            found.extend(await self.page(subs, page))
        seen: set[str] = set()
        result = []
        for filing in found:
            if filing.form.upper() not in wanted or filing.accession in seen:
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
            filing=filing, content=response.body, size=len(response.body),
            sha256=hashlib.sha256(response.body).hexdigest(), content_type=response.content_type,
            source="network" if response.source == "network" else "cache",
        )  # fmt: skip

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
