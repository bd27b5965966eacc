"""The result of a ``yahoo`` job: per company, the parts asked for (profile, metrics, history)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from acquire.models import JobKind, YahooPart
from acquire.results.base import CompanyItem, ResultModel
from acquire.sources.yahoo.models import CompanyProfile, KeyMetrics, PriceHistory

__all__ = ["YahooCompanyResult", "YahooResult"]


class YahooCompanyResult(CompanyItem):
    """One company's parts; a part that failed is absent and its error is in ``errors``."""

    profile: CompanyProfile | None = None
    metrics: KeyMetrics | None = None
    history: PriceHistory | None = None
    errors: dict[YahooPart, str] = Field(default_factory=dict, description="Error per part that failed.")


class YahooResult(ResultModel):
    """Every requested company, in key order, with its state and parts."""

    kind: Literal[JobKind.YAHOO] = JobKind.YAHOO
    companies: list[YahooCompanyResult]
