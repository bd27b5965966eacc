"""The Yahoo source over real loopback sockets against the replay server, with real Redis."""

from __future__ import annotations

import asyncio
import copy
import gzip
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from acquire.errors import NotFoundError, RateLimitedError, TransientError
from acquire.http.ratelimit import RateLimiter
from acquire.settings import Settings
from acquire.sources.yahoo.client import (
    MemorySessionStore,
    RedisSessionStore,
    YahooClient,
    YahooSession,
    mirror_rewriter,
)
from acquire.sources.yahoo.models import Dividend, Split
from acquire.sources.yahoo.parse import (
    dividend_adjusted_closes,
    parse_chart,
    parse_metrics,
    parse_profile,
    yahoo_number,
)
from acquire.store import keys
from acquire.testing.replay import Fault, ReplayServer
from tests.conftest import FIXTURES as TEST_FIXTURES

FIXTURES = TEST_FIXTURES / "yahoo"
CRUMB = "haT3oykhHqZ"  # what the recorded getcrumb answered
QUERY = "query2.finance.yahoo.com"
SUMMARY = "/v10/finance/quoteSummary/"
INVALID_CRUMB = json.dumps(
    {"finance": {"result": None, "error": {"code": "Unauthorized", "description": "Invalid Crumb"}}}
).encode()
JSON = {"content-type": "application/json"}
MSFT = "historical-via-chart-MSFT-dividends-2021-02-01-to-2022-01-31.csv.json.gz"
NVDA = "historical-via-chart-NVDA-split-2021-02-01-to-2022-01-31.csv.json.gz"
START, END = date(2021, 2, 1), date(2022, 1, 31)  # the recorded chart windows


def recorded_body(name: str) -> Any:
    return json.loads(gzip.decompress((FIXTURES / name).read_bytes()))["response"]["bodyJson"]


class RecordingLimiter:
    """A Limiter that grants at once, honours pauses and remembers both."""

    def __init__(self) -> None:
        self.grants = 0
        self.pauses: list[float] = []
        self._resume_at = 0.0

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        if (wait := self._resume_at - loop.time()) > 0:
            await asyncio.sleep(wait)  # the pause being honoured, not synchronisation
        self.grants += 1

    async def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self._resume_at = max(self._resume_at, asyncio.get_running_loop().time() + seconds)


@pytest.fixture
def strict(upstream: ReplayServer) -> Iterator[ReplayServer]:
    """The replay server checking cookie and crumb like Yahoo does."""
    upstream.yahoo_auth = True
    yield upstream
    upstream.yahoo_auth = False


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    client = YahooClient.create_http(timeout=10)
    yield client
    await client.aclose()


@pytest.fixture
def limiter() -> RecordingLimiter:
    return RecordingLimiter()


@pytest.fixture
def yahoo(settings: Settings, http: httpx.AsyncClient, limiter: RecordingLimiter) -> YahooClient:
    return YahooClient.from_settings(settings, http, limiter=limiter)


def count(server: ReplayServer, host: str, prefix: str = "/", method: str | None = None) -> int:
    return sum(1 for r in server.requests_to(host, prefix) if method is None or r.method == method)


# ---- the session dance ---------------------------------------------------------------------------


async def test_cookie_then_crumb_then_quote_summary(
    strict: ReplayServer, yahoo: YahooClient, limiter: RecordingLimiter
) -> None:
    profile = await yahoo.profile("aapl")

    assert profile.name == "Apple Inc."
    assert [r.host + r.path for r in strict.log] == [
        "fc.yahoo.com/",
        f"{QUERY}/v1/test/getcrumb",
        f"{QUERY}{SUMMARY}AAPL",
    ]
    assert f"crumb={CRUMB}" in strict.log[-1].query
    assert limiter.grants == 3  # the session requests count against the budget too
    session = await yahoo.session()
    assert session.crumb == CRUMB and session.cookie.startswith("A3=d=AQABBKvcsWcC")
    assert CRUMB not in repr(session) and "A3=" not in repr(session)  # credentials stay out of logs


