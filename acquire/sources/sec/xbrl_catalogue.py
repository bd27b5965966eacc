"""The catalogue of standardised XBRL metrics: candidate tags, units and period type.

Companies switch tags between years (Apple's revenue is ``SalesRevenueNet`` until 2017,
``RevenueFromContractWithCustomerExcludingAssessedTax`` from 2018), so each metric lists its
candidates in order of preference; :func:`acquire.sources.sec.xbrl_metrics.extract_metric` uses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from acquire.models import METRICS, Metric

__all__ = ["CATALOGUE", "MetricSpec"]


class MetricSpec(BaseModel):
    """How one standardised metric is found in XBRL facts."""

    model_config = ConfigDict(frozen=True)

    name: Metric
    label: str
    tags: tuple[str, ...] = Field(description='Candidate "taxonomy:Tag" names, preferred first.')
    units: tuple[str, ...]
    period_type: Literal["duration", "instant"]
    additive: bool = Field(True, description="Quarters sum to the year (false for per-share values).")


def _spec(
    name: Metric,
    label: str,
    tags: str,
    unit: str,
    period_type: Literal["duration", "instant"],
    additive: bool = True,
) -> MetricSpec:
    qualified = tuple(t if ":" in t else f"us-gaap:{t}" for t in tags.split())
    return MetricSpec(
        name=name, label=label, tags=qualified, units=(unit,), period_type=period_type, additive=additive
    )


#: The standardised metrics, exactly the names of :data:`acquire.models.METRICS`.
CATALOGUE: Mapping[Metric, MetricSpec] = {
    s.name: s
    for s in (
        _spec(
            "revenue",
            "Revenue",
            "RevenueFromContractWithCustomerExcludingAssessedTax Revenues "
            "SalesRevenueNet RevenueFromContractWithCustomerIncludingAssessedTax SalesRevenueGoodsNet "
            "RevenuesNetOfInterestExpense",
            "USD",
            "duration",
        ),
        _spec(
            "cost_of_revenue",
            "Cost of revenue",
            "CostOfRevenue CostOfGoodsAndServicesSold "
            "CostOfGoodsSold CostOfGoodsAndServiceExcludingDepreciationDepletionAndAmortization",
            "USD",
            "duration",
        ),
        _spec("gross_profit", "Gross profit", "GrossProfit", "USD", "duration"),
        _spec("operating_income", "Operating income", "OperatingIncomeLoss", "USD", "duration"),
        _spec(
            "net_income",
            "Net income",
            "NetIncomeLoss NetIncomeLossAvailableToCommonStockholdersBasic ProfitLoss",
            "USD",
            "duration",
        ),
        _spec(
            "eps_basic",
            "EPS (basic)",
            "EarningsPerShareBasic EarningsPerShareBasicAndDiluted",
            "USD/shares",
            "duration",
            additive=False,
        ),
        _spec(
            "eps_diluted",
            "EPS (diluted)",
            "EarningsPerShareDiluted EarningsPerShareBasicAndDiluted",
            "USD/shares",
            "duration",
            additive=False,
        ),
        _spec("total_assets", "Total assets", "Assets", "USD", "instant"),
        _spec("total_liabilities", "Total liabilities", "Liabilities", "USD", "instant"),
        _spec(
            "stockholders_equity",
            "Stockholders' equity",
            "StockholdersEquity StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
            "USD",
            "instant",
        ),
        _spec(
            "cash_and_equivalents",
            "Cash and cash equivalents",
            "CashAndCashEquivalentsAtCarryingValue "
            "CashCashEquivalentsRestrictedCashAndRestrictedCashEquivalents Cash",
            "USD",
            "instant",
        ),
        _spec(
            "operating_cash_flow",
            "Operating cash flow",
            "NetCashProvidedByUsedInOperatingActivities "
            "NetCashProvidedByUsedInOperatingActivitiesContinuingOperations",
            "USD",
            "duration",
        ),
        _spec(
            "capital_expenditure",
            "Capital expenditure",
            "PaymentsToAcquirePropertyPlantAndEquipment PaymentsToAcquireProductiveAssets",
            "USD",
            "duration",
        ),
        _spec(
            "shares_outstanding",
            "Shares outstanding",
            "CommonStockSharesOutstanding dei:EntityCommonStockSharesOutstanding",
            "shares",
            "instant",
            additive=False,
        ),
    )
}
if tuple(CATALOGUE) != METRICS:  # pragma: no cover - a programming error caught at import
    raise RuntimeError("the XBRL catalogue must cover exactly acquire.models.METRICS")
