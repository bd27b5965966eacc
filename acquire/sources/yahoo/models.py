"""Typed results of the Yahoo Finance source (built by :mod:`acquire.sources.yahoo.parse`).

Price conventions (verified against the recorded NVIDIA 4:1 split of 2021-07-20 and
Microsoft's 2021 dividends):

- ``open``/``high``/``low``/``close`` and ``volume`` are **split-adjusted**: Yahoo back-adjusts
  the whole series for every split up to the moment of the request, including splits after
  the requested window (NVIDIA's 2021 prices come back divided by 4 *and* by 10 for the 2024
  split). The series is therefore continuous across a split day.
- ``adj_close`` is additionally **dividend-adjusted**, multiplicatively: a dividend of ``D``
  going ex on day ``t`` scales every earlier price by ``1 - D / close[t-1]``. Yahoo's own
  ``adjclose`` also reflects dividends after the window, so it differs from a window-local
  computation (:func:`~acquire.sources.yahoo.parse.dividend_adjusted_closes`) by one constant
  factor.
- Dividend amounts are per share on the same split-adjusted basis.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CompanyProfile",
    "CompanySnapshot",
    "Dividend",
    "KeyMetrics",
    "PriceBar",
    "PriceHistory",
    "Split",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CompanyProfile(_Model):
    """Who the company is (``assetProfile``, falling back to ``summaryProfile``, plus ``price``)."""

    symbol: str
    name: str | None = None
    sector: str | None = None
    industry: str | None = None
    country: str | None = None
    city: str | None = None
    employees: int | None = None
    website: str | None = None
    summary: str | None = None
    exchange: str | None = None
    currency: str | None = None


class KeyMetrics(_Model):
    """Valuation, profitability and trading metrics. Ratios and margins are fractions
    (0.24 = 24 %); ``debt_to_equity`` too (Yahoo reports it in percent; it is divided by 100)."""

    symbol: str
    currency: str | None = None
    price: float | None = None
    market_cap: float | None = None
    enterprise_value: float | None = None
    trailing_pe: float | None = None
    forward_pe: float | None = None
    price_to_book: float | None = None
    price_to_sales: float | None = None
    trailing_eps: float | None = None
    forward_eps: float | None = None
    revenue: float | None = None
    revenue_growth: float | None = None
    earnings_growth: float | None = None
    gross_margin: float | None = None
    operating_margin: float | None = None
    profit_margin: float | None = None
    ebitda_margin: float | None = None
    return_on_equity: float | None = None
    return_on_assets: float | None = None
    total_cash: float | None = None
    total_debt: float | None = None
    debt_to_equity: float | None = None
    current_ratio: float | None = None
    free_cash_flow: float | None = None
    beta: float | None = None
    dividend_rate: float | None = None
    dividend_yield: float | None = None
    payout_ratio: float | None = None
    fifty_two_week_high: float | None = None
    fifty_two_week_low: float | None = None
    shares_outstanding: float | None = None


class CompanySnapshot(_Model):
    """Profile and metrics from one quoteSummary request."""

    profile: CompanyProfile
    metrics: KeyMetrics


class PriceBar(_Model):
    """One bar; prices split-adjusted, ``adj_close`` also dividend-adjusted (module docstring)."""

    date: date
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float
    adj_close: float | None = None
    volume: int | None = None


class Dividend(_Model):
    """A cash dividend per share, by ex-dividend date (exchange-local)."""

    date: date
    amount: float


class Split(_Model):
    """A stock split: ``numerator`` new shares for every ``denominator`` old ones (4:1)."""

    date: date
    numerator: float
    denominator: float
    ratio: str

    @property
    def factor(self) -> float:
        """How many shares one old share became (4.0 for 4:1, 0.1 for a 1:10 reverse split)."""
        return self.numerator / self.denominator


class PriceHistory(_Model):
    """Bars oldest first, with the window's dividends and splits."""

    symbol: str
    currency: str | None = None
    interval: str
    timezone: str | None = None
    bars: list[PriceBar] = Field(default_factory=list)
    dividends: list[Dividend] = Field(default_factory=list)
    splits: list[Split] = Field(default_factory=list)


# ---- value helpers -------------------------------------------------------------------------