async def test_consent_redirect_chain_when_cookie_url_sets_no_cookie(
    strict: ReplayServer, yahoo: YahooClient
) -> None:
    strict.inject(r"^/fc\.yahoo\.com/", Fault(404, b"Not Found"))  # as seen from the EU: no cookie

    metrics = await yahoo.metrics("AAPL")

    assert metrics.market_cap == 3688676720640
    assert [(r.method, r.host, r.path, r.status) for r in strict.log] == [
        ("GET", "fc.yahoo.com", "/", 404),
        ("GET", "finance.yahoo.com", "/quote/AAPL", 307),
        ("GET", "guce.yahoo.com", "/consent", 302),
        ("GET", "consent.yahoo.com", "/v2/collectConsent", 200),
        ("POST", "consent.yahoo.com", "/v2/collectConsent", 302),
        ("GET", "guce.yahoo.com", "/copyConsent", 302),
        ("GET", QUERY, "/v1/test/getcrumb", 200),  # accepted: the consent cookies were sent
        ("GET", QUERY, f"{SUMMARY}AAPL", 200),
    ]
    assert "sessionId=3_cc-session_dcf322f7" in strict.log[3].query  # the Location was followed
    cookie = (await yahoo.session()).cookie
    assert "A3=" in cookie and "EuConsent=" in cookie
    assert "CFC=" not in cookie  # scoped to consent.yahoo.com only: not part of the session


async def test_unreachable_cookie_url_falls_back_to_consent(strict: ReplayServer, yahoo: YahooClient) -> None:
    strict.inject(r"^/fc\.yahoo\.com/", *[Fault(reset=True) for _ in range(3)])

    profile = await yahoo.profile("AAPL")

    assert profile.industry == "Consumer Electronics"
    assert count(strict, "fc.yahoo.com") == 3  # the bounded retries, then the fallback
    assert count(strict, "guce.yahoo.com", "/copyConsent") == 1


async def test_no_session_anywhere_is_transient(strict: ReplayServer, yahoo: YahooClient) -> None:
    strict.inject(r"^/fc\.yahoo\.com/", Fault(404, b"Not Found"))
    strict.inject(r"^/finance\.yahoo\.com/", Fault(200, b"<html>no consent form here</html>"))

    with pytest.raises(TransientError, match="could not obtain a Yahoo session"):
        await yahoo.profile("AAPL")

    assert count(strict, QUERY) == 0  # neither getcrumb nor quoteSummary without a cookie


async def test_invalid_crumb_refreshes_exactly_once(strict: ReplayServer, yahoo: YahooClient) -> None:
    await yahoo.profile("AAPL")
    strict.inject(r"/quoteSummary/", Fault(401, INVALID_CRUMB, JSON))

    metrics = await yahoo.metrics("AAPL")

    assert metrics.beta == 1.2
    assert count(strict, QUERY, "/v1/test/getcrumb") == 2
    assert count(strict, QUERY, SUMMARY) == 3  # ok, 401, ok after the refresh


async def test_persistent_401_refreshes_once_then_fails(strict: ReplayServer, yahoo: YahooClient) -> None:
    strict.inject(r"/quoteSummary/", *[Fault(401, INVALID_CRUMB) for _ in range(5)])

    with pytest.raises(TransientError, match=r"rejected a fresh session too: .*Invalid Crumb"):
        await yahoo.profile("AAPL")

    assert count(strict, QUERY, "/v1/test/getcrumb") == 2
    assert count(strict, QUERY, SUMMARY) == 2


