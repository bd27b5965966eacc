"""Parsers that build the Yahoo Finance models (:mod:`acquire.sources.yahoo.models`) from Yahoo's JSON.

Yahoo's payloads are loose: any field may be missing, ``null``, ``{}``, a plain number or a
``{"raw": 1.5, "fmt": "1.50"}`` object (depending on ``formatted``), or even the string
``"Infinity"``. The parsers here never crash on that: a value that is not a finite number is
``None``. Only a payload without the expected envelope is a :class:`~acquire.errors.PermanentError`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from acquire.errors import PermanentError
from acquire.sources.yahoo.models import (
    CompanyProfile,
    Dividend,
    KeyMetrics,
    PriceBar,
    PriceHistory,
    Split,
)

__all__ = ["dividend_adjusted_closes", "parse_chart", "parse_metrics", "parse_profile", "yahoo_number"]

log = logging.getLogger("acquire.sources.yahoo.client")

# A split is only checked for a missing adjustment when it is big enough that a real
# overnight move of that size is implausible (a 5% stock dividend is not).
_MIN_CHECKED_SPLIT = 1.5


def yahoo_number(value: Any) -> float | None:
    """A finite number from a plain value or ``{"raw": ...}``; ``None`` for anything else."""
    if isinstance(value, Mapping):
        value = value.get("raw")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = yahoo_number(value)
    return round(number) if number is not None else None


def _text(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("raw", value.get("fmt"))
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _module(modules: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = modules.get(name)
    return value if isinstance(value, Mapping) else {}


# ---- quoteSummary ----------------------------------------------------------------------------


def parse_profile(symbol: str, modules: Mapping[str, Any]) -> CompanyProfile:
    """The profile from quoteSummary modules (``assetProfile``/``summaryProfile``, ``price``)."""
    profile = _module(modules, "assetProfile") or _module(modules, "summaryProfile")
    price = _module(modules, "price")
    quote_type = _module(modules, "quoteType")
    return CompanyProfile(
        symbol=symbol,
        name=_text(price.get("longName"))
        or _text(quote_type.get("longName"))
        or _text(price.get("shortName")),
        sector=_text(profile.get("sector")),
        industry=_text(profile.get("industry")),
        country=_text(profile.get("country")),
        city=_text(profile.get("city")),
        employees=_int(profile.get("fullTimeEmployees")),
        website=_text(profile.get("website")),
        summary=_text(profile.get("longBusinessSummary")),
        exchange=_text(price.get("exchangeName")),
        currency=_text(price.get("currency")),
    )


def parse_metrics(symbol: str, modules: Mapping[str, Any]) -> KeyMetrics:
    """Key metrics from ``price``, ``summaryDetail``, ``financialData``, ``defaultKeyStatistics``."""
    price, detail = _module(modules, "price"), _module(modules, "summaryDetail")
    fin, stats = _module(modules, "financialData"), _module(modules, "defaultKeyStatistics")

    def n(module: Mapping[str, Any], key: str) -> float | None:
        return yahoo_number(module.get(key))

    debt_to_equity = n(fin, "debtToEquity")
    return KeyMetrics(
        symbol=symbol,
        currency=_text(price.get("currency")) or _text(detail.get("currency")),
        price=_first(n(price, "regularMarketPrice"), n(fin, "currentPrice")),
        market_cap=_first(n(price, "marketCap"), n(detail, "marketCap")),
        enterprise_value=n(stats, "enterpriseValue"),
        trailing_pe=n(detail, "trailingPE"),
        forward_pe=_first(n(detail, "forwardPE"), n(stats, "forwardPE")),
        price_to_book=n(stats, "priceToBook"),
        price_to_sales=n(detail, "priceToSalesTrailing12Months"),
        trailing_eps=n(stats, "trailingEps"),
        forward_eps=n(stats, "forwardEps"),
        revenue=n(fin, "totalRevenue"),
        revenue_growth=n(fin, "revenueGrowth"),
        earnings_growth=n(fin, "earningsGrowth"),
        gross_margin=n(fin, "grossMargins"),
        operating_margin=n(fin, "operatingMargins"),
        profit_margin=_first(n(fin, "profitMargins"), n(stats, "profitMargins")),
        ebitda_margin=n(fin, "ebitdaMargins"),
        return_on_equity=n(fin, "returnOnEquity"),
        return_on_assets=n(fin, "returnOnAssets"),
        total_cash=n(fin, "totalCash"),
        total_debt=n(fin, "totalDebt"),
        debt_to_equity=debt_to_equity / 100 if debt_to_equity is not None else None,
        current_ratio=n(fin, "currentRatio"),
        free_cash_flow=n(fin, "freeCashflow"),
        beta=_first(n(detail, "beta"), n(stats, "beta")),
        dividend_rate=n(detail, "dividendRate"),
        dividend_yield=n(detail, "dividendYield"),
        payout_ratio=n(detail, "payoutRatio"),
        fifty_two_week_high=n(detail, "fiftyTwoWeekHigh"),
        fifty_two_week_low=n(detail, "fiftyTwoWeekLow"),
        shares_outstanding=n(stats, "sharesOutstanding"),
    )


# ---- chart -----------------------------------------------------------------------------------


def _zone(meta: Mapping[str, Any]) -> tzinfo:
    name = _text(meta.get("exchangeTimezoneName"))
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    # gmtoffset is the offset *now*, so it can be an hour off across DST; still the right
    # day for bars stamped at the market open.
    return timezone(timedelta(seconds=_int(meta.get("gmtoffset")) or 0))


def _day(timestamp: Any, zone: tzinfo) -> date | None:
    seconds = yahoo_number(timestamp)
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).astimezone(zone).date()


def _series(container: Any, key: str, size: int) -> list[Any]:
    # indicators.quote / indicators.adjclose are one-element lists of {name: [values]}.
    if isinstance(container, list) and container and isinstance(container[0], Mapping):
        values = container[0].get(key)
        if isinstance(values, list) and len(values) == size:
            return values
    return [None] * size


def dividend_adjusted_closes(bars: Sequence[PriceBar], dividends: Sequence[Dividend]) -> list[float]:
    """Closes adjusted for the dividends in the window, relative to the last bar (factor 1).

    The same multiplicative method as Yahoo's ``adjclose``: each dividend going ex on a bar's
    date scales every earlier close by ``1 - amount / previous close``.
    """
    by_date = sorted(dividends, key=lambda d: d.date)
    adjusted = [0.0] * len(bars)
    factor = 1.0
    pending = len(by_date) - 1
    for i in range(len(bars) - 1, -1, -1):
        adjusted[i] = bars[i].close * factor
        if i == 0:
            break
        # Dividends going ex after the previous bar and on or before this one.
        while pending >= 0 and by_date[pending].date > bars[i].date:
            pending -= 1
        while pending >= 0 and by_date[pending].date > bars[i - 1].date:
            factor *= 1 - by_date[pending].amount / bars[i - 1].close
            pending -= 1
    return adjusted


def _scaled(bar: PriceBar, factor: float) -> PriceBar:
    def scale(value: float | None) -> float | None:
        return value / factor if value is not None else None

    return bar.model_copy(
        update={
            "open": scale(bar.open),
            "high": scale(bar.high),
            "low": scale(bar.low),
            "close": bar.close / factor,
            "adj_close": scale(bar.adj_close),
            "volume": round(bar.volume * factor) if bar.volume is not None else None,
        }
    )


def _repair_splits(symbol: str, bars: list[PriceBar], splits: Sequence[Split]) -> list[PriceBar]:
    """Apply a split Yahoo has not yet applied to the bars before it (a known Yahoo glitch for
    fresh splits): the price jump across the split day then matches the split factor."""
    for split in splits:
        factor = split.factor
        if factor <= 0 or abs(math.log(factor)) < math.log(_MIN_CHECKED_SPLIT):
            continue
        k = next((i for i, bar in enumerate(bars) if bar.date >= split.date), None)
        if not k:  # the split is before the first bar, at it, or after the last: nothing to compare
            continue
        after = bars[k].open or bars[k].close
        move = bars[k - 1].close / after
        if move <= 0 or abs(math.log(move) - math.log(factor)) >= abs(math.log(move)):
            continue  # closer to "no jump" than to the split factor: already adjusted
        log.warning(
            "%s: Yahoo has not applied the %s split of %s; applying it", symbol, split.ratio, split.date
        )
        bars[:k] = [_scaled(bar, factor) for bar in bars[:k]]
    return bars


def parse_chart(symbol: str, payload: Any) -> PriceHistory:
    """A :class:`PriceHistory` from a v8 chart response body (``chart.result[0]``)."""
    chart = payload.get("chart") if isinstance(payload, Mapping) else None
    results = chart.get("result") if isinstance(chart, Mapping) else None
    if not isinstance(results, list) or not results or not isinstance(results[0], Mapping):
        raise PermanentError(f"Yahoo chart for {symbol}: no chart.result in the response")
    result = results[0]
    meta = _module(result, "meta")
    zone = _zone(meta)
    stamps = result.get("timestamp")
    stamps = stamps if isinstance(stamps, list) else []
    indicators = _module(result, "indicators")
    quote = indicators.get("quote")
    opens, highs, lows, closes, volumes = (
        _series(quote, key, len(stamps)) for key in ("open", "high", "low", "close", "volume")
    )
    adjcloses = _series(indicators.get("adjclose"), "adjclose", len(stamps))

    bars: list[PriceBar] = []
    for i, stamp in enumerate(stamps):
        day, close = _day(stamp, zone), yahoo_number(closes[i])
        if day is None or close is None:
            continue  # Yahoo's null rows (halts, half-built current bar) carry no price
        if bars and bars[-1].date == day:
            bars.pop()  # the live bar repeats the last day while the market is open
        bars.append(
            PriceBar(
                date=day,
                open=yahoo_number(opens[i]),
                high=yahoo_number(highs[i]),
                low=yahoo_number(lows[i]),
                close=close,
                adj_close=yahoo_number(adjcloses[i]),
                volume=_int(volumes[i]),
            )
        )

    events = _module(result, "events")
    dividends = sorted(
        (
            Dividend(date=day, amount=amount)
            for event in _module(events, "dividends").values()
            if isinstance(event, Mapping)
            and (day := _day(event.get("date"), zone)) is not None
            and (amount := yahoo_number(event.get("amount"))) is not None
        ),
        key=lambda d: d.date,
    )
    splits = sorted(
        (
            Split(
                date=day,
                numerator=num,
                denominator=den,
                ratio=_text(event.get("splitRatio")) or f"{num:g}:{den:g}",
            )
            for event in _module(events, "splits").values()
            if isinstance(event, Mapping)
            and (day := _day(event.get("date"), zone)) is not None
            and (num := yahoo_number(event.get("numerator")))
            and (den := yahoo_number(event.get("denominator")))
        ),
        key=lambda s: s.date,
    )

    bars = _repair_splits(symbol, bars, splits)
    if bars and all(bar.adj_close is None for bar in bars):
        # No adjclose series at all (Yahoo omits it for some requests): compute it from the
        # window's dividends. A partial series is kept as is: mixing the two bases would not be.
        computed = dividend_adjusted_closes(bars, dividends)
        bars = [bar.model_copy(update={"adj_close": adj}) for bar, adj in zip(bars, computed, strict=True)]
    return PriceHistory(
        symbol=_text(meta.get("symbol")) or symbol,
        currency=_text(meta.get("currency")),
        interval=_text(meta.get("dataGranularity")) or "1d",
        timezone=_text(meta.get("exchangeTimezoneName")),
        bars=bars,
        dividends=dividends,
        splits=splits,
    )
