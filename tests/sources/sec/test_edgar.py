"""The EDGAR client over real loopback sockets against the replay server, errors included."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import date

import pytest
import redis.asyncio as aioredis

from acquire.errors import ConfigurationError, NotFoundError, RateLimitedError, TransientError
from acquire.http.cache import RedisCache
from acquire.http.ratelimit import RateLimiter
from acquire.settings import Settings
from acquire.sources.sec.edgar import (
    EdgarClient,
    fiscal_year_of,
    parse_submissions,
    validate_user_agent,
)
from acquire.testing.replay import UNDECLARED_TOOL_PAGE, Fault, ReplayServer
from tests.conftest import FIXTURES as TEST_FIXTURES

FIXTURES = TEST_FIXTURES / "sec"
ARCHIVES = FIXTURES / "www.sec.gov" / "Archives" / "edgar" / "data"
RATE_PAGE = gzip.decompress((FIXTURES / "errors" / "rate-exceeded.html.gz").read_bytes())
BUSY_PAGE = gzip.decompress((FIXTURES / "errors" / "browse-edgar_503_file_unavailable.html.gz").read_bytes())

# The exact 10-K rows of the recorded submissions (accession -> primary document).
NVDA_10K = {
    2025: ("0001045810-25-000023", "nvda-20250126.htm"),
    2024: ("0001045810-24-000029", "nvda-20240128.htm"),
    2023: ("0001045810-23-000017", "nvda-20230129.htm"),
}
TSLA_10K = {
    2024: ("0001628280-25-003063", "tsla-20241231.htm"),
    2023: ("0001628280-24-002390", "tsla-20231231.htm"),
}


def fixture_sha256(cik: int, accession: str, document: str) -> str:
    path = ARCHIVES / str(cik) / accession.replace("-", "") / f"{document}.gz"
    return hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()


@pytest.fixture
async def edgar(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer
) -> AsyncIterator[EdgarClient]:
    """The client as a worker builds it: fleet-wide limiter and Redis cache injected."""
    limiter = RateLimiter(redis, "sec", settings.sec_max_rps)
    cache = RedisCache(redis, max_bytes=settings.sec_cache_max_bytes)
    async with EdgarClient(settings, limiter=limiter, cache=cache, backoff_base=0.01) as client:
        yield client


# ---- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize("ua", ["Acme Research admin@acme.com", "Jane Doe <jane.doe@uni.edu>"])
def test_declared_user_agents_pass(ua: str) -> None:
    assert validate_user_agent(ua) == ua


@pytest.mark.parametrize("ua", ["", "python-httpx/0.27", "admin@acme.com", "Acme Research"])
def test_undeclared_user_agents_fail_at_client_creation(ua: str, settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="SEC_USER_AGENT"):
        EdgarClient(settings.model_copy(update={"sec_user_agent": ua}))


# ---- fiscal years --------------------------------------------------------------------------


def test_fiscal_year_rule() -> None:
    assert fiscal_year_of(date(2025, 1, 26), annual=True) == 2025  # NVIDIA fiscal 2025
    assert fiscal_year_of(date(2024, 9, 28), annual=True) == 2024  # Apple fiscal 2024
    assert fiscal_year_of(date(2021, 1, 2), annual=True) == 2020  # 52/53-week year
    assert fiscal_year_of(date(2024, 12, 28), annual=False, fiscal_year_end="0926") == 2025  # Apple Q1
    assert fiscal_year_of(date(2019, 9, 28), annual=False, fiscal_year_end="0926") == 2019
    assert fiscal_year_of(date(2024, 4, 28), annual=False, fiscal_year_end="0131") == 2025  # NVDA Q1
    assert fiscal_year_of(date(2024, 6, 30), annual=False, fiscal_year_end="1231") == 2024
    assert fiscal_year_of(date(2024, 3, 31), annual=False, fiscal_year_end="0229") == 2025
    assert fiscal_year_of(date(2024, 6, 30), annual=False, fiscal_year_end=None) == 2024


# ---- end to end: ticker -> CIK -> submissions -> documents ---------------------------------


async def test_nvidia_end_to_end(edgar: EdgarClient, upstream: ReplayServer) -> None:
    filings = await edgar.filings("NVDA", forms=["10-K"], years=[2023, 2024, 2025])
    assert [(f.fiscal_year, f.accession, f.primary_document) for f in filings] == [
        (year, *NVDA_10K[year]) for year in (2025, 2024, 2023)
    ]
    fy25 = filings[0]
    assert (fy25.cik, fy25.company, fy25.form) == (1045810, "NVIDIA CORP", "10-K")
    assert fy25.report_date == date(2025, 1, 26) and fy25.filing_date == date(2025, 2, 26)
    assert fy25.document_url == (
        f"{upstream.url}/www.sec.gov/Archives/edgar/data/1045810/000104581025000023/nvda-20250126.htm"
    )
    assert fy25.is_inline_xbrl is True
    for filing in filings:
        document = await edgar.download(filing)
        assert document.sha256 == fixture_sha256(1045810, filing.accession, filing.primary_document or "")
        assert document.size == len(document.content) and document.source == "network"
        assert "NVIDIA" in document.text[:200_000]
        assert "content" not in document.model_dump()  # metadata serialises, bytes do not
    paths = [r.path for r in upstream.log]
    assert paths[:2] == ["/files/company_tickers.json", "/submissions/CIK0001045810.json"]
    assert not any("submissions-001" in p for p in paths)  # the recent filings were enough
    assert all("@" in r.user_agent for r in upstream.log)


async def test_tesla_end_to_end(edgar: EdgarClient, upstream: ReplayServer) -> None:
    filings = await edgar.filings("tsla", years=[2023, 2024])
    assert [(f.fiscal_year, f.accession) for f in filings] == [
        (2024, TSLA_10K[2024][0]),
        (2023, TSLA_10K[2023][0]),
    ]
    documents = await edgar.download_all(filings)
    for filing, document in zip(filings, documents, strict=True):
        assert not isinstance(document, Exception)
        assert document.sha256 == fixture_sha256(1318605, filing.accession, filing.primary_document or "")
    with_amendments = await edgar.filings(1318605, years=[2024], include_amendments=True)
    assert [f.form for f in with_amendments] == ["10-K/A", "10-K"]
    assert with_amendments[0].is_amendment and with_amendments[0].accession == "0001104659-25-042659"


async def test_other_forms_and_quarterly_fiscal_years(edgar: EdgarClient) -> None:
    filings = await edgar.filings("AAPL", forms=["10-Q"], years=[2025])
    assert [f.report_date for f in filings] == [date(2025, 6, 28), date(2025, 3, 29), date(2024, 12, 28)]
    eight_k = await edgar.filings("NVDA", forms=["8-K"], years=[2025])
    assert eight_k and all(f.form == "8-K" for f in eight_k)
    assert any(f.items and "2.02" in f.items for f in eight_k)  # results of operations


# ---- pagination ------------------------------------------------------------------------------


async def test_older_pages_fetched_only_when_needed(edgar: EdgarClient, upstream: ReplayServer) -> None:
    recent = await edgar.filings("TSLA", years=[2024])
    assert recent and not upstream.requests_to("data.sec.gov", "/submissions/CIK0001318605-submissions-001")
    old = await edgar.filings("TSLA", years=[2015])
    assert [(f.accession, f.filing_date) for f in old] == [("0001564590-16-013195", date(2016, 2, 24))]
    assert len(upstream.requests_to("data.sec.gov", "/submissions/CIK0001318605-submissions-001")) == 1


async def test_pages_of_a_delisted_company(edgar: EdgarClient, upstream: ReplayServer) -> None:
    # CARBO Ceramics (CIK 1009672): no ticker any more, FY2002 lives on the older page.
    filings = await edgar.filings("1009672", years=[2002], include_amendments=True)
    assert [(f.form, f.accession) for f in filings] == [
        ("10-K/A", "0000950134-03-005879"),
        ("10-K", "0000950134-03-003746"),
    ]
    assert filings[1].company == "CARBO CERAMICS INC" and filings[1].primary_document == "d03686e10vk.txt"
    assert not upstream.requests_to("www.sec.gov", "/files")  # a CIK needs no ticker lookup
    # Older 10-K405s have no primary document: listed, but there is nothing to download.
    old = await edgar.filings(1009672, forms=["10-K405"], years=[1999])
    assert old[0].document_url is None
    with pytest.raises(NotFoundError, match="no primary document"):
        await edgar.download(old[0])


# ---- the 2023 schema -------------------------------------------------------------------------


def test_2023_schema_parses() -> None:
    data = json.loads(gzip.decompress((FIXTURES / "variants/2023/CIK0000320193.json.gz").read_bytes()))
    assert "core_type" not in data["filings"]["recent"] and "lei" not in data
    subs = parse_submissions(data, www_base_url="https://www.sec.gov")
    assert (subs.cik, subs.name, subs.fiscal_year_end) == (320193, "Apple Inc.", "0930")  # 2026 says "0926"
    ten_k = [f for f in subs.filings if f.form == "10-K"]
    assert ten_k[0].fiscal_year == 2022 and ten_k[0].report_date == date(2022, 9, 24)
    assert subs.pages[0].name == "CIK0000320193-submissions-001.json"


def test_a_form_filter_keeps_exactly_the_filings_of_those_forms() -> None:
    path = FIXTURES / "data.sec.gov/submissions/CIK0001045810.json.gz"
    data = json.loads(gzip.decompress(path.read_bytes()))
    every = parse_submissions(data, www_base_url="https://www.sec.gov")
    ten_k = parse_submissions(data, www_base_url="https://www.sec.gov", forms={"10-K", "10-K/A"})
    assert len(every.filings) > 20 * len(ten_k.filings) > 0  # the filter is what makes it cheap
    assert ten_k.filings == [f for f in every.filings if f.form in {"10-K", "10-K/A"}]
    assert ten_k.model_dump(exclude={"filings"}) == every.model_dump(exclude={"filings"})


async def test_2023_schema_end_to_end(edgar: EdgarClient, upstream: ReplayServer) -> None:
    variant = FIXTURES / "variants" / "2023"
    upstream.inject(
        r"/submissions/CIK0000320193\.json$",
        Fault(200, gzip.decompress((variant / "CIK0000320193.json.gz").read_bytes())),
    )
    upstream.inject(
        r"/submissions/CIK0000320193-submissions-001\.json$",
        Fault(200, gzip.decompress((variant / "CIK0000320193-submissions-001.json.gz").read_bytes())),
    )
    filings = await edgar.filings(320193, years=[2010, 2022])
    assert [(f.fiscal_year, f.report_date) for f in filings] == [
        (2022, date(2022, 9, 24)),
        (2010, date(2010, 9, 25)),
    ]
    assert filings[1].primary_document and filings[1].document_url


# ---- errors ----------------------------------------------------------------------------------


async def test_rate_page_pauses_the_fleet(
    edgar: EdgarClient, upstream: ReplayServer, redis: aioredis.Redis, settings: Settings
) -> None:
    upstream.inject(r"/submissions/", Fault(403, RATE_PAGE, {"content-type": "text/html"}))
    with pytest.raises(RateLimitedError) as caught:
        await edgar.submissions(1045810)
    assert caught.value.retry_after == settings.sec_block_seconds
    other_worker = RateLimiter(redis, "sec", 10, max_wait=30)
    assert await other_worker.paused_for() > settings.sec_block_seconds - 5
    with pytest.raises(RateLimitedError):  # every SEC request now waits out the block...
        await edgar.filings("NVDA")
    assert len(upstream.log) == 1  # ...without sending anything


async def test_undeclared_tool_page_is_a_configuration_error(
    edgar: EdgarClient, upstream: ReplayServer
) -> None:
    upstream.inject(r"company_tickers", Fault(403, UNDECLARED_TOOL_PAGE))
    with pytest.raises(ConfigurationError, match="User-Agent"):
        await edgar.resolve("NVDA")
    assert len(upstream.log) == 1  # not retried


async def test_missing_documents_and_companies_are_not_found(
    edgar: EdgarClient, upstream: ReplayServer
) -> None:
    filings = await edgar.filings("NVDA", years=[2022])  # its document is not recorded: 403 AccessDenied
    with pytest.raises(NotFoundError, match=r"nvda-20220130\.htm"):
        await edgar.download(filings[0])
    assert [r.status for r in upstream.requests_to("www.sec.gov", "/Archives")] == [403]
    with pytest.raises(NotFoundError):
        await edgar.submissions(1)  # data.sec.gov 404 NoSuchKey
    assert [r.status for r in upstream.requests_to("data.sec.gov", "/submissions/CIK0000000001")] == [404]
    with pytest.raises(NotFoundError, match="ZZZZ"):
        await edgar.resolve("ZZZZ")


async def test_transient_failures_are_retried(edgar: EdgarClient, upstream: ReplayServer) -> None:
    upstream.inject(r"/submissions/CIK0001045810\.json", Fault(503, BUSY_PAGE), Fault(reset=True))
    upstream.inject(r"nvda-20250126", Fault(200, b"x" * 100_000, truncate=1_000))
    filings = await edgar.filings("NVDA", years=[2025])
    assert [r.status for r in upstream.requests_to("data.sec.gov")] == [503, 0, 200]
    document = await edgar.download(filings[0])
    assert document.sha256 == fixture_sha256(1045810, *NVDA_10K[2025])
    assert len(upstream.requests_to("www.sec.gov", "/Archives")) == 2


async def test_persistent_5xx_is_transient(edgar: EdgarClient, upstream: ReplayServer) -> None:
    upstream.inject(r"/submissions/", *[Fault(503, BUSY_PAGE)] * 3)
    with pytest.raises(TransientError, match="503"):
        await edgar.submissions(1318605)
    assert len(upstream.log) == 3


# ---- cache -----------------------------------------------------------------------------------


async def test_second_fetch_makes_no_archives_request(edgar: EdgarClient, upstream: ReplayServer) -> None:
    filing = (await edgar.filings("TSLA", years=[2024]))[0]
    first = await edgar.download(filing)
    second = await edgar.download(filing)
    assert (first.source, second.source) == ("network", "cache") and first.sha256 == second.sha256
    assert len(upstream.requests_to("www.sec.gov", "/Archives")) == 1
    again = await edgar.filings("TSLA", years=[2024])  # submissions and tickers are fresh too
    assert again == [filing]
    assert len(upstream.log) == 3


async def test_concurrent_downloads_share_one_request(edgar: EdgarClient, upstream: ReplayServer) -> None:
    filing = (await edgar.filings("NVDA", years=[2024]))[0]
    documents = await asyncio.gather(*(edgar.download(filing) for _ in range(5)))
    assert {d.sha256 for d in documents} == {fixture_sha256(1045810, *NVDA_10K[2024])}
    assert len(upstream.requests_to("www.sec.gov", "/Archives")) == 1


async def test_stale_submissions_are_revalidated(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer
) -> None:
    stale = settings.model_copy(update={"sec_cache_ttl": 0})
    async with EdgarClient(stale, cache=RedisCache(redis, max_bytes=10**8)) as client:
        first = await client.submissions(1045810)
        second = await client.submissions(1045810)
    assert first == second
    assert [r.status for r in upstream.requests_to("data.sec.gov")] == [200, 304]