async def test_stale_shared_crumb_is_replaced_in_redis(
    strict: ReplayServer, settings: Settings, http: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    store = RedisSessionStore(redis)
    cookie = (
        "A3=d=AQABBKvcsWcCEIGLkyl67hr2YX7XekV46j4FEgABCAErs2fZZ_bPb2UB9qMAAAcIq9yxZ63aZoI"
        "&S=AQAAAtFJa---IoVh8DRgGhGzVr4"
    )  # the recorded (still valid) cookie, with a crumb Yahoo has since rotated
    await store.save(YahooSession(cookie=cookie, crumb="rotated0ld", obtained_at=datetime.now(UTC)))
    yahoo = YahooClient.from_settings(settings, http, sessions=store)

    profile = await yahoo.profile("AAPL")

    assert profile.sector == "Technology"
    assert [r.status for r in strict.requests_to(QUERY, SUMMARY)] == [401, 200]  # real check, no injection
    assert count(strict, QUERY, "/v1/test/getcrumb") == 1
    assert (await store.load()) == await yahoo.session()
    assert (await redis.hget(keys.yahoo_session(), "crumb")) == CRUMB.encode()  # type: ignore[misc]


async def test_second_worker_reuses_the_session_in_redis(
    strict: ReplayServer, settings: Settings, http: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    first = YahooClient.from_settings(settings, http, sessions=RedisSessionStore(redis))
    await first.profile("AAPL")
    assert 0 < await redis.ttl(keys.yahoo_session()) <= 86_400

    async with YahooClient.create_http() as other_http:  # another worker: own client, own store object
        second = YahooClient.from_settings(settings, other_http, sessions=RedisSessionStore(redis))
        metrics = await second.metrics("AAPL")

    assert metrics.forward_pe == 29.548735
    assert count(strict, "fc.yahoo.com") == 1
    assert count(strict, QUERY, "/v1/test/getcrumb") == 1
    assert count(strict, QUERY, SUMMARY) == 2


async def test_refresh_adopts_a_session_another_worker_stored(
    strict: ReplayServer, settings: Settings, http: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    a = YahooClient.from_settings(settings, http, sessions=RedisSessionStore(redis))
    b = YahooClient.from_settings(settings, http, sessions=RedisSessionStore(redis))
    old = await a.session()
    assert await b.session() == old
    new = await a.refresh_session(old)  # worker A saw a 401 first
    assert count(strict, QUERY, "/v1/test/getcrumb") == 2

    adopted = await b.refresh_session(old)  # worker B's 401 with the same old session

    assert adopted == new and adopted.obtained_at > old.obtained_at
    assert count(strict, QUERY, "/v1/test/getcrumb") == 2  # B did not call getcrumb


async def test_concurrent_requests_share_one_session_dance(strict: ReplayServer, yahoo: YahooClient) -> None:
    results = await asyncio.gather(*(yahoo.profile("AAPL") for _ in range(5)))

    assert {p.name for p in results} == {"Apple Inc."}
    assert count(strict, "fc.yahoo.com") == 1
    assert count(strict, QUERY, "/v1/test/getcrumb") == 1


# ---- throttling and errors -----------------------------------------------------------------------


async def test_429_pauses_the_limiter_then_succeeds(
    upstream: ReplayServer, yahoo: YahooClient, limiter: RecordingLimiter, settings: Settings
) -> None:
    await yahoo.session()
    upstream.inject(r"/quoteSummary/", Fault(429, b"Too Many Requests"), Fault(429, b"Too Many Requests"))

    metrics = await yahoo.metrics("AAPL")

    assert metrics.trailing_pe == 38.91442
    assert count(upstream, QUERY, SUMMARY) == 3
    assert limiter.pauses == [settings.acquire_retry_max] * 2  # each 429 paused the whole fleet
    assert limiter.grants == len(upstream.log)  # nothing bypassed the budget


async def test_429_until_the_budget_is_spent(
    upstream: ReplayServer, yahoo: YahooClient, limiter: RecordingLimiter
) -> None:
    await yahoo.session()
    upstream.inject(r"/quoteSummary/", *[Fault(429, b"Too Many Requests") for _ in range(10)])

    with pytest.raises(RateLimitedError):
        await yahoo.profile("AAPL")

    assert count(upstream, QUERY, SUMMARY) == 3  # bounded attempts, no tight loop
    assert len(limiter.pauses) == 3


async def test_long_retry_after_pauses_the_fleet_and_gives_up(
    upstream: ReplayServer, settings: Settings, http: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    fleet = RateLimiter(redis, "yahoo", settings.yahoo_max_rps)
    yahoo = YahooClient.from_settings(settings, http, limiter=fleet)
    upstream.inject(r"/v8/finance/chart/", Fault(429, b"Too Many Requests", {"Retry-After": "30"}))

    with pytest.raises(RateLimitedError) as caught:
        await yahoo.history("MSFT", start=START, end=END)

    assert caught.value.retry_after == 30  # the job runtime reschedules instead of holding a slot
    assert count(upstream, QUERY) == 1
    assert 25 < await fleet.paused_for() <= 30  # every worker now waits


async def test_no_fundamentals_is_not_found(upstream: ReplayServer, yahoo: YahooClient) -> None:
    with pytest.raises(NotFoundError, match="ADH: No fundamentals data found for any of the summaryTypes"):
        await yahoo.profile("ADH")
    assert [r.status for r in upstream.requests_to(QUERY, SUMMARY)] == [404]  # not retried


async def test_unknown_chart_symbol_is_not_found(upstream: ReplayServer, yahoo: YahooClient) -> None:
    error = {"code": "Not Found", "description": "No data found, symbol may be delisted"}
    body = {"chart": {"result": None, "error": error}}
    upstream.inject(r"/chart/ZZZZ", Fault(404, json.dumps(body).encode()))
    with pytest.raises(NotFoundError, match="ZZZZ: No data found, symbol may be delisted"):
        await yahoo.history("ZZZZ")


@pytest.mark.parametrize("symbol", ["../AAPL", "AAPL?x=1", "", "A" * 30, "AAPL/../x"])
async def test_bad_symbol_is_refused_before_any_request(
    upstream: ReplayServer, yahoo: YahooClient, symbol: str
) -> None:
    with pytest.raises(ValueError, match="symbol must be a Yahoo ticker"):
        await yahoo.history(symbol)
    assert upstream.log == []


async def test_bad_history_window_is_refused(yahoo: YahooClient) -> None:
    with pytest.raises(ValueError, match="start and end must be given together"):
        await yahoo.history("MSFT", start=date(2021, 1, 1))
    with pytest.raises(ValueError, match="must be before end"):
        await yahoo.history("MSFT", start=date(2021, 2, 1), end=date(2021, 1, 1))


# ---- results -------------------------------------------------------------------------------------


async def test_snapshot_is_one_request_with_exact_values(upstream: ReplayServer, yahoo: YahooClient) -> None:
    snap = await yahoo.snapshot("AAPL")

    p, m = snap.profile, snap.metrics
    assert (p.name, p.sector, p.industry, p.country, p.city) == (
        "Apple Inc.",
        "Technology",
        "Consumer Electronics",
        "United States",
        "Cupertino",
    )
    assert (p.employees, p.website) == (150000, "https://www.apple.com")
    assert (p.exchange, p.currency) == ("NasdaqGS", "USD")
    assert p.summary is not None and p.summary.startswith("Apple Inc. designs, manufactures")
    assert (m.price, m.market_cap, m.enterprise_value) == (245.55, 3688676720640, 3731694026752)
    assert (m.trailing_pe, m.forward_pe, m.price_to_book) == (38.91442, 29.548735, 55.328976)
    assert (m.gross_margin, m.operating_margin, m.profit_margin) == (0.46519002, 0.34459, 0.24295)
    assert (m.beta, m.dividend_yield, m.dividend_rate, m.payout_ratio) == (1.2, 0.0041, 1, 0.1571)
    assert (m.fifty_two_week_high, m.fifty_two_week_low) == (260.1, 164.08)
    assert m.debt_to_equity == pytest.approx(1.45)  # Yahoo's 145 (percent) as a ratio
    assert count(upstream, QUERY, SUMMARY) == 1


async def test_nvidia_split_is_already_applied_by_yahoo(upstream: ReplayServer, yahoo: YahooClient) -> None:
    history = await yahoo.history("NVDA", start=START, end=END)

    assert history.splits == [Split(date=date(2021, 7, 20), numerator=4, denominator=1, ratio="4:1")]
    assert history.splits[0].factor == 4
    assert len(history.bars) == 252 and history.interval == "1d" and history.currency == "USD"
    by_day = {bar.date: bar for bar in history.bars}
    before, on = by_day[date(2021, 7, 19)], by_day[date(2021, 7, 20)]
    assert (before.open, before.close, before.volume) == (17.915250778198242, 18.77975082397461, 749060000)
    assert (on.open, on.close, on.adj_close, on.volume) == (
        18.729999542236328,
        18.61199951171875,
        18.575544357299805,
        434687000,
    )
    # Continuous across the split day: Yahoo back-adjusted the earlier bars (here by 4 for 2021
    # and by 10 more for the 2024 split), so no 4x drop appears and nothing must be re-applied.
    assert on.open is not None and 0.9 < on.open / before.close < 1.1
    first = history.bars[0]
    assert (first.date, first.open, first.close, first.adj_close) == (
        date(2021, 2, 1),
        13.053250312805176,
        13.237000465393066,
        13.2034912109375,
    )


async def test_unapplied_split_is_applied(upstream: ReplayServer, yahoo: YahooClient) -> None:
    adjusted = recorded_body(NVDA)
    raw = copy.deepcopy(adjusted)  # what Yahoo serves for a day or two after a fresh split
    result = raw["chart"]["result"][0]
    quote, adj = result["indicators"]["quote"][0], result["indicators"]["adjclose"][0]["adjclose"]
    split_at = 1626787800
    for i, stamp in enumerate(result["timestamp"]):
        if stamp < split_at:
            for key in ("open", "high", "low", "close"):
                quote[key][i] *= 4
            adj[i] *= 4
            quote["volume"][i] //= 4
    upstream.inject(r"/chart/NVDA", Fault(200, json.dumps(raw).encode(), JSON))

    repaired = await yahoo.history("NVDA", start=START, end=END)

    assert repaired.bars == parse_chart("NVDA", adjusted).bars


async def test_microsoft_dividends_and_adjusted_close(upstream: ReplayServer, yahoo: YahooClient) -> None:
    history = await yahoo.history("MSFT", start=START, end=END)

    assert history.dividends == [
        Dividend(date=date(2021, 2, 17), amount=0.56),
        Dividend(date=date(2021, 5, 19), amount=0.56),
        Dividend(date=date(2021, 8, 18), amount=0.56),
        Dividend(date=date(2021, 11, 17), amount=0.62),
    ]
    assert history.splits == []
    first = history.bars[0]
    assert (first.date, first.open, first.high, first.low, first.close, first.adj_close, first.volume) == (
        date(2021, 2, 1),
        235.05999755859375,
        242.5,
        232.42999267578125,
        239.64999389648438,
        231.1864776611328,
        33314200,
    )
    # Yahoo's adjclose = our window-local dividend adjustment x one constant (the dividends
    # Microsoft paid after January 2022, which Yahoo has applied too).
    ours = dividend_adjusted_closes(history.bars, history.dividends)
    ratios = [bar.adj_close / mine for bar, mine in zip(history.bars, ours, strict=True) if bar.adj_close]
    assert len(ratios) == 252
    assert max(ratios) / min(ratios) - 1 < 1e-6  # float32 noise only
    assert ratios[0] == pytest.approx(0.97277, abs=1e-5)


async def test_adj_close_computed_when_yahoo_omits_it(upstream: ReplayServer, yahoo: YahooClient) -> None:
    body = recorded_body(MSFT)
    del body["chart"]["result"][0]["indicators"]["adjclose"]
    upstream.inject(r"/chart/MSFT", Fault(200, json.dumps(body).encode(), JSON))

    bars = (await yahoo.history("MSFT", start=START, end=END)).bars

    assert bars[-1].adj_close == bars[-1].close  # relative to the end of the window
    by_day = {bar.date: bar for bar in bars}
    before, ex = by_day[date(2021, 5, 18)], by_day[date(2021, 5, 19)]
    factor_before = before.adj_close / before.close  # type: ignore[operator]
    factor_ex = ex.adj_close / ex.close  # type: ignore[operator]
    assert factor_before / factor_ex == pytest.approx(1 - 0.56 / 243.0800018310547, rel=1e-12)


# ---- tolerant parsing ----------------------------------------------------------------------------


def test_numbers_raw_or_plain_or_garbage() -> None:
    assert yahoo_number({"raw": 1.5, "fmt": "1.50"}) == 1.5
    assert yahoo_number(2) == 2.0 and yahoo_number("3.25") == 3.25
    for value in (None, {}, {"fmt": "1.5"}, "Infinity", "NaN", "n/a", True, [1], float("inf")):
        assert yahoo_number(value) is None, value


def test_metrics_from_raw_objects_equal_plain_numbers() -> None:
    plain = {
        "summaryDetail": {"trailingPE": 38.91442, "beta": 1.2, "marketCap": 3688676720640},
        "financialData": {"profitMargins": 0.24295, "debtToEquity": 145},
    }
    wrapped = {
        module: {k: {"raw": v, "fmt": str(v)} for k, v in values.items()} for module, values in plain.items()
    }
    assert parse_metrics("AAPL", wrapped) == parse_metrics("AAPL", plain)
    m = parse_metrics("AAPL", plain)
    assert (m.trailing_pe, m.beta, m.market_cap, m.profit_margin, m.debt_to_equity) == (
        38.91442,
        1.2,
        3688676720640,
        0.24295,
        1.45,
    )


def test_missing_modules_and_keys_are_none() -> None:
    modules: dict[str, Any] = {
        "summaryDetail": {"trailingPE": "Infinity", "forwardPE": {}},
        "defaultKeyStatistics": {"forwardPE": 29.8},
        "price": None,
        "assetProfile": {"sector": "", "fullTimeEmployees": None},
    }
    m = parse_metrics("X", modules)
    assert m.trailing_pe is None and m.forward_pe == 29.8  # falls back to the other module
    assert m.market_cap is None and m.currency is None and m.beta is None
    p = parse_profile("X", modules)
    assert (p.symbol, p.name, p.sector, p.employees, p.website) == ("X", None, None, None, None)
    assert parse_profile("X", {}).model_dump(exclude={"symbol"}) == dict.fromkeys(
        p.model_dump(exclude={"symbol"})
    )


def test_chart_with_null_rows_and_missing_series() -> None:
    body = {
        "chart": {
            "result": [
                {
                    "meta": {"symbol": "X", "exchangeTimezoneName": "America/New_York"},
                    "timestamp": [1612189800, 1612276200, 1612362600],
                    "indicators": {
                        "quote": [
                            {"open": [1, None, 3], "close": [1.5, None, 3.5], "volume": [10, None, None]}
                        ]
                    },
                }
            ],
            "error": None,
        }
    }
    history = parse_chart("X", body)
    assert [(b.date, b.open, b.high, b.close, b.volume) for b in history.bars] == [
        (date(2021, 2, 1), 1.0, None, 1.5, 10),
        (date(2021, 2, 3), 3.0, None, 3.5, None),
    ]
    assert [b.adj_close for b in history.bars] == [1.5, 3.5]  # no dividends: adj_close = close
    assert parse_chart("X", {"chart": {"result": [{"meta": {}}], "error": None}}).bars == []


# ---- plumbing ------------------------------------------------------------------------------------


def test_mirror_rewriter_maps_real_hosts_into_the_mirror(settings: Settings) -> None:
    rewrite = mirror_rewriter("http://127.0.0.1:9/")
    assert rewrite("https://consent.yahoo.com/v2/collectConsent?sessionId=1") == (
        "http://127.0.0.1:9/consent.yahoo.com/v2/collectConsent?sessionId=1"
    )
    assert rewrite("https://fc.yahoo.com") == "http://127.0.0.1:9/fc.yahoo.com/"


async def test_malformed_shared_session_is_ignored(redis: aioredis.Redis) -> None:
    await redis.hset(keys.yahoo_session(), mapping={"cookie": "A3=x", "crumb": "<html>"})  # type: ignore[misc]
    assert await RedisSessionStore(redis).load() is None
    store = MemorySessionStore()
    assert await store.load() is None
