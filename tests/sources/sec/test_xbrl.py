"""Standardised XBRL metrics against the recorded Apple and NVIDIA companyfacts, and the client."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
import redis.asyncio as aioredis

from acquire.http.cache import RedisCache
from acquire.http.ratelimit import RateLimiter
from acquire.models import METRICS
from acquire.settings import Settings
from acquire.sources.sec.edgar import EdgarClient
from acquire.sources.sec.xbrl import CATALOGUE, XbrlClient, extract_metric
from acquire.testing.replay import Fault, ReplayServer
from tests.conftest import FIXTURES as TEST_FIXTURES

FACTS = TEST_FIXTURES / "sec/data.sec.gov/api/xbrl/companyfacts"


def load(cik: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(gzip.decompress((FACTS / f"CIK{cik:010d}.json.gz").read_bytes()))
    return data


APPLE = load(320193)
NVIDIA = load(1045810)


def annual(facts: dict[str, Any], metric: str, year: int) -> int | float:
    value = extract_metric(facts, metric, [year]).get(year)
    assert value is not None, f"{metric} FY{year} not found"
    return value.value


def test_catalogue_covers_exactly_the_metrics() -> None:
    assert tuple(CATALOGUE) == METRICS
    revenue = CATALOGUE["revenue"]
    assert revenue.tags[:3] == (
        "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax",
        "us-gaap:Revenues",
        "us-gaap:SalesRevenueNet",
    )
    assert CATALOGUE["total_assets"].period_type == "instant"
    assert CATALOGUE["eps_diluted"].units == ("USD/shares",) and not CATALOGUE["eps_diluted"].additive
    assert CATALOGUE["shares_outstanding"].units == ("shares",)


def test_known_answers() -> None:
    assert annual(APPLE, "revenue", 2024) == 391_035_000_000
    assert annual(APPLE, "net_income", 2024) == 93_736_000_000
    assert annual(NVIDIA, "revenue", 2025) == 130_497_000_000


# Values read by hand from the companyfacts JSON (tests/fixtures/sec/data.sec.gov/api/xbrl/
# companyfacts/CIK##########.json.gz): facts.us-gaap.<Tag>.units.<unit>[] where start/end match.
READ_BY_HAND: list[tuple[dict[str, Any], str, int, int | float]] = [
    # Apple RevenueFromContractWithCustomerExcludingAssessedTax 2022-09-25..2023-09-30,
    # accn 0000320193-23-000106
    (APPLE, "revenue", 2023, 383_285_000_000),
    # Apple SalesRevenueNet 2016-09-25..2017-09-30 (10-K 0000320193-17-000070), re-tagged in the FY2019 10-K
    (APPLE, "revenue", 2017, 229_234_000_000),
    # Apple GrossProfit 2023-10-01..2024-09-28, accn 0000320193-24-000123
    (APPLE, "gross_profit", 2024, 180_683_000_000),
    # Apple EarningsPerShareDiluted (USD/shares) 2023-10-01..2024-09-28, accn 0000320193-24-000123
    (APPLE, "eps_diluted", 2024, 6.08),
    # Apple Assets, instant 2024-09-28, accn 0000320193-24-000123
    (APPLE, "total_assets", 2024, 364_980_000_000),
    # Apple CashAndCashEquivalentsAtCarryingValue, instant 2024-09-28
    (APPLE, "cash_and_equivalents", 2024, 29_943_000_000),
    # Apple NetCashProvidedByUsedInOperatingActivities 2023-10-01..2024-09-28
    (APPLE, "operating_cash_flow", 2024, 118_254_000_000),
    # NVIDIA Revenues 2023-01-30..2024-01-28, accn 0001045810-24-000029
    (NVIDIA, "revenue", 2024, 60_922_000_000),
    # NVIDIA NetIncomeLoss 2024-01-29..2025-01-26, accn 0001045810-25-000023
    (NVIDIA, "net_income", 2025, 72_880_000_000),
    # NVIDIA EarningsPerShareBasic (USD/shares) 2024-01-29..2025-01-26
    (NVIDIA, "eps_basic", 2025, 2.97),
    # NVIDIA Liabilities, instant 2025-01-26, accn 0001045810-25-000023
    (NVIDIA, "total_liabilities", 2025, 32_274_000_000),
    # NVIDIA StockholdersEquity, instant 2025-01-26
    (NVIDIA, "stockholders_equity", 2025, 79_327_000_000),
]


@pytest.mark.parametrize(("facts", "metric", "year", "expected"), READ_BY_HAND)
def test_values_read_by_hand(facts: dict[str, Any], metric: str, year: int, expected: float) -> None:
    assert annual(facts, metric, year) == expected


def test_fiscal_year_is_not_the_calendar_frame() -> None:
    value = extract_metric(NVIDIA, "revenue", [2025]).get(2025)
    assert value is not None
    assert (value.start, value.end) == (date(2024, 1, 29), date(2025, 1, 26))
    assert value.frame == "CY2024" and value.fiscal_year == 2025


def test_provenance_and_latest_filing_wins() -> None:
    value = extract_metric(APPLE, "revenue", [2024]).get(2024)
    assert value is not None
    assert value.tag == "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax"
    assert (value.accession, value.form, value.filed) == ("0000320193-25-000079", "10-K", date(2025, 10, 31))
    assert value.unit == "USD" and not value.derived
    # NVIDIA's FY2023 diluted EPS was 1.74 in its FY2023 10-K (accn 0001045810-23-000017) and
    # restated to 0.17 for the 10:1 split in the FY2025 10-K (accn 0001045810-25-000023).
    eps = extract_metric(NVIDIA, "eps_diluted", [2023]).get(2023)
    assert eps is not None and (eps.value, eps.accession) == (0.17, "0001045810-25-000023")
    # The same net income appears in a later DEF 14A: only annual reports count for FY values.
    net = extract_metric(NVIDIA, "net_income", [2025]).get(2025)
    assert net is not None and net.form == "10-K"


def test_tag_switch_between_years() -> None:
    result = extract_metric(APPLE, "revenue", [2009, 2018])
    assert [(v.fiscal_year, v.tag.split(":")[1]) for v in result.values] == [
        (2009, "SalesRevenueNet"),
        (2018, "RevenueFromContractWithCustomerExcludingAssessedTax"),
    ]
    assert result.get(2009) is not None and result.get(2009).value == 42_905_000_000  # type: ignore[union-attr]


def test_quarters_and_derived_fourth_quarter() -> None:
    result = extract_metric(APPLE, "revenue", [2025], "quarterly")
    assert result.status == "ok"
    q1 = result.get(2025, "Q1")
    # Apple RevenueFromContract... 2024-09-29..2024-12-28, 10-Q accn 0000320193-25-000008
    assert q1 is not None and (q1.value, q1.end) == (124_300_000_000, date(2024, 12, 28))
    q4 = result.get(2025, "Q4")
    fy = extract_metric(APPLE, "revenue", [2025]).get(2025)
    assert q4 is not None and fy is not None and q4.derived
    quarters = [result.get(2025, q) for q in ("Q1", "Q2", "Q3")]
    assert q4.value == fy.value - sum(v.value for v in quarters if v is not None)
    nvda_q3 = extract_metric(NVIDIA, "revenue", [2025], "quarterly").get(2025, "Q3")
    # NVIDIA Revenues 2024-07-29..2024-10-27 (10-Q accn 0001045810-24-000316)
    assert nvda_q3 is not None and nvda_q3.value == 35_082_000_000
    # Per-share values are not additive: no derived Q4, it is reported missing instead.
    eps = extract_metric(APPLE, "eps_diluted", [2024], "quarterly")
    assert eps.status == "partial" and eps.missing == ["FY2024Q4"]


def test_quarterly_instants_fall_on_quarter_ends() -> None:
    result = extract_metric(APPLE, "total_assets", [2024], "both")
    assert [(v.fiscal_period, v.end) for v in result.values] == [
        ("FY", date(2024, 9, 28)),
        ("Q1", date(2023, 12, 30)),
        ("Q2", date(2024, 3, 30)),
        ("Q3", date(2024, 6, 29)),
        ("Q4", date(2024, 9, 28)),
    ]


def test_not_reported_is_a_result_not_an_exception() -> None:
    nothing = extract_metric({"cik": 1, "facts": {}}, "revenue", [2024])
    assert (nothing.status, nothing.values, nothing.missing) == ("not_reported", [], ["FY2024"])
    assert nothing.tags_tried[0] == "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax"
    # NVIDIA tagged no capital expenditure for fiscal 2018 under any candidate tag.
    capex = extract_metric(NVIDIA, "capital_expenditure", [2018, 2025])
    assert capex.status == "partial" and capex.missing == ["FY2018"]
    assert capex.get(2025) is not None
    malformed = {"facts": {"us-gaap": {"Revenues": {"units": {"USD": [{"end": "bad", "val": "x"}]}}}}}
    assert extract_metric(malformed, "revenue", [2024]).status == "not_reported"
    with pytest.raises(ValueError, match="unknown metric"):
        extract_metric(APPLE, "ebitda", [2024])


@pytest.fixture
async def xbrl(
    settings: Settings, redis: aioredis.Redis, upstream: ReplayServer
) -> AsyncIterator[XbrlClient]:
    cache = RedisCache(redis, max_bytes=settings.sec_cache_max_bytes)
    limiter = RateLimiter(redis, "sec", settings.sec_max_rps)
    async with EdgarClient(settings, limiter=limiter, cache=cache, backoff_base=0.01) as edgar:
        yield XbrlClient(edgar)


async def test_client_company_facts_and_metrics(xbrl: XbrlClient, upstream: ReplayServer) -> None:
    facts = await xbrl.company_facts("AAPL")
    assert (facts.cik, facts.entity_name) == (320193, "Apple Inc.")
    assert "Assets" in facts.tags()
    results = await xbrl.metrics("AAPL", ["revenue", "net_income", "total_assets"], [2024])
    assert {m: r.values[0].value for m, r in results.items()} == {
        "revenue": 391_035_000_000,
        "net_income": 93_736_000_000,
        "total_assets": 364_980_000_000,
    }
    one = await xbrl.metric(1045810, "revenue", [2025])
    assert one.values[0].value == 130_497_000_000
    # One download per company: later calls are served by the cache.
    assert len(upstream.requests_to("data.sec.gov", "/api/xbrl/companyfacts/CIK0000320193")) == 1


async def test_client_concept_and_frame(xbrl: XbrlClient, upstream: ReplayServer) -> None:
    revenues = NVIDIA["facts"]["us-gaap"]["Revenues"]
    concept_body = {
        "cik": 1045810,
        "taxonomy": "us-gaap",
        "tag": "Revenues",
        "label": revenues.get("label"),
        "description": revenues.get("description"),
        "entityName": "NVIDIA CORP",
        "units": revenues["units"],
    }
    upstream.inject(r"/companyconcept/", Fault(200, json.dumps(concept_body).encode()))
    concept = await xbrl.company_concept("NVDA", "us-gaap", "Revenues")
    assert concept.entity_name == "NVIDIA CORP" and len(concept.units["USD"]) == len(revenues["units"]["USD"])
    frame_body = {
        "taxonomy": "us-gaap",
        "tag": "EarningsPerShareDiluted",
        "ccp": "CY2024",
        "uom": "USD/shares",
        "label": "EPS",
        "description": "",
        "pts": 1,
        "data": [
            {
                "accn": "0000320193-25-000079",
                "cik": 320193,
                "entityName": "Apple Inc.",
                "loc": "US-CA",
                "start": "2023-10-01",
                "end": "2024-09-28",
                "val": 6.08,
            }
        ],
    }
    upstream.inject(r"/frames/", Fault(200, json.dumps(frame_body).encode()))
    frame = await xbrl.frame("us-gaap", "EarningsPerShareDiluted", "USD/shares", "CY2024")
    assert frame.data[0].val == 6.08 and frame.data[0].cik == 320193
    paths = [r.path for r in upstream.requests_to("data.sec.gov", "/api/xbrl/")]
    assert paths == [
        "/api/xbrl/companyconcept/CIK0001045810/us-gaap/Revenues.json",
        "/api/xbrl/frames/us-gaap/EarningsPerShareDiluted/USD-per-shares/CY2024.json",
    ]
    with pytest.raises(ValueError, match="tag"):
        await xbrl.company_concept("NVDA", "us-gaap", "../../submissions/CIK0000320193")
    with pytest.raises(ValueError, match="period"):
        await xbrl.frame("us-gaap", "Revenues", "USD", "2024")
