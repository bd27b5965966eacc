"""XBRL financial data: SEC's companyfacts/companyconcept/frames APIs.

:class:`XbrlClient` fetches through an :class:`~acquire.sources.sec.edgar.EdgarClient` (the same
fleet-wide limiter and cache). Choosing standardised metrics from company facts is
:mod:`acquire.sources.sec.xbrl_metrics` (re-exported here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from acquire.models import Metric
from acquire.sources.sec.edgar import EdgarClient
from acquire.sources.sec.xbrl_metrics import (
    CATALOGUE,
    MetricResult,
    MetricSpec,
    MetricValue,
    Period,
    extract_metric,
)

__all__ = [
    "CATALOGUE",
    "CompanyFacts",
    "Concept",
    "Fact",
    "Frame",
    "FrameRow",
    "MetricResult",
    "MetricSpec",
    "MetricValue",
    "XbrlClient",
    "extract_metric",
]

_TAXONOMY = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,200}$")
_UNIT = re.compile(r"^[A-Za-z][A-Za-z0-9/_-]{0,40}$")
_FRAME = re.compile(r"^CY[0-9]{4}(Q[1-4])?I?$")


class Fact(BaseModel):
    """One reported fact as SEC's APIs return it."""

    start: date | None = None
    end: date
    val: int | float
    accn: str
    fy: int | None = None
    fp: str | None = None
    form: str | None = None
    filed: date | None = None
    frame: str | None = None


class Concept(BaseModel):
    """``companyconcept``: one tag's facts for one company, by unit."""

    cik: int
    taxonomy: str
    tag: str
    label: str | None = None
    description: str | None = None
    entity_name: str | None = Field(None, alias="entityName")
    units: dict[str, list[Fact]] = Field(default_factory=dict)


class FrameRow(BaseModel):
    accn: str
    cik: int
    entity_name: str | None = Field(None, alias="entityName")
    loc: str | None = None
    start: date | None = None
    end: date
    val: int | float


class Frame(BaseModel):
    """``frames``: one tag for every company, for one calendar period."""

    taxonomy: str
    tag: str
    ccp: str
    uom: str
    label: str | None = None
    description: str | None = None
    pts: int | None = None
    data: list[FrameRow] = Field(default_factory=list)


class CompanyFacts(BaseModel):
    """``companyfacts``: every fact of a company. ``raw`` is the JSON (for :func:`extract_metric`)."""

    cik: int
    entity_name: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)

    def metric(self, metric: Metric | str, years: Iterable[int], period: Period = "annual") -> MetricResult:
        return extract_metric(self.raw, metric, years, period)

    def tags(self, taxonomy: str = "us-gaap") -> list[str]:
        return sorted((self.raw.get("facts") or {}).get(taxonomy) or {})


def _check(pattern: re.Pattern[str], name: str, value: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"invalid XBRL {name} {value!r}")
    return value


class XbrlClient:
    """SEC's XBRL APIs on an :class:`~acquire.sources.sec.edgar.EdgarClient` (same limiter and cache)."""

    def __init__(self, edgar: EdgarClient) -> None:
        self.edgar = edgar

    async def company_facts(self, company: str | int) -> CompanyFacts:
        cik = await self.edgar.cik(company)
        data = await self.edgar.get_json(f"{self.edgar.data}/api/xbrl/companyfacts/CIK{cik:010d}.json")
        return CompanyFacts(cik=cik, entity_name=data.get("entityName"), raw=data)

    async def company_concept(self, company: str | int, taxonomy: str, tag: str) -> Concept:
        cik = await self.edgar.cik(company)
        url = (
            f"{self.edgar.data}/api/xbrl/companyconcept/CIK{cik:010d}/"
            f"{_check(_TAXONOMY, 'taxonomy', taxonomy)}/{_check(_TAG, 'tag', tag)}.json"
        )
        return Concept.model_validate(await self.edgar.get_json(url))

    async def frame(self, taxonomy: str, tag: str, unit: str, period: str) -> Frame:
        """E.g. ``frame("us-gaap", "Revenues", "USD", "CY2024")``; instants end in ``I``."""
        unit_path = _check(_UNIT, "unit", unit).replace("/", "-per-")
        url = (
            f"{self.edgar.data}/api/xbrl/frames/{_check(_TAXONOMY, 'taxonomy', taxonomy)}/"
            f"{_check(_TAG, 'tag', tag)}/{unit_path}/{_check(_FRAME, 'period', period)}.json"
        )
        return Frame.model_validate(await self.edgar.get_json(url))

    async def metrics(
        self,
        company: str | int,
        metrics: Iterable[Metric | str],
        years: Iterable[int],
        period: Period = "annual",
    ) -> dict[str, MetricResult]:
        """Several metrics from one companyfacts download."""
        facts = await self.company_facts(company)
        wanted = list(years)
        return {str(m): facts.metric(m, wanted, period) for m in metrics}

    async def metric(
        self, company: str | int, metric: Metric | str, years: Iterable[int], period: Period = "annual"
    ) -> MetricResult:
        return (await self.metrics(company, [metric], years, period))[str(metric)]
